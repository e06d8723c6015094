// The README's examples, run verbatim against a real wrangler dev: the token routes (Express
// and a Cloudflare Worker) in Node from the packed package, and the first onSnapshot example
// in headless Chromium, its `https://edge.example.com` mapped to the local edge behind TLS.
// The React example runs in tests/react.test.mjs (with the Express route's token), the Node
// one in tests/node.test.mjs.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { launchChromium } from "./support/browser.mjs";
import { startEdge } from "./support/edge.mjs";
import { expressTokenRoute, projectWithPackage, readmeBlock, workerTokenRoute } from "./support/readme.mjs";
import { DEMO, deliver, eventId, twinActorEvent } from "./support/sign.mjs";
import { makeCertificates, tlsProxy } from "./support/tls.mjs";
import { waitUntil } from "./support/wait.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const unique = (base) => base + Math.floor(Math.random() * 1000);

describe("the README's examples", () => {
  let edge;
  let dir;
  before(async () => {
    dir = projectWithPackage();
    edge = await startEdge();
  });
  after(async () => { await edge?.stop(); });

  /** Sends a Twin.Actor project event and checks it was stored. */
  async function sendProject(type, data) {
    const res = await deliver(edge, ...TWIN, twinActorEvent(type, data));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  const docs = async (path, token) => {
    const res = await fetch(`${edge.url}/docs/${path}?token=${token}`);
    return { status: res.status, body: await res.json() };
  };

  it("the Express route mints an owner-scoped token that reads the user's own projects only", async () => {
    const tokenFor = await expressTokenRoute(dir);
    const [mine, theirs] = [unique(61000), unique(62000)];
    await sendProject("project.processing", { project_id: mine, user_id: "alice", progress: 20 });
    await sendProject("project.processing", { project_id: theirs, user_id: "bob", progress: 30 });
    const token = await tokenFor("alice");

    const list = await docs("projects", token);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(list.body.docs.map((d) => d.path).filter((p) => [mine, theirs].map((id) => `projects/${id}`).includes(p)), [`projects/${mine}`]);
    assert.equal((await docs(`projects/${mine}`, token)).status, 200);
    assert.equal((await docs(`projects/${theirs}`, token)).status, 404, "another owner's project reads as missing");
  });

  it("the Worker route mints a token for the user's own users/ document", async () => {
    const tokenFor = await workerTokenRoute(dir);
    const uid = `user_${unique(63000)}`;
    const credits = { type: "credits.purchased", id: eventId(), created: new Date().toISOString(), data: { userId: uid, newBalance: 575 } };
    assert.equal((await deliver(edge, "percify", "percify", DEMO.SECRET_PERCIFY, credits)).status, 200);
    const token = await tokenFor(uid);
    const own = await docs(`users/${uid}`, token);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.data.newBalance, 575);
    assert.notEqual((await docs(`users/someone-else`, token)).status, 200);
  });

  describe("in Chromium, against https://edge.example.com", () => {
    let proxy;
    let browser;
    before(async () => {
      proxy = await tlsProxy(edge.url, makeCertificates());
      const port = new URL(proxy.url).port;
      // edge.example.com is the local edge, behind TLS with a test CA's certificate; a public
      // name that resolves to a loopback address is what Chromium's local network access
      // checks block, so they are off.
      browser = await launchChromium({
        args: [`--host-resolver-rules=MAP edge.example.com:443 127.0.0.1:${port}`, "--ignore-certificate-errors",
          "--disable-features=LocalNetworkAccessChecks"],
      });
    });
    after(async () => {
      await browser?.close();
      proxy?.close();
    });

    it("\"Watch a document\" logs the project's status until it completes, then unsubscribes", async () => {
      const snippet = readmeBlock("Watch a document", "js", 'import { initializeFeed, doc, onSnapshot } from "hookfeed";');
      assert.match(snippet, /url: "https:\/\/edge\.example\.com"/);
      const projectId = String(unique(64000));
      const token = await (await expressTokenRoute(dir))("carol");
      const page = await browser.newPage();
      const logged = [];
      const frames = [];
      page.on("console", (m) => logged.push(m.text()));
      page.on("pageerror", (e) => logged.push(`page error: ${e.message}`));
      page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => frames.push(JSON.parse(payload))));
      // An app page on the edge's origin (which serves the module at /hookfeed/), with
      // `token` and `projectId` as the app around the example holds them.
      await page.route(`${edge.url}/readme.html`, (route) => route.fulfill({
        contentType: "text/html",
        body: `<!doctype html>
<script type="importmap">{"imports": {"hookfeed": "/hookfeed/index.js"}}</script>
<script>window.token = ${JSON.stringify(token)}; window.projectId = ${JSON.stringify(projectId)};</script>
<script type="module">${snippet}</script>`,
      }));
      await page.goto(`${edge.url}/readme.html`);
      const listen = () => frames.find((f) => f.type === "listen" && f.target?.doc === `projects/${projectId}`);
      await waitUntil(() => listen(), () => `no listen; console: ${logged.join("\n")}`);

      await sendProject("project.processing", { project_id: Number(projectId), user_id: "carol", progress: 40 });
      await waitUntil(() => logged.includes("Status: processing 40"), () => logged.join("\n"));
      await sendProject("project.completed", { project_id: Number(projectId), user_id: "carol", video_url: "https://v/final.mp4" });
      await waitUntil(() => logged.includes("https://v/final.mp4"), () => logged.join("\n"));
      assert.ok(logged.some((l) => l.startsWith("Status: completed")), logged.join("\n"));
      await waitUntil(() => frames.some((f) => f.type === "unlisten" && f.id === listen().id), () => JSON.stringify(frames));
      assert.ok(!logged.some((l) => l.startsWith("page error")), logged.join("\n"));
      await page.close();
    });
  });
});
