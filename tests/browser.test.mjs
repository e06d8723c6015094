// The browser module in headless Chromium against a real wrangler dev: Firestore's listener
// example unchanged, reconnects that lose and duplicate nothing, errors with Firestore's
// codes, the IndexedDB cache.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

import { appPage, edgeAndChromium, loadHookfeed } from "./support/browser.mjs";
import { ROOT, startEdge } from "./support/edge.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const cli = (edge, ...args) =>
  promisify(execFile)(join(ROOT, "target/debug/hookfeed"), [...args, "--url", edge.url], { cwd: ROOT });

describe("the browser module in headless Chromium", () => {
  const suite = edgeAndChromium();

  it("runs the Twin.Actor docs' Firestore listener unchanged but for its imports and initialisation", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const projectId = String(31000 + Math.floor(Math.random() * 1000));
    await page.evaluate(({ url, token, projectId }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const console = { log: (...args) => window.log.push(args.join(" ")) };
      const db = initializeFeed({ url, token });
      // From Twin.Actor's Guides › Webhooks, "Current Alternative: Firestore" (the project's
      // copy: shared/providers/twin-actor-webhooks.txt, outside this repository):
      const unsubscribe = onSnapshot(
        doc(db, "projects", projectId),
        (doc) => {
          const data = doc.data();
          console.log("Status:", data.status);
          console.log("Progress:", data.progress);

          if (data.status === "completed") {
            console.log("Video URL:", data.final_video_url);
            unsubscribe(); // Stop listening
          }
        }
      );
      window.unsubscribed = () => unsubscribe;
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), projectId });

    // The docs' callback reads doc.data().status at once, so the document must exist
    // before the first snapshot; the CLI sends as a provider would.
    await cli(suite.edge, "send", "--source", "twin-actor", "--event", "project.processing", "--set", `project_id=${projectId}`, "--set", "progress=45");
    await page.waitForFunction(() => window.log.includes("Progress: 45"));
    await cli(suite.edge, "send", "--source", "twin-actor", "--event", "project.completed", "--set", `project_id=${projectId}`);
    await page.waitForFunction(() => window.log.some((l) => l.startsWith("Video URL:")));
    // After unsubscribe() nothing more fires, even for later changes.
    await cli(suite.edge, "send", "--source", "twin-actor", "--event", "project.failed", "--set", `project_id=${projectId}`);
    await cli(suite.edge, "send", "--source", "twin-actor", "--event", "credits.low");
    const log = await page.evaluate(() => window.log);
    assert.deepEqual(log, [
      "Status: processing",
      "Progress: 45",
      "Status: completed",
      "Progress: 100",
      `Video URL: https://storage.twin.actor/videos/project_${projectId}_final.mp4`, // the sample's URL follows --set project_id
    ]);
    await page.close();
  });

  it("fires the first callback for a document that does not exist yet, with exists() false", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const first = await page.evaluate(({ url, token }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      const stop = onSnapshot(doc(db, "projects", "never-sent"), (snap) => {
        stop();
        ok({ exists: snap.exists(), data: snap.data() ?? null, id: snap.id, path: snap.ref.path, fromCache: snap.metadata.fromCache });
      });
    }), { url: suite.edge.url, token: mintToken() });
    assert.deepEqual(first, { exists: false, data: null, id: "never-sent", path: "projects/never-sent", fromCache: false });
    await page.close();
  });

  it("delivers query snapshots with where, orderBy, limit and docChanges", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const batch = `q${Date.now()}`;
    await page.evaluate(({ url, token, batch }) => {
      const { initializeFeed, collection, query, where, orderBy, limit, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      const q = query(collection(db, "projects"), where("batch", "==", batch), orderBy("progress", "desc"), limit(2));
      onSnapshot(q, (snap) => {
        window.log.push({
          ids: snap.docs.map((d) => d.id),
          size: snap.size,
          empty: snap.empty,
          changes: snap.docChanges().map((c) => `${c.type}:${c.doc.id}:${c.oldIndex}:${c.newIndex}`),
        });
      });
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), batch });
    await page.waitForFunction(() => window.log.length === 1);
    const base = 70000 + (Date.now() % 1000) * 10;
    for (const [id, progress] of [[base + 1, 10], [base + 2, 50], [base + 3, 30]]) {
      await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, batch, progress }));
    }
    await page.waitForFunction(() => window.log.at(-1).size === 2 && window.log.length >= 4);
    const log = await page.evaluate(() => window.log);
    assert.deepEqual(log[0], { ids: [], size: 0, empty: true, changes: [] });
    const last = log.at(-1);
    assert.deepEqual(last.ids, [String(base + 2), String(base + 3)], "orderBy progress desc, limit 2");
    assert.deepEqual(log[1].changes, [`added:${base + 1}:-1:0`]);
    assert.ok(last.changes.includes(`removed:${base + 1}:1:-1`), JSON.stringify(log));
    await page.close();
  });

  it("reads a group commit's changes from batched frames and ends at the feed's documents", async (t) => {
    // The page's WebSocket, watched: which subprotocol the feed picked, and its frames.
    const init = () => {
      window.sockets = [];
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          const seen = { protocol: null, arrays: 0, messages: 0 };
          window.sockets.push(seen);
          this.addEventListener("open", () => (seen.protocol = this.protocol));
          this.addEventListener("message", (e) => {
            if (typeof e.data === "string" && e.data.startsWith("[")) {
              seen.arrays++;
              seen.messages += JSON.parse(e.data).length;
            }
          });
        }
      };
    };
    const page = await appPage(suite.browser, suite.edge, { init });
    const batch = `gc${Date.now()}`;
    const base = 74000 + (Date.now() % 1000) * 10;
    const ids = [1, 2, 3, 4, 5].map((k) => String(base + k));
    // Defaults a page uses (persistence on): a query of the tag and a listener per document.
    await page.evaluate(({ url, token, batch, ids }) => {
      const { initializeFeed, collection, doc, query, where, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token });
      window.query = {};
      window.docs = {};
      onSnapshot(query(collection(db, "projects"), where("batch", "==", batch)), (snap) => {
        window.query = Object.fromEntries(snap.docs.map((d) => [d.id, d.data().progress]));
      });
      for (const id of ids) onSnapshot(doc(db, "projects", id), (d) => d.exists() && (window.docs[id] = d.data().progress));
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), batch, ids });
    await page.waitForFunction(() => window.sockets[0]?.protocol);
    let rounds = 0;
    while (rounds < 6 && (await page.evaluate(() => window.sockets[0].arrays)) === 0) {
      rounds++;
      const acks = await Promise.all(Array.from({ length: 40 }, (_, k) =>
        deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: Number(ids[k % 5]), batch, progress: rounds * 100 + k }))));
      assert.ok(acks.every((a) => a.status === 200), JSON.stringify(acks.map((a) => a.status)));
    }
    // The feed's documents now, from a fresh listen.
    const truthPage = await appPage(suite.browser, suite.edge);
    const truth = await truthPage.evaluate(async ({ url, token, ids }) => {
      const { initializeFeed, doc, getDoc } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      return Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await getDoc(doc(db, "projects", id))).data().progress])));
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), ids });
    await page.waitForFunction((truth) => {
      const same = (o) => ids.every((id) => o[id] === truth[id]) && Object.keys(o).length === ids.length;
      const ids = Object.keys(truth);
      return same(window.query) && same(window.docs);
    }, truth, { timeout: 15_000 });
    const socket = await page.evaluate(() => window.sockets[0]);
    t.diagnostic(`${rounds} round(s): ${socket.arrays} batched frames carried ${socket.messages} messages`);
    assert.equal(socket.protocol, "hookfeed.batch", "the module offers batched frames and the feed picks them");
    assert.ok(socket.arrays > 0, "deliveries in flight together came in batched frames");
    await truthPage.close();
    await page.close();
  });

  it("answers getDoc and getDocs with the feed's current state", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const projectId = 88000 + Math.floor(Math.random() * 1000);
    await deliver(suite.edge, ...TWIN, twinActorEvent("project.completed", { project_id: projectId, video_url: "https://v/88.mp4" }));
    const got = await page.evaluate(async ({ url, token, projectId }) => {
      const { initializeFeed, doc, collection, query, where, getDoc, getDocs } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      const one = await getDoc(doc(db, "projects", String(projectId)));
      const some = await getDocs(query(collection(db, "projects"), where("project_id", "==", projectId)));
      const none = await getDoc(doc(db, "projects", "no-such-project"));
      return {
        exists: one.exists(), status: one.get("status"), url: one.data().final_video_url,
        size: some.size, id: some.docs[0]?.id, missing: none.exists(),
      };
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), projectId });
    assert.deepEqual(got, { exists: true, status: "completed", url: "https://v/88.mp4", size: 1, id: String(projectId), missing: false });
    await page.close();
  });

  it("reports a permission-denied listen through the error callback with Firestore's code", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const error = await page.evaluate(({ url, token }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      onSnapshot(doc(db, "users", "user_abc123"), () => ok({ unexpected: true }), (e) => ok({ code: e.code, name: e.name, message: e.message }));
    }), { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }) });
    assert.equal(error.code, "permission-denied");
    assert.equal(error.name, "FirebaseError");
    assert.match(error.message, /users\/user_abc123/);
    await page.close();
  });

  it("surfaces an expired token as unauthenticated, and recovers through getToken", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const expired = mintToken({ ttlSecs: -10 });
    const error = await page.evaluate(({ url, token }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      onSnapshot(doc(db, "projects", "1"), () => ok("snapshot"), (e) => ok(e.code));
    }), { url: suite.edge.url, token: expired });
    assert.equal(error, "unauthenticated");

    const fresh = mintToken();
    const recovered = await page.evaluate(({ url, token, fresh }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      let asked = 0;
      const db = initializeFeed({ url, token, persistence: false, getToken: async () => { asked++; return fresh; } });
      onSnapshot(doc(db, "projects", "1"), (snap) => ok({ asked, fromCache: snap.metadata.fromCache }), (e) => ok(e.code));
    }), { url: suite.edge.url, token: expired, fresh });
    assert.deepEqual(recovered, { asked: 1, fromCache: false });
    await page.close();
  });

  it("keeps a listener alive across token expiries: getToken refreshes, nothing is lost or repeated", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const projectId = 36000 + Math.floor(Math.random() * 1000);
    // Tokens that live two seconds: the feed ends the socket's listens at each expiry, and
    // the module asks getToken for a fresh one and listens again from the seq it has.
    await page.exposeFunction("mintShortToken", () => mintToken({ ttlSecs: 2 }));
    await page.evaluate(({ url, token, projectId }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      window.asked = 0;
      window.errors = [];
      const db = initializeFeed({ url, token, persistence: false, getToken: async () => { window.asked++; return window.mintShortToken(); } });
      onSnapshot(doc(db, "projects", String(projectId)), (snap) => {
        if (snap.exists()) window.log.push(snap.data().progress);
      }, (e) => window.errors.push(e.code));
    }, { url: suite.edge.url, token: mintToken({ ttlSecs: 2 }), projectId });
    const sent = [];
    // Sixty changes paced over about seven seconds: three or more expiries in between.
    const start = Date.now();
    for (let progress = 1; progress <= 60; progress++) {
      await new Promise((ok) => setTimeout(ok, Math.max(0, start + progress * 120 - Date.now())));
      const res = await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, progress }));
      assert.equal(res.status, 200);
      sent.push(progress);
      await page.waitForFunction((p) => window.log.includes(p), progress, { timeout: 15_000 }).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await page.evaluate(() => ({ log: window.log, asked: window.asked, errors: window.errors })))}`);
      });
    }
    const { log, asked, errors } = await page.evaluate(() => ({ log: window.log, asked: window.asked, errors: window.errors }));
    assert.deepEqual(errors, [], "the listener never saw an error");
    assert.ok(asked >= 2, `getToken was asked ${asked} times over several expiries`);
    assert.deepEqual(log, sent, "every change exactly once, in order");
    await page.close();
  });

  it("loses and duplicates nothing when wrangler dev restarts mid-stream, and reports fromCache meanwhile", async () => {
    const page = await appPage(suite.browser, suite.edge);
    const projectId = 55000 + Math.floor(Math.random() * 1000);
    await page.evaluate(({ url, token, projectId }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      onSnapshot(doc(db, "projects", String(projectId)), { includeMetadataChanges: true }, (snap) => {
        window.log.push({ progress: snap.data()?.progress ?? null, fromCache: snap.metadata.fromCache });
      });
    }, { url: suite.edge.url, token: mintToken({ scopes: ["projects/*"] }), projectId });
    await page.waitForFunction(() => window.log.length === 1);
    await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, progress: 10 }));
    await page.waitForFunction(() => window.log.some((s) => s.progress === 10));

    const { port, persistTo } = suite.edge;
    await suite.edge.stop();
    await page.waitForFunction(() => window.log.at(-1).fromCache === true);
    suite.edge = await startEdge({ port, persistTo });
    // Sent at once after the restart: the page is still in its backoff and must get it
    // by resuming with `since`, not by luck.
    await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, progress: 20 }));
    await page.waitForFunction(() => window.log.some((s) => s.progress === 20 && !s.fromCache), null, { timeout: 60_000 });
    await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, progress: 30 }));
    await page.waitForFunction(() => window.log.some((s) => s.progress === 30));

    const log = await page.evaluate(() => window.log);
    // With includeMetadataChanges, a flip of fromCache alone is a snapshot of its own (as in
    // Firestore); every data change must appear exactly once, in order.
    const dataChanges = log.filter((s, i) => i === 0 || s.progress !== log[i - 1].progress).map((s) => s.progress);
    assert.deepEqual(dataChanges, [null, 10, 20, 30], `every value once, in order: ${JSON.stringify(log)}`);
    assert.ok(
      log.every((s, i) => i === 0 || s.progress !== log[i - 1].progress || s.fromCache !== log[i - 1].fromCache),
      `no snapshot repeats the previous one: ${JSON.stringify(log)}`,
    );
    assert.ok(log.some((s) => s.fromCache && s.progress === 10), "offline snapshot keeps the last known data");
    await page.close();
  });

  it("shows the last known documents from IndexedDB on reload, before the socket is up", { timeout: 120_000 }, async () => {
    const page = await appPage(suite.browser, suite.edge);
    const projectId = 66000 + Math.floor(Math.random() * 1000);
    await deliver(suite.edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, progress: 77 }));
    const token = mintToken({ scopes: ["projects/*"] });
    const listen = ({ url, token, projectId }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token });
      onSnapshot(doc(db, "projects", String(projectId)), (snap) => ok({ progress: snap.data()?.progress, fromCache: snap.metadata.fromCache }));
    });
    assert.deepEqual(await page.evaluate(listen, { url: suite.edge.url, token, projectId }), { progress: 77, fromCache: false });
    // Wait until IndexedDB holds the view, then reload with the feed unreachable.
    // The probe opens the module's version (2) and closes at once: an older version's
    // connection held open would block the module's upgrade.
    await page.waitForFunction(() => new Promise((ok) => {
      const open = indexedDB.open("hookfeed", 2);
      open.onerror = open.onblocked = () => ok(false);
      open.onsuccess = () => {
        const db = open.result;
        const done = (found) => { db.close(); ok(found); };
        if (!db.objectStoreNames.contains("views")) return done(false);
        const count = db.transaction("views").objectStore("views").count();
        count.onsuccess = () => done(count.result > 0);
        count.onerror = () => done(false);
      };
    }));
    // The module writes in batches (300 ms) and may write the view again once the feed's
    // answer settles it: let that batch land before the reload. (A wait on the module's own
    // write would be better; it has no event for it yet.)
    await new Promise((ok) => setTimeout(ok, 1500));
    await page.routeWebSocket(/\/feed/, () => {}); // never connects
    await page.reload();
    await loadHookfeed(page);
    assert.deepEqual(await page.evaluate(listen, { url: suite.edge.url, token, projectId }), { progress: 77, fromCache: true });
    await page.close();
  });
});
