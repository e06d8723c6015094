// GET /feed under a real wrangler dev: token checks before the upgrade, snapshot then
// changes, scopes on every listen, resume with `since`, and isolation between documents.

import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";

import { startEdge } from "./support/edge.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const send = (edge, type, data, options) => deliver(edge, ...TWIN, twinActorEvent(type, data, options));

/** The 101's headers for an upgrade that offers permessage-deflate, as every browser does. */
const upgradeOfferingDeflate = (edge) => new Promise((ok, fail) => {
  const req = request(`${edge.url}/feed?token=${mintToken()}`, {
    headers: {
      Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    },
  });
  req.on("upgrade", (res, socket) => { socket.destroy(); ok(res.headers); });
  req.on("response", (res) => fail(new Error(`no upgrade: ${res.statusCode}`)));
  req.on("error", fail);
  req.end();
});

/** A listen to `projects/{id}` that sees its snapshot and then a change, over `sub`. */
async function seesSnapshotThenChange(edge, sub, id) {
  sub.listen(1, { doc: `projects/${id}` });
  await sub.next((f) => f.type === "snapshot");
  await send(edge, "project.processing", { project_id: id, progress: 12 });
  const change = await sub.next((f) => f.type === "change");
  assert.equal(change.data.progress, 12);
}

describe("fan-out: GET /feed", () => {
  let edge;
  before(async () => { edge = await startEdge(); });
  after(async () => { await edge?.stop(); });

  it("refuses a missing, forged, expired or wrong-tenant token before upgrading", async () => {
    // fetch() will not send Upgrade; a raw HTTP request shows the refusal's status and body.
    const ws = (query) => new Promise((ok, fail) => {
      const req = request(`${edge.url}/feed${query}`, {
        headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (d) => { text += d; });
        res.on("end", () => ok({ status: res.statusCode, json: async () => JSON.parse(text) }));
      });
      req.on("upgrade", () => fail(new Error(`upgraded with ${query}`)));
      req.on("error", fail);
      req.end();
    });
    const cases = [
      ["", 401, "missing_token"],
      [`?token=${mintToken({ secret: "forged" })}`, 401, "invalid_token"],
      [`?token=${mintToken({ ttlSecs: -5 })}`, 401, "token_expired"],
      [`?token=${mintToken({ tenant: "demo" })}&tenant=other`, 403, "permission_denied"],
      // A tenant no source feeds would get nothing, ever: refused, naming the token's tenant
      // and not the real ones (they are other customers').
      [`?token=${mintToken({ tenant: "default" })}`, 404, "not_found", /^no source feeds tenant `default`: mint the token for a tenant HOOKFEED_SOURCES names$/],
    ];
    for (const [query, status, code, message] of cases) {
      const res = await ws(query);
      assert.equal(res.status, status, query);
      const { error } = await res.json();
      assert.equal(error.code, code, query);
      if (message) assert.match(error.message, message, query);
    }
    const plain = await fetch(`${edge.url}/feed?token=${mintToken()}`);
    assert.equal(plain.status, 426);
  });

  it("sends a snapshot first, also of a document that does not exist yet, then its changes", async () => {
    const sub = await Subscriber.connect(edge, mintToken({ scopes: ["projects/501"] }));
    sub.listen(1, { doc: "projects/501" });
    const snapshot = await sub.next((f) => f.type === "snapshot");
    assert.deepEqual(snapshot.docs, []);

    await send(edge, "project.processing", { project_id: 501, progress: 40 });
    const added = await sub.next((f) => f.type === "change");
    assert.equal(added.kind, "added");
    assert.equal(added.path, "projects/501");
    assert.equal(added.data.progress, 40);
    assert.ok(added.seq > snapshot.seq);

    await send(edge, "project.completed", { project_id: 501, video_url: "https://v/501.mp4" });
    const completed = await sub.next((f) => f.type === "change");
    assert.equal(completed.kind, "modified");
    assert.equal(completed.data.status, "completed");
    assert.equal(completed.data.final_video_url, "https://v/501.mp4");
    await sub.close();
  });

  it("declines permessage-deflate by default, so frames leave uncompressed", async () => {
    const headers = await upgradeOfferingDeflate(edge);
    assert.equal(headers["sec-websocket-extensions"], undefined, JSON.stringify(headers));
    // Node's WebSocket offers permessage-deflate too; the socket works without it.
    const sub = await Subscriber.connect(edge, mintToken());
    assert.equal(sub.ws.extensions, "");
    await seesSnapshotThenChange(edge, sub, 520);
    await sub.close();
  });

  it("accepts the token in the query string too", async () => {
    const sub = await Subscriber.connect(edge, mintToken(), { via: "query" });
    sub.listen(1, { doc: "projects/1" });
    assert.equal((await sub.next()).type, "snapshot");
    await sub.close();
  });

  it("refuses a listen outside the token's scopes with permission-denied, and keeps the socket", async () => {
    const sub = await Subscriber.connect(edge, mintToken({ scopes: ["projects/600"] }));
    sub.listen(1, { doc: "projects/601" });
    const denied = await sub.next();
    assert.deepEqual([denied.type, denied.id, denied.code], ["error", 1, "permission-denied"]);
    sub.listen(2, { collection: "projects" });
    assert.equal((await sub.next()).code, "permission-denied");
    sub.send("{not json");
    assert.equal((await sub.next()).code, "invalid-argument");
    sub.listen(3, { doc: "projects/600" });
    assert.equal((await sub.next()).type, "snapshot");
    await sub.close();
  });

  it("ignores claims a client sends in the Worker's internal header", async () => {
    // The Worker copies the request's headers for the feed and then sets its own verified
    // claims over them: a forged x-hookfeed-claims must not widen the token's scopes.
    const forged = JSON.stringify({ tenant: "demo", scopes: ["*"], exp: Math.floor(Date.now() / 1000) + 3600 });
    const sub = await Subscriber.connect(edge, mintToken({ scopes: ["projects/610"] }), { headers: { "x-hookfeed-claims": forged } });
    sub.listen(1, { doc: "projects/611" });
    const denied = await sub.next();
    assert.deepEqual([denied.type, denied.id, denied.code], ["error", 1, "permission-denied"]);
    await sub.close();
  });

  it("delivers collection queries with where filters, entering and leaving", async () => {
    const sub = await Subscriber.connect(edge, mintToken({ scopes: ["projects/*"] }));
    sub.listen(7, { collection: "projects", where: [{ field: "status", op: "==", value: "processing" }] });
    await sub.next((f) => f.type === "snapshot");
    await send(edge, "project.processing", { project_id: 700, progress: 5 });
    const entered = await sub.next((f) => f.type === "change" && f.path === "projects/700");
    assert.equal(entered.kind, "added");
    await send(edge, "project.completed", { project_id: 700 });
    const left = await sub.next((f) => f.type === "change" && f.path === "projects/700");
    assert.equal(left.kind, "removed");
    await sub.close();
  });

  it("gives a subscriber that reconnects with since exactly what it missed", async () => {
    const token = mintToken({ scopes: ["projects/*"] });
    const first = await Subscriber.connect(edge, token);
    first.listen(1, { collection: "projects", where: [{ field: "batch", op: "==", value: "resume" }] });
    await first.next((f) => f.type === "snapshot");
    await send(edge, "project.processing", { project_id: 801, batch: "resume", progress: 10 });
    const seen = await first.next((f) => f.type === "change");
    await first.close();

    // While disconnected: one document changes twice, another appears, a third leaves the query.
    await send(edge, "project.processing", { project_id: 801, batch: "resume", progress: 50 });
    await send(edge, "project.processing", { project_id: 801, batch: "resume", progress: 90 });
    await send(edge, "project.processing", { project_id: 802, batch: "resume", progress: 1 });

    const second = await Subscriber.connect(edge, token);
    second.listen(1, { collection: "projects", where: [{ field: "batch", op: "==", value: "resume" }] }, seen.seq);
    const resumed = await second.next((f) => f.type === "snapshot");
    assert.equal(resumed.since, seen.seq);
    const byPath = Object.fromEntries(resumed.docs.map((d) => [d.path, d.data]));
    assert.deepEqual(Object.keys(byPath).sort(), ["projects/801", "projects/802"]);
    assert.equal(byPath["projects/801"].progress, 90, "the latest state, not each step");

    // Nothing already seen is sent again: a resume from the head is empty.
    const third = await Subscriber.connect(edge, token);
    third.listen(1, { collection: "projects", where: [{ field: "batch", op: "==", value: "resume" }] }, resumed.seq);
    const empty = await third.next((f) => f.type === "snapshot");
    assert.deepEqual([empty.docs, empty.removed ?? []], [[], []]);
    await Promise.all([second.close(), third.close()]);
  });

  it("sends a document listener nothing for events on other documents", async () => {
    const mine = await Subscriber.connect(edge, mintToken({ scopes: ["projects/900"] }));
    mine.listen(1, { doc: "projects/900" });
    await mine.next((f) => f.type === "snapshot");
    for (let i = 0; i < 5; i++) await send(edge, "project.processing", { project_id: 901 + i, progress: i });
    await send(edge, "project.processing", { project_id: 900, progress: 1 });
    const change = await mine.next((f) => f.type === "change");
    assert.equal(change.path, "projects/900");
    assert.equal(mine.frames.length, 0, `unexpected frames: ${JSON.stringify(mine.frames)}`);
    await mine.close();
  });

  it("answers pings without waking the feed, and unlisten stops changes", async () => {
    const sub = await Subscriber.connect(edge, mintToken());
    sub.ws.send("ping");
    assert.equal(await sub.next((f) => f === "pong"), "pong");
    sub.listen(1, { doc: "projects/950" });
    await sub.next((f) => f.type === "snapshot");
    sub.send({ type: "unlisten", id: 1 });
    sub.listen(2, { doc: "projects/951" });
    await sub.next((f) => f.type === "snapshot" && f.id === 2);
    await send(edge, "project.processing", { project_id: 950, progress: 3 });
    await send(edge, "project.processing", { project_id: 951, progress: 3 });
    const change = await sub.next((f) => f.type === "change");
    assert.equal(change.id, 2, "only the remaining listen hears changes");
    await sub.close();
  });

  it("serialises a collection's snapshot once for a storm of listeners, not once per socket", async () => {
    const batch = `storm${Date.now()}`;
    for (let i = 0; i < 30; i++) await send(edge, "project.processing", { project_id: 96000 + i, batch, progress: i });
    const figures = async () => (await (await fetch(`${edge.url}/healthz`, { headers: { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` } })).json()).feeds.demo.sent;
    const token = mintToken();
    const subs = await Promise.all(Array.from({ length: 50 }, () => Subscriber.connect(edge, token)));
    const before = await figures();
    for (const sub of subs) sub.listen(7, { collection: "projects", where: [{ field: "batch", op: "==", value: batch }] });
    const snaps = await Promise.all(subs.map((s) => s.next((f) => f.type === "snapshot")));
    assert.ok(snaps.every((s) => s.id === 7 && s.docs.length === 30));
    const after = await figures();
    assert.equal(after.snapshots_sent - before.snapshots_sent, 50);
    assert.equal(after.snapshots_built - before.snapshots_built, 1, "one snapshot built, sent fifty times");
    await Promise.all(subs.map((s) => s.close()));
  });

  it("answers a listen whose since is ahead of the feed with a full snapshot, as a hub does", async () => {
    // Found by the attack review of issue 17: the feed read only documents after `since`
    // before dropping it, so its "full" snapshot was empty and the client's view emptied.
    const id = 70000 + Math.floor(Math.random() * 10000);
    assert.equal((await send(edge, "project.processing", { project_id: id, progress: 5 })).status, 200);
    const sub = await Subscriber.connect(edge, mintToken());
    sub.listen(1, { collection: "projects" }, 9007199254740991);
    const snap = await sub.next((f) => f.id === 1);
    assert.equal(snap.type, "snapshot", JSON.stringify(snap));
    assert.ok(snap.since == null, "a full snapshot");
    assert.ok(snap.docs.some((d) => d.path === `projects/${id}`), `a full snapshot holds projects/${id}: ${JSON.stringify(snap)}`);
    await sub.close();
  });
});

describe("fan-out with HOOKFEED_WEBSOCKET_COMPRESSION=on", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: { HOOKFEED_WEBSOCKET_COMPRESSION: "on" } }); });
  after(async () => { await edge?.stop(); });

  it("agrees to permessage-deflate when the client offers it, and frames still arrive", async () => {
    const headers = await upgradeOfferingDeflate(edge);
    assert.match(headers["sec-websocket-extensions"] ?? "", /^permessage-deflate/);
    const sub = await Subscriber.connect(edge, mintToken());
    assert.match(sub.ws.extensions, /^permessage-deflate/);
    await seesSnapshotThenChange(edge, sub, 530);
    await sub.close();
  });
});
