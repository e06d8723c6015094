// A tenant past one object, under a real wrangler dev (every object in one workerd): with
// HOOKFEED_HUBS, subscriber sockets spread over hub objects, each one subscriber of the
// feed. One event reaches every socket exactly once; a client that drops mid-stream and
// resumes on whichever hub it lands on misses nothing and sees nothing twice; tokens'
// scopes, owner guards and expiry hold on every hub as on the feed.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createToken } from "hookfeed/server";

import { appPage, launchChromium } from "./support/browser.mjs";

import { startEdge } from "./support/edge.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const HUBS = 4;
const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };

let nextProject = 80000 + Math.floor(Math.random() * 10000);
const projectIds = (n) => Array.from({ length: n }, () => nextProject++);
const send = async (edge, id, progress, extra = {}) => {
  const res = await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, progress, ...extra }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.seq;
};

/** The feed's and each hub's figures, from the admin's /healthz. */
async function health(edge) {
  const res = await fetch(`${edge.url}/healthz`, { headers: ADMIN });
  return (await res.json()).feeds.demo;
}

describe("a tenant spread over hubs", () => {
  let edge;
  before(async () => {
    edge = await startEdge({ vars: { HOOKFEED_HUBS: JSON.stringify({ demo: HUBS }) } });
  });
  after(async () => { await edge?.stop(); });

  it("spreads subscribers over every hub, and one event reaches every socket exactly once", async () => {
    const [id] = projectIds(1);
    const token = mintToken();
    const subs = await Promise.all(Array.from({ length: 32 }, () => Subscriber.connect(edge, token)));
    for (const sub of subs) {
      sub.listen(1, { doc: `projects/${id}` });
      sub.listen(2, { collection: "projects", where: [{ field: "project_id", op: "==", value: id }] });
    }
    await Promise.all(subs.map((s) => s.next((f) => f.type === "snapshot" && f.id === 1)));
    await Promise.all(subs.map((s) => s.next((f) => f.type === "snapshot" && f.id === 2)));
    const feedBefore = (await health(edge)).frames_sent;
    const seqs = [];
    for (const progress of [10, 20, 30]) seqs.push(await send(edge, id, progress));
    for (const sub of subs) {
      for (const listen of [1, 2]) {
        for (const [i, seq] of seqs.entries()) {
          const change = await sub.next((f) => f.type === "change" && f.id === listen);
          assert.deepEqual([change.seq, change.data.progress], [seq, [10, 20, 30][i]]);
        }
      }
    }
    // A marker event after the three: each listen's next change must be the marker itself,
    // and nothing may be left beside it, so no change of the three arrived twice.
    const marker = await send(edge, id, 40);
    for (const sub of subs) {
      for (const listen of [1, 2]) {
        const next = await sub.next((f) => f.type === "change" && f.id === listen);
        assert.equal(next.seq, marker, `listen ${listen}: the change after the three is the marker, not a repeat`);
      }
    }
    assert.deepEqual(subs.flatMap((s) => s.frames.filter((f) => f.type === "change")), [], "no change arrives twice");

    const figures = await health(edge);
    assert.equal(figures.hubs.length, HUBS);
    const counts = figures.hubs.map((h) => h.subscribers);
    assert.equal(counts.reduce((a, b) => a + b, 0), 32, `sockets per hub: ${counts}`);
    assert.ok(counts.every((n) => n > 0), `every hub holds sockets: ${counts}`);
    assert.ok(figures.hubs.every((h) => h.upstream && h.collections.includes("projects")));
    assert.equal(figures.subscribers, HUBS, "the feed holds one socket per hub, not one per subscriber");
    assert.equal(figures.frames_sent - feedBefore, 4 * HUBS, "the feed sends each event once per hub, not once per socket (64 listens)");
    await Promise.all(subs.map((s) => s.close()));
  });

  it("a query's snapshot and a resume after since are the feed's, whichever hub answers", async () => {
    const ids = projectIds(3);
    for (const [i, id] of ids.entries()) await send(edge, id, i + 1, { batch: ids[0] });
    const token = mintToken();
    const query = { collection: "projects", where: [{ field: "batch", op: "==", value: ids[0] }], orderBy: [{ field: "progress", direction: "desc" }] };
    const first = await Subscriber.connect(edge, token);
    first.listen(1, query);
    const snap = await first.next((f) => f.type === "snapshot");
    assert.deepEqual(snap.docs.map((d) => d.path), ids.map((id) => `projects/${id}`).reverse(), "ordered as asked");
    await first.close();

    // While away: two changes and one document leaving the query.
    const missed = [await send(edge, ids[0], 50, { batch: ids[0] }), await send(edge, ids[1], 60, { batch: "other" })];
    const again = await Subscriber.connect(edge, token);
    again.listen(1, query, snap.seq);
    const resume = await again.next((f) => f.type === "snapshot");
    assert.equal(resume.since, snap.seq);
    assert.deepEqual(resume.docs.map((d) => [d.path, d.data.progress]), [[`projects/${ids[0]}`, 50]]);
    assert.deepEqual(resume.removed, [`projects/${ids[1]}`]);
    assert.ok(resume.seq >= missed[1]);
    await again.close();
  });

  it("clients dropping mid-stream and resuming on any hub end with every change once, in order", async () => {
    const [id] = projectIds(1);
    const token = mintToken();
    const seen = new Map(); // client → list of progress values seen
    const clients = Array.from({ length: 8 }, (_, c) => ({ c, last: 0, sub: null }));
    const connect = async (client) => {
      client.sub = await Subscriber.connect(edge, token);
      client.sub.listen(1, { doc: `projects/${id}` }, client.last || undefined);
      const snap = await client.sub.next((f) => f.type === "snapshot");
      for (const d of snap.docs) record(client, snap.seq, d.data.progress);
      client.last = Math.max(client.last, snap.seq);
    };
    const record = (client, seq, progress) => {
      const list = seen.get(client.c) ?? [];
      list.push([seq, progress]);
      seen.set(client.c, list);
    };
    const drain = (client) => {
      for (const f of client.sub.frames.splice(0)) {
        if (f.type === "change") {
          record(client, f.seq, f.data.progress);
          client.last = f.seq;
        }
      }
    };
    await Promise.all(clients.map(connect));
    const sent = [];
    for (let progress = 1; progress <= 24; progress++) {
      sent.push([await send(edge, id, progress), progress]);
      if (progress % 6 === 0) {
        // A third of the clients drop without warning and come back, wherever placed.
        for (const client of clients.filter((c) => c.c % 3 === progress % 3)) {
          drain(client);
          client.sub.ws.close();
          await client.sub.closed;
          await connect(client);
        }
      }
    }
    for (const client of clients) {
      // The last change arrives as a change, or (for a client that came back after it)
      // in its resume snapshot.
      if (client.last < sent.at(-1)[0]) {
        await client.sub.next((f) => f.type === "change" && f.seq === sent.at(-1)[0]).then((f) => client.sub.frames.push(f));
      }
      drain(client);
      const got = seen.get(client.c);
      // Every change after the first snapshot, exactly once and in seq order (a resume
      // snapshot carries the document as of its seq: it may fold several changes).
      const seqs = got.map(([s]) => s);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), `client ${client.c}: ${JSON.stringify(got)}`);
      assert.deepEqual(got.at(-1), sent.at(-1), `client ${client.c} ends at the last change`);
      await client.sub.close();
    }
  });

  it("enforces each token's scopes, owner guard and expiry on every hub", async () => {
    const [mine, theirs] = projectIds(2);
    await send(edge, mine, 5, { user_id: "alice" });
    await send(edge, theirs, 5, { user_id: "bob" });
    const scoped = await Subscriber.connect(edge, mintToken({ scopes: [`projects/${mine}`] }));
    scoped.listen(1, { doc: `projects/${theirs}` });
    assert.equal((await scoped.next((f) => f.id === 1)).code, "permission-denied");
    scoped.listen(2, { doc: `projects/${mine}` });
    assert.equal((await scoped.next((f) => f.id === 2)).type, "snapshot");
    await scoped.close();

    const alice = await createToken({ tenant: "demo", sub: "alice", owner: { projects: "user_id" }, secret: DEMO.TOKEN_SECRET });
    const owner = await Subscriber.connect(edge, alice);
    owner.listen(1, { collection: "projects" });
    assert.equal((await owner.next((f) => f.id === 1)).code, "permission-denied");
    owner.listen(2, { doc: `projects/${theirs}` });
    const hidden = await owner.next((f) => f.id === 2);
    assert.deepEqual([hidden.type, hidden.docs], ["snapshot", []], "another owner's document does not exist here");
    owner.listen(3, { collection: "projects", where: [{ field: "user_id", op: "==", value: "alice" }] });
    const own = await owner.next((f) => f.id === 3);
    assert.ok(own.docs.some((d) => d.path === `projects/${mine}`) && own.docs.every((d) => d.data.user_id === "alice"));
    await send(edge, theirs, 6, { user_id: "bob" });
    await send(edge, mine, 7, { user_id: "alice" });
    const change = await owner.next((f) => f.type === "change");
    assert.deepEqual([change.path, change.data.progress], [`projects/${mine}`, 7], "bob's change never reaches alice");
    await owner.close();

    const shortLived = await Subscriber.connect(edge, mintToken({ ttlSecs: 2 }));
    shortLived.listen(1, { doc: `projects/${mine}` });
    await shortLived.next((f) => f.type === "snapshot");
    const ended = await shortLived.next((f) => f.type === "error", 10_000);
    assert.equal(ended.code, "unauthenticated");
    assert.equal((await shortLived.closed).code, 4001);
  });

  it("a hub whose feed connection drops reconnects, and its subscribers miss nothing and see nothing twice", async () => {
    const ids = projectIds(2);
    for (const id of ids) await send(edge, id, 1, { batch: ids[0] });
    const token = mintToken();
    const subs = await Promise.all(Array.from({ length: 12 }, () => Subscriber.connect(edge, token)));
    for (const sub of subs) {
      sub.listen(1, { doc: `projects/${ids[0]}` });
      sub.listen(2, { collection: "projects", where: [{ field: "batch", op: "==", value: ids[0] }] });
    }
    await Promise.all(subs.flatMap((s) => [1, 2].map((id) => s.next((f) => f.type === "snapshot" && f.id === id))));

    // The feed closes every hub's upstream socket (what a deploy or an eviction does), and
    // deliveries go on meanwhile.
    const dropped = await (await fetch(`${edge.url}/dev/drop-hubs`, { method: "POST" })).json();
    assert.equal(dropped.dropped, HUBS, "each hub had one upstream socket");
    const sent = [];
    for (let progress = 2; progress <= 9; progress++) sent.push([await send(edge, ids[progress % 2], progress, { batch: ids[0] }), progress, ids[progress % 2]]);
    const last = sent.at(-1)[0];
    const lastOf = (id) => sent.filter(([, , i]) => i === id).at(-1);
    for (const sub of subs) {
      // Each listen ends at the last change, having seen seqs only rising: a change the
      // hub missed while away arrives once, folded into the reload or on its own.
      await sub.next((f) => f.type === "change" && f.id === 2 && f.seq === last).then((f) => sub.frames.push(f));
      const doc = sub.frames.filter((f) => f.type === "change" && f.id === 1);
      const query = sub.frames.filter((f) => f.type === "change" && f.id === 2);
      for (const list of [doc, query]) {
        const seqs = list.map((f) => f.seq);
        assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), JSON.stringify(seqs));
      }
      assert.deepEqual([doc.at(-1).seq, doc.at(-1).data.progress], lastOf(ids[0]).slice(0, 2));
      const final = new Map(query.map((f) => [f.path, f.data.progress]));
      assert.deepEqual(final.get(`projects/${ids[1]}`), lastOf(ids[1])[1]);
    }
    const figures = await health(edge);
    assert.ok(figures.hubs.every((h) => h.upstream || h.subscribers === 0), `every hub with subscribers is connected again: ${JSON.stringify(figures.hubs)}`);
    await Promise.all(subs.map((s) => s.close()));
  });

  it("runs the browser module's limited query with docChanges over hubs, and resumes it across a restart of wrangler dev", { timeout: 180_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await appPage(browser, edge);
      const batch = `h${Date.now()}`;
      await page.evaluate(({ url, token, batch }) => {
        const { initializeFeed, collection, query, where, orderBy, limit, onSnapshot } = window.hookfeed;
        const db = initializeFeed({ url, token, persistence: false });
        const q = query(collection(db, "projects"), where("batch", "==", batch), orderBy("progress", "desc"), limit(2));
        onSnapshot(q, (snap) => window.log.push({ ids: snap.docs.map((d) => d.id), fromCache: snap.metadata.fromCache,
          changes: snap.docChanges().map((c) => `${c.type}:${c.doc.id}`) }));
      }, { url: edge.url, token: mintToken({ ttlSecs: 3600 }), batch });
      await page.waitForFunction(() => window.log.length === 1);
      const [a, b, c] = projectIds(3);
      for (const [id, progress] of [[a, 10], [b, 50], [c, 30]]) await send(edge, id, progress, { batch });
      await page.waitForFunction(({ b, c }) => JSON.stringify(window.log.at(-1).ids) === JSON.stringify([String(b), String(c)]), { b, c });
      const before = await page.evaluate(() => window.log);
      assert.ok(before.some((s) => s.changes.includes(`removed:${a}`)), JSON.stringify(before));

      const { port, persistTo } = edge;
      await edge.stop();
      edge = await startEdge({ port, persistTo, vars: { HOOKFEED_HUBS: JSON.stringify({ demo: HUBS }) } });
      // Sent while the page is still in its backoff: it must come by resuming.
      await send(edge, a, 90, { batch });
      await page.waitForFunction(({ a, b }) => JSON.stringify(window.log.at(-1).ids) === JSON.stringify([String(a), String(b)]) && !window.log.at(-1).fromCache, { a, b }, { timeout: 60_000 });
      const log = await page.evaluate(() => window.log);
      const after = log.slice(before.length);
      const added = after.flatMap((s) => s.changes).filter((ch) => ch === `added:${a}`);
      assert.equal(added.length, 1, `the document re-entering the window is added once: ${JSON.stringify(after)}`);
      await page.close();
    } finally {
      await browser.close();
    }
  });

  it("a listen with a since ahead of the feed costs the feed at most one load; a resume at the feed's head none", async () => {
    const [id] = projectIds(1);
    await send(edge, id, 1);
    const sub = await Subscriber.connect(edge, mintToken());
    const before = await health(edge);
    sub.listen(1, { collection: "projects" }, 9007199254740991);
    const snap = await sub.next((f) => f.id === 1);
    assert.equal(snap.type, "snapshot", JSON.stringify(snap));
    assert.ok(snap.since == null, "a since ahead of the feed gets a full snapshot");
    assert.ok(snap.docs.some((d) => d.path === `projects/${id}`));
    const first = await health(edge);
    assert.ok(first.mirror_loads - before.mirror_loads <= 1, `one listen frame, ${first.mirror_loads - before.mirror_loads} loads`);
    // Again and again on the same hub: no load at all (one head probe each).
    for (let i = 2; i <= 11; i++) sub.listen(i, { collection: "projects" }, 9007199254740991);
    for (let i = 2; i <= 11; i++) assert.equal((await sub.next((f) => f.id === i)).type, "snapshot");
    // A resume with the feed's head, on a collection the head did not come from.
    const head = (await health(edge)).seq;
    sub.listen(12, { collection: "projects", where: [{ field: "project_id", op: "==", value: id }] }, head);
    const resume = await sub.next((f) => f.id === 12);
    assert.deepEqual([resume.type, resume.since, resume.docs], ["snapshot", head, []]);
    const after = await health(edge);
    assert.ok(after.mirror_loads - before.mirror_loads <= 1, `12 listen frames, ${after.mirror_loads - before.mirror_loads} loads`);
    await sub.close();
  });

  it("a storm of listeners of one collection builds its snapshot once per hub, not once per socket", async () => {
    const batch = `storm${Date.now()}`;
    for (const id of projectIds(20)) await send(edge, id, 1, { batch });
    const token = mintToken();
    const subs = await Promise.all(Array.from({ length: 40 }, () => Subscriber.connect(edge, token)));
    const before = await health(edge);
    const query = { collection: "projects", where: [{ field: "batch", op: "==", value: batch }] };
    for (const sub of subs) sub.listen(1, query);
    const snaps = await Promise.all(subs.map((s) => s.next((f) => f.type === "snapshot")));
    assert.ok(snaps.every((s) => s.docs.length === 20 && s.seq === snaps[0].seq));
    const after = await health(edge);
    const delta = (key) => after.hubs.reduce((n, h, i) => n + h.sent[key] - before.hubs[i].sent[key], 0);
    assert.equal(delta("snapshots_sent"), 40);
    assert.ok(delta("snapshots_built") <= HUBS, `built ${delta("snapshots_built")} snapshots for 40 listens on ${HUBS} hubs`);
    await Promise.all(subs.map((s) => s.close()));
  });
});

