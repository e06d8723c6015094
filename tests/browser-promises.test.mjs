// The browser module keeps its promises (issue 18), in headless Chromium against a real
// wrangler dev, with the module's default options (persistence on): one user's cache never
// reaches another, getDoc always settles, getToken alone signs in and refresh heals,
// transient errors and dead sockets do not end listeners, IndexedDB is bounded and optional,
// and snapshots and references behave as Firestore's.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createToken } from "hookfeed/server";

import { appPage, edgeAndChromium, loadHookfeed } from "./support/browser.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
let nextProject = 120000 + Math.floor(Math.random() * 100000);
const send = async (edge, id, data) => {
  const res = await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, ...data }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.seq;
};
/** A token that reads only `sub`'s projects (those whose `user_id` is `sub`). */
const ownerToken = (sub, expiresIn = 3600) =>
  createToken({ tenant: "demo", sub, owner: { projects: "user_id" }, expiresIn, secret: DEMO.TOKEN_SECRET });

/** How many records the module's IndexedDB cache holds (0 without the database). */
const cachedViews = (page) => page.evaluate(() => new Promise((ok) => {
  const open = indexedDB.open("hookfeed");
  open.onupgradeneeded = () => open.transaction.abort();
  open.onerror = () => ok(0);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("views")) { db.close(); return ok(0); }
    const count = db.transaction("views").objectStore("views").count();
    count.onsuccess = () => { db.close(); ok(count.result); };
    count.onerror = () => { db.close(); ok(0); };
  };
}));

/**
 * Routes the page's feed sockets through a proxy the test controls: `proxy.sockets` lists
 * them; `silence(i)` makes socket `i` drop everything both ways (pings and pongs included:
 * a half-open connection); `answer` may answer a frame of the page in the feed's place.
 */
async function proxyFeed(page, answer = () => undefined) {
  const proxy = { sockets: [] };
  await page.routeWebSocket(/\/feed/, (ws) => {
    const server = ws.connectToServer();
    const socket = { ws, server, silent: false, sent: [] };
    proxy.sockets.push(socket);
    ws.onMessage((m) => {
      socket.sent.push(m);
      if (socket.silent) return;
      const reply = answer(String(m));
      if (reply === undefined) server.send(m);
      else ws.send(reply);
    });
    server.onMessage((m) => { if (!socket.silent) ws.send(m); });
    ws.onClose((code, reason) => server.close({ code, reason }));
    server.onClose((code, reason) => ws.close({ code, reason }));
  });
  proxy.silence = (i) => { proxy.sockets[i].silent = true; };
  return proxy;
}

