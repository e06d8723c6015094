// hookfeed/react in a server-rendered app (tests/fixtures/ssr-app): Node renders a component
// that uses useDocument with react-dom/server's renderToString, importing the packed package
// from node_modules like any SSR server; the server's HTML shows the loading state. Headless
// Chromium then hydrates that HTML (an esbuild bundle of the same component) and shows the
// live document from a real wrangler dev, without a hydration mismatch.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";

import { build as esbuild } from "esbuild";

import { edgeAndChromium } from "./support/browser.mjs";
import { ROOT } from "./support/edge.mjs";
import { packedPackage } from "./support/pack.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";
import { serve } from "./support/static.mjs";

const NODE = join(ROOT, "node_modules/.bin/node");
const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];

/** The app as its project holds it: its sources, the unpacked package and React in node_modules. */
function appProject() {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-ssr-app-"));
  cpSync(join(ROOT, "tests/fixtures/ssr-app"), dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  const pkg = packedPackage(["web/index.js", "web/react.js", "web/pkg/hookfeed_web.js", "web/pkg/hookfeed_web_bg.wasm"]);
  cpSync(pkg, join(dir, "node_modules/hookfeed"), { recursive: true });
  for (const name of ["react", "react-dom", "scheduler"]) {
    cpSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name), { recursive: true, dereference: true });
  }
  return dir;
}

describe("hookfeed/react rendered on the server, hydrated in headless Chromium", () => {
  const suite = edgeAndChromium();
  let dir;
  before(() => { dir = appProject(); });

  it("renders useDocument's loading state with renderToString, then hydrates it into the live document", async () => {
    const projectId = String(48000 + Math.floor(Math.random() * 1000));
    const send = async (data) => {
      const res = await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: Number(projectId), ...data }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await send({ progress: 40 });

    // The server: Node 22 runs it with a deadline, so a socket or timer left open would fail it.
    const config = { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), projectId };
    const { stdout: html, stderr } = await promisify(execFile)(NODE, ["server.mjs", JSON.stringify(config)], { cwd: dir, timeout: 20_000 });
    assert.equal(stderr, "", "the server rendered without a warning or error");
    assert.match(html, new RegExp(`<div id="root"><main><h1>Project ${projectId}</h1><p id="project">loading…</p></main></div>`), html);

    // The browser: the same component, bundled for it, with the wasm beside the bundle.
    const dist = join(dir, "dist");
    await esbuild({
      entryPoints: [join(dir, "client.js")], bundle: true, format: "esm", target: "es2022", outdir: dist,
      define: { "process.env.NODE_ENV": JSON.stringify("development") }, logLevel: "error",
    });
    mkdirSync(join(dist, "pkg"));
    copyFileSync(join(dir, "node_modules/hookfeed/web/pkg/hookfeed_web_bg.wasm"), join(dist, "pkg/hookfeed_web_bg.wasm"));
    writeFileSync(join(dist, "index.html"), html);
    const app = await serve(dist);
    try {
      const page = await suite.browser.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
      await page.goto(`${app.origin}/`);
      await page.waitForFunction(() => document.getElementById("project")?.textContent === "processing: 40%", null, { timeout: 30_000 });
      await send({ progress: 70 });
      await page.waitForFunction(() => document.getElementById("project").textContent === "processing: 70%", null, { timeout: 15_000 });

      const state = await page.evaluate(() => ({
        sameNode: window.serverNode === document.getElementById("project"),
        recoverableErrors: window.recoverableErrors,
        texts: window.texts.filter((t, i, all) => i === 0 || t !== all[i - 1]),
      }));
      assert.ok(state.sameNode, `hydration kept the server's <p>, not a client re-render: ${JSON.stringify({ ...state, errors })}`);
      assert.deepEqual(state.recoverableErrors, [], "no hydration mismatch");
      assert.deepEqual(state.texts, ["processing: 40%", "processing: 70%"]);
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      app.stop();
    }
  });
});