describe("a hub's upstream listens, shared between tokens", () => {
  let edge;
  before(async () => {
    // One hub: every socket lands on it.
    edge = await startEdge({ vars: { HOOKFEED_HUBS: JSON.stringify({ demo: 1 }) } });
  });
  after(async () => { await edge?.stop(); });

  it("a token listening to many collections gets resource-exhausted past its cap, while another token's collection still streams", async () => {
    const run = Date.now().toString(36);
    const greedy = await Subscriber.connect(edge, mintToken());
    const tries = 20;
    for (let i = 1; i <= tries; i++) greedy.listen(i, { collection: `g${run}_${i}` });
    const answers = await Promise.all(Array.from({ length: tries }, (_, i) => greedy.next((f) => f.id === i + 1)));
    const streamed = answers.filter((f) => f.type === "snapshot");
    const exhausted = answers.filter((f) => f.type === "error" && f.code === "resource-exhausted");
    assert.equal(streamed.length, 16, JSON.stringify(answers));
    assert.equal(exhausted.length, tries - 16, JSON.stringify(answers));
    assert.match(exhausted[0].message, /unlisten/);

    // Another token (other claims) still gets a new collection streamed on the same hub.
    const other = await Subscriber.connect(edge, mintToken({ scopes: ["*", "projects/*"] }));
    other.listen(1, { collection: `o${run}` });
    assert.equal((await other.next((f) => f.id === 1)).type, "snapshot");
    let figures = await health(edge);
    assert.equal(figures.hubs.length, 1);
    assert.ok(figures.hubs[0].collections.includes(`o${run}`));

    // The greedy token stops reading one: its next collection ends that one, not fails.
    const dropped = `g${run}_${streamed[0].id}`;
    greedy.send({ type: "unlisten", id: streamed[0].id });
    const refusedId = exhausted[0].id; // a refused listen's id is free again
    greedy.listen(refusedId, { collection: `g${run}_again` });
    assert.equal((await greedy.next((f) => f.id === refusedId)).type, "snapshot");
    figures = await health(edge);
    assert.ok(!figures.hubs[0].collections.includes(dropped), JSON.stringify(figures.hubs[0].collections));
    assert.ok(figures.hubs[0].collections.includes(`g${run}_again`));
    await greedy.close();
    await other.close();
  });
});