describe("the browser module keeps its promises (issue 18)", () => {
  const suite = edgeAndChromium();

  it("keeps each user's cache to that user: the next user of the profile never sees it, not even from cache", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const id = String(nextProject++);
    await send(suite.edge, id, { user_id: "alice", progress: 42 });
    const [alice, bob] = [await ownerToken("alice"), await ownerToken("bob")];
    const watch = ({ url, token, id }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token });
      onSnapshot(doc(db, "projects", id), { includeMetadataChanges: true }, (snap) =>
        window.log.push({ exists: snap.exists(), progress: snap.data()?.progress ?? null, fromCache: snap.metadata.fromCache }));
    };
    const page = await appPage(context, suite.edge);
    await page.evaluate(watch, { url: suite.edge.url, token: alice, id });
    await page.waitForFunction(() => window.log.some((s) => s.progress === 42 && !s.fromCache));
    for (let i = 0; i < 50 && (await cachedViews(page)) === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    assert.ok((await cachedViews(page)) > 0, "alice's view is cached");

    // The same profile, the next user: the same document, another subject.
    await page.reload();
    await loadHookfeed(page);
    await page.evaluate(watch, { url: suite.edge.url, token: bob, id });
    await page.waitForFunction(() => window.log.some((s) => !s.fromCache));
    await new Promise((ok) => setTimeout(ok, 500));
    const bobSaw = await page.evaluate(() => window.log);
    assert.ok(bobSaw.every((s) => !s.exists), `bob never sees alice's document: ${JSON.stringify(bobSaw)}`);

    // Alice again, with the feed unreachable: her own cache is still hers.
    await page.routeWebSocket(/\/feed/, () => {});
    await page.reload();
    await loadHookfeed(page);
    await page.evaluate(watch, { url: suite.edge.url, token: alice, id });
    await page.waitForFunction(() => window.log.length > 0);
    assert.deepEqual(await page.evaluate(() => window.log[0]), { exists: true, progress: 42, fromCache: true });
    await context.close();
  });

  it("drops the views at once when updateToken or getToken switches users", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const batch = `switch${Date.now()}`;
    const [a, b] = [String(nextProject++), String(nextProject++)];
    await send(suite.edge, a, { user_id: "alice", progress: 1, batch });
    await send(suite.edge, b, { user_id: "bob", progress: 2, batch });
    // Alice's token expires in 2 s; getToken then answers bob's (a user switch in the app).
    await page.exposeFunction("bobToken", () => ownerToken("bob"));
    await page.evaluate(({ url, token, a }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      window.db = initializeFeed({ url, token, getToken: () => window.bobToken() });
      onSnapshot(doc(window.db, "projects", a), { includeMetadataChanges: true }, (snap) =>
        window.log.push({ exists: snap.exists(), fromCache: snap.metadata.fromCache }), (e) => window.errors.push(e.code));
    }, { url: suite.edge.url, token: await ownerToken("alice", 2), a });
    await page.waitForFunction(() => window.log.some((s) => s.exists && !s.fromCache));
    // After the expiry: the listener shows no document, first at once from cache, then the feed's.
    await page.waitForFunction(() => window.log.at(-1).exists === false && window.log.at(-1).fromCache === false, null, { timeout: 20_000 });
    const log = await page.evaluate(() => window.log);
    const firstGone = log.findIndex((s) => !s.exists);
    assert.ok(log.slice(firstGone).every((s) => !s.exists), JSON.stringify(log));
    assert.deepEqual(await page.evaluate(() => window.errors), []);

    // updateToken back to alice: her document again; then to bob: gone again at once.
    await page.evaluate(async () => { window.log = []; });
    await page.evaluate((t) => window.db.updateToken(t), await ownerToken("alice"));
    await page.waitForFunction(() => window.log.some((s) => s.exists && !s.fromCache));
    await page.evaluate((t) => { window.log = []; window.db.updateToken(t); }, await ownerToken("bob"));
    const atOnce = await page.evaluate(() => window.log.slice());
    assert.deepEqual(atOnce, [{ exists: false, fromCache: true }], "the switch itself drops alice's view, before the feed answers");
    await context.close();
  });

  it("terminate ends listeners silently; clearIndexedDbPersistence refuses while the feed runs, then deletes the cache", async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 9 });
    const result = await page.evaluate(async ({ url, token, id }) => {
      const { initializeFeed, doc, onSnapshot, getDoc, terminate, clearIndexedDbPersistence } = window.hookfeed;
      const db = initializeFeed({ url, token });
      await new Promise((ok) => onSnapshot(doc(db, "projects", id), (s) => { window.log.push(s.data()?.progress); ok(); }));
      const refused = await clearIndexedDbPersistence(db).then(() => "cleared", (e) => e.code);
      await new Promise((ok) => setTimeout(ok, 600)); // the cache write
      const before = (await indexedDB.databases()).some((d) => d.name === "hookfeed");
      await terminate(db);
      const afterTerminate = await getDoc(doc(db, "projects", id)).then(() => "read", (e) => e.code);
      await clearIndexedDbPersistence(db);
      const after = (await indexedDB.databases()).some((d) => d.name === "hookfeed");
      return { refused, before, afterTerminate, after };
    }, { url: suite.edge.url, token: mintToken(), id });
    assert.deepEqual(result, { refused: "failed-precondition", before: true, afterTerminate: "failed-precondition", after: false });
    await send(suite.edge, id, { progress: 10 });
    await new Promise((ok) => setTimeout(ok, 1000));
    assert.deepEqual(await page.evaluate(() => window.log), [9], "no callback after terminate");
    await context.close();
  });

  it("getDoc and getDocs settle every time: twice, after a reload, offline from the cache, unavailable when never cached", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 5 });
    const token = mintToken();
    const read = ({ url, token, id, other }) => {
      const { initializeFeed, doc, collection, query, where, getDoc, getDocs } = window.hookfeed;
      const db = window.db ?? (window.db = initializeFeed({ url, token }));
      const started = Date.now();
      const one = (s) => ({ exists: s.exists(), progress: s.data()?.progress ?? null, fromCache: s.metadata.fromCache });
      return Promise.all([
        getDoc(doc(db, "projects", id)).then(one, (e) => e.code),
        getDoc(doc(db, "projects", other)).then(one, (e) => e.code),
        getDocs(query(collection(db, "projects"), where("project_id", "==", Number(other)))).then(
          (s) => ({ size: s.size, fromCache: s.metadata.fromCache }), (e) => e.code),
      ]).then((got) => ({ got, ms: Date.now() - started }));
    };
    const args = { url: suite.edge.url, token, id, other: String(nextProject++) };
    const online = [{ exists: true, progress: 5, fromCache: false }, { exists: false, progress: null, fromCache: false }, { size: 0, fromCache: false }];
    assert.deepEqual((await page.evaluate(read, args)).got, online, "first");
    for (let i = 0; i < 50 && (await cachedViews(page)) < 3; i++) await new Promise((ok) => setTimeout(ok, 100));
    const second = await page.evaluate(read, args);
    assert.deepEqual(second.got, online, "second, with the answers cached");
    assert.ok(second.ms < 5000, `settled in ${second.ms} ms`);

    await page.reload();
    await loadHookfeed(page);
    assert.deepEqual((await page.evaluate(read, args)).got, online, "after a reload");

    // Offline (the browser knows): at once, from the cache; a document never cached: unavailable.
    await page.reload();
    await loadHookfeed(page);
    // The page initializes its feed while online, as apps do at startup: the wasm loads
    // on first use (initializeFeed), so it is there when the network goes.
    await page.evaluate(({ url, token }) => { window.db = window.hookfeed.initializeFeed({ url, token }); }, args);
    await page.waitForLoadState("networkidle");
    await context.setOffline(true);
    const never = { ...args, other: String(nextProject++) };
    const offline = await page.evaluate(read, never);
    assert.deepEqual(offline.got, [{ exists: true, progress: 5, fromCache: true }, "unavailable", { size: 0, fromCache: true }]);
    await context.setOffline(false);

    // A feed that never answers (the socket opens, nothing comes): after 10 s, the same.
    await page.routeWebSocket(/\/feed/, () => {});
    await page.reload();
    await loadHookfeed(page);
    const silent = await page.evaluate(read, { ...args, other: String(nextProject++) });
    assert.deepEqual(silent.got, [{ exists: true, progress: 5, fromCache: true }, "unavailable", { size: 0, fromCache: true }]);
    assert.ok(silent.ms >= 9000 && silent.ms < 20000, `settled after ${silent.ms} ms`);
    await context.close();
  });

  it("signs in with getToken alone, over a ws:// URL", async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 3 });
    await page.exposeFunction("freshToken", () => mintToken());
    const got = await page.evaluate(({ url, id }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      let asked = 0;
      const db = initializeFeed({ url, getToken: () => { asked++; return window.freshToken(); } });
      onSnapshot(doc(db, "projects", id), (s) => ok({ asked, progress: s.data()?.progress }), (e) => ok({ error: e.code, message: e.message }));
    }), { url: suite.edge.url.replace("http://", "ws://"), id });
    assert.deepEqual(got, { asked: 1, progress: 3 });
    await context.close();
  });

  it("a refused upgrade asks getToken once, then connects with its token", async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    await page.exposeFunction("freshToken", () => mintToken());
    const got = await page.evaluate(({ url, refused }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      let asked = 0;
      const db = initializeFeed({ url, token: refused, getToken: () => { asked++; return window.freshToken(); } });
      onSnapshot(doc(db, "projects", "1"), (s) => ok({ asked, fromCache: s.metadata.fromCache }), (e) => ok({ error: e.code }));
    }), { url: suite.edge.url, refused: mintToken({ secret: "not-the-edges-secret" }) });
    assert.deepEqual(got, { asked: 1, fromCache: false });
    await context.close();
  });

  it("a getToken that rejects once or hangs once heals; one that keeps failing ends listeners with the cause", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    await page.exposeFunction("freshToken", () => mintToken());
    const run = (failures) => page.evaluate(({ url, failures }) => new Promise((ok) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const asks = [];
      const started = Date.now();
      const db = initializeFeed({ url, getToken: () => {
        const failure = failures[asks.length] ?? failures.at(-1);
        asks.push(Date.now() - started);
        if (failure === "reject") return Promise.reject(new Error("sign-in service down"));
        if (failure === "hang") return new Promise(() => {});
        if (failure === "expired") return "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIiwic2NvcGVzIjpbIioiXSwiZXhwIjoxfQ.c2ln";
        return window.freshToken();
      } });
      // The first answer of the feed (an earlier run's view of projects/1 may show first, from cache).
      onSnapshot(doc(db, "projects", "1"), { includeMetadataChanges: true }, (s) => { if (!s.metadata.fromCache) ok({ asks: asks.length, fromCache: false }); },
        (e) => ok({ asks: asks.length, code: e.code, message: e.message, ms: Date.now() - started }));
    }), { url: suite.edge.url, failures });
    assert.deepEqual(await run(["reject", "ok"]), { asks: 2, fromCache: false }, "rejected once");
    assert.deepEqual(await run(["hang", "ok"]), { asks: 2, fromCache: false }, "hung once");
    const rejecting = await run(["reject"]);
    assert.equal(rejecting.code, "unauthenticated");
    assert.equal(rejecting.asks, 5);
    assert.match(rejecting.message, /sign-in service down/);
    const expired = await run(["expired"]);
    assert.equal(expired.code, "unauthenticated");
    assert.equal(expired.asks, 5);
    assert.match(expired.message, /expired/);
    assert.ok(expired.ms > 1000, `backoff between tries: ${expired.ms} ms for 5`);
    await context.close();
  });

  it("a hub's unavailable and a hub restart's close 1012 do not end listeners: they listen again with since", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 1 });
    // The first two listens are refused as a hub refuses them when it cannot prepare a
    // listen, frame for frame (the feed never sees them).
    let refusals = 2;
    const proxy = await proxyFeed(page, (text) => {
      const frame = text === "ping" ? {} : JSON.parse(text);
      if (frame.type !== "listen" || refusals === 0) return undefined;
      refusals--;
      return JSON.stringify({ type: "error", id: frame.id, code: "unavailable", message: "the hub could not answer now: listen again shortly" });
    });
    await page.evaluate(({ url, token, id }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token });
      onSnapshot(doc(db, "projects", id), { includeMetadataChanges: true }, (s) =>
        window.log.push({ progress: s.data()?.progress ?? null, fromCache: s.metadata.fromCache }), (e) => window.errors.push(e.code));
    }, { url: suite.edge.url, token: mintToken(), id });
    await page.waitForFunction(() => window.log.some((s) => s.progress === 1 && !s.fromCache), null, { timeout: 20_000 });
    const listens = proxy.sockets[0].sent.filter((m) => String(m).includes('"listen"'));
    assert.equal(listens.length, 3, `listened again after each refusal: ${listens}`);

    // A hub restart: the socket closes with 1012; a change meanwhile arrives by resuming.
    proxy.sockets[0].ws.close({ code: 1012, reason: "the hub lost its feed: reconnect and resume" });
    proxy.sockets[0].server.close();
    await page.waitForFunction(() => window.log.at(-1).fromCache);
    await send(suite.edge, id, { progress: 2 });
    await page.waitForFunction(() => window.log.some((s) => s.progress === 2 && !s.fromCache), null, { timeout: 20_000 });
    const resumed = proxy.sockets.at(-1).sent.map(String).find((m) => m.includes('"listen"'));
    assert.match(resumed, /"since":\d+/, "the resume sends since");
    assert.deepEqual(await page.evaluate(() => window.errors), []);
    await context.close();
  });

  it("notices a silently dead socket within 8 s of an online or visibilitychange event, shows fromCache, and resumes", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 1 });
    const proxy = await proxyFeed(page);
    await page.evaluate(({ url, token, id }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token });
      onSnapshot(doc(db, "projects", id), { includeMetadataChanges: true }, (s) =>
        window.log.push({ progress: s.data()?.progress ?? null, fromCache: s.metadata.fromCache, at: Date.now() }));
    }, { url: suite.edge.url, token: mintToken(), id });
    await page.waitForFunction(() => window.log.some((s) => s.progress === 1 && !s.fromCache));
    proxy.silence(0); // half-open: nothing either way, no close
    await send(suite.edge, id, { progress: 2 });
    const woke = await page.evaluate(() => { window.dispatchEvent(new Event("online")); return Date.now(); });
    await page.waitForFunction(() => window.log.at(-1).fromCache, null, { timeout: 15_000 });
    const noticed = (await page.evaluate(() => window.log.at(-1).at)) - woke;
    assert.ok(noticed >= 7000 && noticed < 10_000, `noticed after ${noticed} ms`);
    await page.waitForFunction(() => window.log.some((s) => s.progress === 2 && !s.fromCache), null, { timeout: 20_000 });
    assert.ok(proxy.sockets.length >= 2, "a new socket");

    // Again, woken by the page becoming visible (the document's event, which bubbles).
    const before = proxy.sockets.length;
    proxy.silence(before - 1);
    await send(suite.edge, id, { progress: 3 });
    await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange", { bubbles: true })));
    await page.waitForFunction(() => window.log.some((s) => s.progress === 3 && !s.fromCache), null, { timeout: 15_000 });
    assert.ok(proxy.sockets.length > before, "a new socket after visibilitychange");
    await context.close();
  });

  it("works in memory when IndexedDB refuses to open, with one warning", async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge, { init: () => { indexedDB.open = () => { throw new DOMException("refused", "SecurityError"); }; } });
    const warnings = [];
    page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 8 });
    const got = await page.evaluate(async ({ url, token, id }) => {
      const { initializeFeed, doc, onSnapshot, getDoc } = window.hookfeed;
      const db = initializeFeed({ url, token });
      const listened = await new Promise((ok) => onSnapshot(doc(db, "projects", id), (s) => ok(s.data()?.progress)));
      const read = await getDoc(doc(db, "projects", id));
      return { listened, read: read.data().progress, fromCache: read.metadata.fromCache };
    }, { url: suite.edge.url, token: mintToken(), id });
    assert.deepEqual(got, { listened: 8, read: 8, fromCache: false });
    assert.equal(warnings.filter((w) => w.includes("IndexedDB")).length, 1, JSON.stringify(warnings));
    await context.close();
  });

  it("keeps at most 100 views in IndexedDB, the least recently written out first", { timeout: 120_000 }, async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const first = nextProject;
    nextProject += 110;
    const left = await page.evaluate(async ({ url, token, first }) => {
      const { initializeFeed, doc, getDoc } = window.hookfeed;
      const db = initializeFeed({ url, token });
      for (let i = 0; i < 105; i++) {
        await getDoc(doc(db, "projects", String(first + i)));
        if (i === 0) await new Promise((ok) => setTimeout(ok, 600)); // the oldest write
      }
      await new Promise((ok) => setTimeout(ok, 800));
      const open = indexedDB.open("hookfeed");
      await new Promise((ok) => { open.onsuccess = ok; });
      const keys = await new Promise((ok) => { const r = open.result.transaction("views").objectStore("views").getAllKeys(); r.onsuccess = () => ok(r.result); });
      open.result.close();
      return { count: keys.length, oldest: keys.some((k) => k.includes(`"projects/${first}"`)), newest: keys.some((k) => k.includes(`"projects/${first + 104}"`)),
        second: keys.some((k) => k.includes(`"projects/${first + 1}"`)) };
    }, { url: suite.edge.url, token: mintToken(), first });
    assert.deepEqual(left, { count: 100, oldest: false, newest: true, second: false });
    await context.close();
  });

  it("hands out copies, gives query results their collection as parent, and compares references and queries", async () => {
    const context = await suite.browser.newContext();
    const page = await appPage(context, suite.edge);
    const id = String(nextProject++);
    await send(suite.edge, id, { progress: 4, batch: `fid${id}` });
    const got = await page.evaluate(async ({ url, token, id }) => {
      const { initializeFeed, doc, collection, query, where, limit, getDocs, onSnapshot, refEqual, queryEqual } = window.hookfeed;
      const db = initializeFeed({ url, token });
      const q = query(collection(db, "projects"), where("batch", "==", `fid${id}`));
      const snap = await new Promise((ok) => onSnapshot(q, ok));
      const d = snap.docs[0];
      d.data().progress = 999;
      d.get("batch");
      const other = initializeFeed({ url, token, persistence: false });
      const results = await getDocs(q);
      return {
        copy: d.data().progress,
        parent: [d.ref.parent.id, d.ref.parent.path, results.docs[0].ref.parent.id],
        refs: [refEqual(d.ref, doc(db, "projects", id)), refEqual(doc(db, "projects", id), doc(other, "projects", id)),
          refEqual(collection(db, "projects"), d.ref.parent), refEqual(doc(db, "projects", "1"), doc(db, "projects", "2"))],
        queries: [queryEqual(q, query(collection(db, "projects"), where("batch", "==", `fid${id}`))), queryEqual(q, query(q, limit(1))),
          queryEqual(collection(db, "projects"), query(collection(db, "projects"))), queryEqual(q, query(collection(other, "projects"), where("batch", "==", `fid${id}`)))],
      };
    }, { url: suite.edge.url, token: mintToken(), id });
    assert.deepEqual(got, {
      copy: 4,
      parent: ["projects", "projects", "projects"],
      refs: [true, false, true, false],
      queries: [true, false, true, false],
    });
    await context.close();
  });
});
