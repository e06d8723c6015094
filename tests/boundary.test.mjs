// The trust boundary under a real wrangler dev: the edge Worker refuses what is forged,
// stale, oversized or malformed before any feed wakes; strangers cannot spend a
// customer's rate budget or storage; nothing from outside crashes the instance; errors
// reveal little; tokens that run out stop changes on live sockets.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";

import { startEdge } from "./support/edge.mjs";
import { chunkedBody, DEMO, deliver, eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const PERCIFY = ["percify", "percify", DEMO.SECRET_PERCIFY];
const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };
/** The refusal budget per client address, as wrangler.toml's REFUSALS binding sets it. */
const REFUSALS_PER_MINUTE = 100;
const from = (address) => ({ headers: { "cf-connecting-ip": address } });

/** The admin's view of the demo tenant's feed: requests since it woke, and its database. */
async function feedFigures(edge) {
  const health = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
  return health.feeds.demo;
}

/** POSTs raw `bytes`, correctly signed for the percify source, from `address`. */
async function deliverBytes(edge, bytes, address) {
  const signature = createHmac("sha256", DEMO.SECRET_PERCIFY).update(bytes).digest("hex");
  const res = await fetch(`${edge.url}/hooks/percify`, {
    method: "POST", body: bytes, headers: { "X-Percify-Signature": signature, "cf-connecting-ip": address },
  });
  return { status: res.status, body: await res.json() };
}

/** Runs `tasks` (functions returning promises) `width` at a time. */
async function pool(tasks, width) {
  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  }));
  return results;
}

/** The status (and JSON body, if refused) of a WebSocket upgrade of `/feed`. */
const upgrade = (edge, { token = mintToken(), headers = {} } = {}) => new Promise((ok, fail) => {
  const req = request(`${edge.url}/feed?token=${token}`, {
    headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  req.on("upgrade", (res, socket) => ok({ status: res.statusCode, socket }));
  req.on("response", (res) => {
    let text = "";
    res.on("data", (d) => { text += d; });
    res.on("end", () => ok({ status: res.statusCode, body: JSON.parse(text) }));
  });
  req.on("error", fail);
  req.end();
});

describe("the trust boundary: the edge Worker verifies", () => {
  let edge;
  before(async () => {
    // Production-like: no dev routes, so /healthz shows details to the admin only; a small
    // socket limit per client address, to reach it.
    edge = await startEdge({ vars: { HOOKFEED_DEV_MODE: "false", HOOKFEED_SOCKETS_PER_CLIENT: "3" } });
  });
  after(async () => { await edge?.stop(); });

  it("refuses forged, stale, oversized and malformed deliveries without waking the feed or writing to it", async () => {
    const before = await feedFigures(edge);
    const event = twinActorEvent("project.completed", { project_id: 4242 });
    const hostile = [
      ["wrong secret", () => deliver(edge, "twin-actor", "twin-actor", "not-the-secret", event, from("192.0.2.1")), 401],
      ["stale timestamp", () => deliver(edge, ...TWIN, event, { t: nowSecs() - 3600, ...from("192.0.2.2") }), 401],
      ["future timestamp", () => deliver(edge, ...TWIN, event, { t: nowSecs() + 3600, ...from("192.0.2.2") }), 401],
      ["garbled header", () => deliver(edge, ...TWIN, event, { headers: { "X-Webhook-Signature": "t=1,v1=zz", "cf-connecting-ip": "192.0.2.3" } }), 401],
      ["huge header", () => deliver(edge, ...TWIN, event, { headers: { "X-Webhook-Signature": `t=1,${"v1=00,".repeat(2000)}`, "cf-connecting-ip": "192.0.2.3" } }), 401],
      ["repeated signature header", async () => {
        const headers = new Headers({ "cf-connecting-ip": "192.0.2.3", "X-Webhook-ID": event.id, "X-Webhook-Event": event.type });
        headers.append("X-Webhook-Signature", `t=${nowSecs()},v1=${"00".repeat(32)}`);
        headers.append("X-Webhook-Signature", `t=${nowSecs()},v1=${"11".repeat(32)}`);
        const res = await fetch(`${edge.url}/hooks/twin-actor`, { method: "POST", headers, body: JSON.stringify(event) });
        return { status: res.status, body: await res.json() };
      }, 401],
      ["signature for another source", () => deliver(edge, "percify", "percify", DEMO.SECRET_TWIN_ACTOR, { id: eventId(), type: "video.completed", created: new Date().toISOString(), data: {} }, from("192.0.2.4")), 401],
      ["body over the cap", () => deliver(edge, ...PERCIFY, { id: eventId(), type: "video.completed", pad: "x".repeat(1024 * 1024 + 1) }, from("192.0.2.5")), 413],
      ["signed but not JSON", () => deliver(edge, ...PERCIFY, "{not json", from("192.0.2.6")), 400],
      ["signed invalid UTF-8", () => deliverBytes(edge, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "192.0.2.6"), 400],
      ["signed deep JSON", () => deliver(edge, ...PERCIFY, "[".repeat(100_000) + "]".repeat(100_000), from("192.0.2.6")), 400],
      ["percify without created", () => deliver(edge, ...PERCIFY, { id: eventId(), type: "video.completed", data: { videoId: "v" } }, from("192.0.2.7")), 400],
      ["unknown source", () => deliver(edge, "nope", "percify", "x", { id: "evt_1", type: "t" }, from("192.0.2.8")), 404],
    ];
    for (const [name, send, status] of hostile) {
      const res = await send();
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error?.code, `${name} answers a code`);
    }
    const after = await feedFigures(edge);
    assert.equal(after.woke_at, before.woke_at, "the feed was not restarted in between");
    assert.equal(after.requests_since_wake, before.requests_since_wake + 1, "only the admin's /healthz reached the feed");
    assert.equal(after.database_bytes, before.database_bytes, "the feed's storage did not change");
    assert.equal(after.events, before.events);

    // And the counter does count: a genuine delivery reaches the feed.
    assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.created", { project_id: 4243 }))).status, 200);
    assert.equal((await feedFigures(edge)).requests_since_wake, before.requests_since_wake + 3);
  });

  it("refuses missing, garbled or stale signature headers before reading the body", async () => {
    // A body of 8 MiB without a declared length, over the 1 MiB cap: reading it first would
    // answer 413, so a 401 shows the headers were refused before the body was read.
    for (const [headers, code] of [
      [{}, "missing_header"],
      [{ "X-Webhook-Signature": "t=soon,v1=00", "X-Webhook-ID": "evt_1", "X-Webhook-Event": "project.created" }, "malformed_header"],
      [{ "X-Webhook-Signature": `t=${nowSecs() - 3600},v1=${"00".repeat(32)}`, "X-Webhook-ID": "evt_1", "X-Webhook-Event": "project.created" }, "timestamp_too_old"],
    ]) {
      const res = await fetch(`${edge.url}/hooks/twin-actor`, {
        method: "POST", body: chunkedBody(8 * 1024 * 1024).stream, duplex: "half", headers: { ...headers, "cf-connecting-ip": "192.0.2.60" },
      });
      assert.equal(res.status, 401, code);
      assert.equal((await res.json()).error.code, code);
    }
  });

  it("verifies a large body with the runtime's WebCrypto exactly as a small one in wasm", async () => {
    // Past HOOKFEED_WEBCRYPTO_MIN_BYTES (16 KiB by default) the MAC is WebCrypto's; the
    // headers, the signed content and the comparison stay core's.
    const pad = "p".repeat(64 * 1024);
    const id = 6000 + Math.floor(Math.random() * 1000);
    const twin = twinActorEvent("project.processing", { project_id: id, progress: 50, pad });
    assert.equal((await deliver(edge, ...TWIN, twin)).status, 200, "twin-actor signs `{t}.{body}`");
    const percify = { id: eventId(), type: "video.completed", created: new Date().toISOString(), data: { videoId: `v${id}`, pad } };
    assert.equal((await deliver(edge, ...PERCIFY, percify)).status, 200, "percify signs the body alone");
    const tampered = await deliver(edge, ...TWIN, twinActorEvent("project.completed", { project_id: id, pad }), {
      headers: { "X-Webhook-Signature": `t=${nowSecs()},v1=${"ab".repeat(32)}` },
    });
    assert.equal(tampered.status, 401);
    assert.equal(tampered.body.error.code, "signature_mismatch");
    const old = await deliver(edge, ...TWIN, twinActorEvent("project.completed", { project_id: id, pad }), { t: nowSecs() - 3600 });
    assert.equal(old.body.error.code, "timestamp_too_old");
  });

  it("never refuses a genuine delivery because of forged traffic from other addresses", async () => {
    const addresses = Array.from({ length: 40 }, (_, i) => `198.18.${i}.1`);
    const forged = addresses.flatMap((address) => Array.from({ length: REFUSALS_PER_MINUTE + 20 }, () =>
      () => deliver(edge, "twin-actor", "twin-actor", "forged-secret", twinActorEvent("project.completed", { project_id: 1 }), from(address))));
    let flooding = true;
    const genuine = [];
    const provider = (async () => {
      let n = 0;
      while (flooding || n < 10) {
        const res = await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: 5000, progress: n % 100 }), from("203.0.113.50"));
        genuine.push(res.status);
        n++;
      }
    })();
    const statuses = await pool(forged, 24);
    flooding = false;
    await provider;
    assert.ok(genuine.length >= 10);
    assert.deepEqual([...new Set(genuine)], [200], `genuine deliveries: ${genuine.length} sent, statuses ${[...new Set(genuine)]}`);
    const limited = statuses.filter((r) => r.status === 429).length;
    assert.ok(statuses.every((r) => r.status === 401 || r.status === 429), "every forged one was refused");
    assert.ok(limited > 0, "addresses past their refusal budget were cut off");
    const health = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
    assert.ok(health.refusal_limiter, "the REFUSALS binding is configured");
    assert.ok(health.refused["twin-actor"].signature_mismatch >= 40 * REFUSALS_PER_MINUTE);
    assert.ok(health.refused["twin-actor"].rate_limited >= limited);
  });

  it("answers an address past its budget of refusals with 429 and Retry-After, and no one else", async () => {
    const forged = () => deliver(edge, ...PERCIFY, "{}", { headers: { "X-Percify-Signature": "00".repeat(32), "cf-connecting-ip": "192.0.2.99" } });
    let res;
    // The limiter counts in fixed one-minute windows: a run that straddles a window's end
    // starts counting again, so it may take up to two budgets to be cut off.
    for (let i = 0; i < 2 * REFUSALS_PER_MINUTE + 50; i++) {
      res = await forged();
      if (res.status === 429) break;
    }
    assert.equal(res.status, 429, "the address was cut off");
    assert.equal(res.body.error.code, "rate_limited");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    const other = await deliver(edge, ...PERCIFY, { id: eventId(), type: "video.completed", created: new Date().toISOString(), data: { videoId: "v_other" } }, from("192.0.2.100"));
    assert.equal(other.status, 200);
  });

  it("keeps the last 1,000 refusals per source in memory, and the feed's storage does not grow", async () => {
    const before = await feedFigures(edge);
    const sends = Array.from({ length: 1_100 }, (_, i) => () => deliver(edge, ...PERCIFY, "{}", {
      headers: { "X-Percify-Signature": "11".repeat(32), "cf-connecting-ip": `198.19.${Math.floor(i / 90)}.1` },
    }));
    const statuses = await pool(sends, 16);
    assert.ok(statuses.every((r) => r.status === 401), "all refused as forged, none rate limited");
    const res = await fetch(`${edge.url}/deliveries?source=percify&outcome=rejected&limit=1000`, { headers: ADMIN });
    const { deliveries } = await res.json();
    assert.equal(deliveries.length, 1_000, "the last 1,000 are kept");
    assert.ok(deliveries.every((d) => d.source === "percify" && d.outcome === "rejected" && d.code && d.message && d.client));
    const times = deliveries.map((d) => Date.parse(d.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
    const after = await feedFigures(edge);
    assert.equal(after.database_bytes, before.database_bytes, "1,100 refusals wrote nothing to the feed");
    const health = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
    assert.ok(health.refused.percify.signature_mismatch >= 1_100, "every refusal is counted");
  });

  it("answers a malformed subscriber token with 401, and the instance keeps serving everyone else", async () => {
    const goodToken = mintToken();
    const bad = ["hf1.", "hf1.abc", "hf1..", "hf1.a.b.c", "hf1.%FF", `hf1.${"a".repeat(5000)}`, ".", ""];
    const hostile = bad.flatMap((token) => [
      () => fetch(`${edge.url}/docs/projects/42?token=${encodeURIComponent(token)}`),
      () => fetch(`${edge.url}/docs/projects/42`, { headers: { Authorization: `Bearer ${token}` } }),
      () => upgrade(edge, { token: "x", headers: { "Sec-WebSocket-Protocol": `hookfeed, ${token || "hf1."}` } }),
    ]);
    const legit = Array.from({ length: 40 }, () => () => fetch(`${edge.url}/docs/projects/42?token=${goodToken}`));
    const listens = Array.from({ length: 10 }, (_, i) => async () => {
      // Each from its own address: this edge allows 3 sockets per address.
      const sub = await Subscriber.connect(edge, goodToken, { headers: { "cf-connecting-ip": `192.0.2.${200 + i}` } });
      sub.listen(1, { doc: "projects/42" });
      const frame = await sub.next();
      await sub.close();
      return { status: frame.type === "snapshot" ? 200 : 500 };
    });
    const mixed = [...hostile, ...legit, ...listens].sort(() => Math.random() - 0.5);
    const answers = await pool(mixed, 8);
    for (const answer of answers) {
      answer.socket?.destroy();
      assert.notEqual(answer.status, 500, "no request failed with 500");
    }
    const invalid = new Set();
    for (const token of bad) {
      const res = await fetch(`${edge.url}/docs/projects/42?token=${encodeURIComponent(token)}`);
      assert.equal(res.status, 401, `token ${JSON.stringify(token.slice(0, 10))}`);
      const text = await res.text();
      assert.match(JSON.parse(text).error.code, /invalid_token|missing_token/);
      if (JSON.parse(text).error.code === "invalid_token") invalid.add(text);
    }
    assert.equal(invalid.size, 1, `one answer for every malformed token: ${[...invalid].join("\n")}`);
  });

  it("answers /healthz with {ok, version} to anyone; configuration and figures need the admin token", async () => {
    const open = await (await fetch(`${edge.url}/healthz`)).json();
    assert.deepEqual(Object.keys(open).sort(), ["ok", "version"]);
    const wrong = await (await fetch(`${edge.url}/healthz`, { headers: { Authorization: "Bearer guess" } })).json();
    assert.deepEqual(Object.keys(wrong).sort(), ["ok", "version"]);
    const admin = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
    assert.ok(admin.sources.length >= 3 && admin.feeds.demo && admin.refused);
    const text = JSON.stringify(admin);
    for (const name of ["SECRET_TWIN_ACTOR", "SECRET_PERCIFY", "SECRET_HOOKS", "TOKEN_SECRET", "ADMIN_TOKEN"]) {
      assert.ok(!text.includes(DEMO[name]), `${name} leaked`);
    }
  });

  it("quotes at most a few dozen bytes of a hostile name in an error, and never lists other tenants", async () => {
    const long = "a".repeat(8_000);
    const unknown = await fetch(`${edge.url}/hooks/${long}`, { method: "POST", body: "{}" });
    assert.equal(unknown.status, 404);
    assert.ok((await unknown.text()).length < 400);
    const badDoc = await fetch(`${edge.url}/docs/${long}/x?token=${mintToken()}`);
    assert.equal(badDoc.status, 400);
    assert.ok((await badDoc.text()).length < 400);
    const wrongTenant = await fetch(`${edge.url}/docs/projects/1?tenant=${long}&token=${mintToken()}`);
    assert.equal(wrongTenant.status, 403);
    assert.ok((await wrongTenant.text()).length < 400);
    const nobody = await fetch(`${edge.url}/docs/projects/1?token=${mintToken({ tenant: "nobody" })}`);
    assert.equal(nobody.status, 404);
    assert.doesNotMatch(await nobody.text(), /demo/, "the tenants that exist are not named");
  });

  it("answers malformed, oversized and flooding frames and hostile document ids with protocol errors, and keeps serving the socket", async () => {
    const sub = await Subscriber.connect(edge, mintToken(), { headers: { "cf-connecting-ip": "192.0.2.150" } });
    const refusal = async (frame) => {
      sub.send(frame);
      return sub.next((f) => f.type === "error");
    };
    assert.equal((await refusal("{")).code, "invalid-argument");
    assert.equal((await refusal("null")).code, "invalid-argument");
    assert.equal((await refusal({ type: "listen", id: 1, target: { doc: "x".repeat(20_000) } })).code, "invalid-argument", "a frame over 16 KiB");
    sub.ws.send(new Uint8Array([1, 2, 3]));
    assert.equal((await sub.next((f) => f.type === "error")).code, "invalid-argument", "binary frames are not the protocol");
    for (const doc of ["projects/..", "projects/a/b", "projects/", "/x", `projects/${"i".repeat(300)}`, "pro jects/1", "projects/a\u0000b"]) {
      const error = await refusal(`{"type":"listen","id":2,"target":{"doc":"${doc}"}}`);
      assert.equal(error.code, "invalid-argument", doc);
    }
    // A listen flood: the socket holds at most 100 listens.
    for (let id = 10; id < 110; id++) sub.listen(id, { doc: `projects/${id}` });
    for (let i = 0; i < 100; i++) await sub.next((f) => f.type === "snapshot");
    const exhausted = await refusal({ type: "listen", id: 500, target: { doc: "projects/500" } });
    assert.equal(exhausted.code, "resource-exhausted");
    // Still serving: a change reaches a listen made before the flood was refused.
    assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: 10, progress: 3 }))).status, 200);
    const change = await sub.next((f) => f.type === "change");
    assert.equal(change.id, 10);
    await sub.close();
  });

  it("bounds the sockets one client address holds on a feed", async () => {
    const mine = { "cf-connecting-ip": "192.0.2.77" };
    const open = [];
    for (let i = 0; i < 3; i++) {
      const res = await upgrade(edge, { headers: mine });
      assert.equal(res.status, 101);
      open.push(res.socket);
    }
    const refused = await upgrade(edge, { headers: mine });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, "too_many_sockets");
    const other = await upgrade(edge, { headers: { "cf-connecting-ip": "192.0.2.78" } });
    assert.equal(other.status, 101, "another address is not affected");
    other.socket.destroy();
    for (const socket of open) socket.destroy();
  });

  it("ends a socket's listens with unauthenticated when its token expires, and a fresh token resumes without a gap", async () => {
    const id = 7000 + Math.floor(Math.random() * 1000);
    const sub = await Subscriber.connect(edge, mintToken({ ttlSecs: 2 }));
    sub.listen(1, { doc: `projects/${id}` });
    await sub.next((f) => f.type === "snapshot");
    assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, progress: 10 }))).status, 200);
    const first = await sub.next((f) => f.type === "change");
    // At expiry, with nothing changing, the feed's alarm ends the listens and the socket.
    const refused = await sub.next((f) => f.type === "error", 15_000);
    assert.equal(refused.id, 1);
    assert.equal(refused.code, "unauthenticated");
    const closed = await sub.closed;
    assert.equal(closed.code, 4001);
    assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, progress: 20 }))).status, 200);
    assert.ok(!sub.frames.some((f) => f.type === "change"), "no change reached the expired socket");

    const fresh = await Subscriber.connect(edge, mintToken());
    fresh.listen(1, { doc: `projects/${id}` }, first.seq);
    const resumed = await fresh.next((f) => f.type === "snapshot");
    assert.equal(resumed.docs.length, 1);
    assert.equal(resumed.docs[0].data.progress, 20, "the change made after expiry arrives on resume");
    await fresh.close();
  });
});

describe("the trust boundary with every body MACed by WebCrypto (HOOKFEED_WEBCRYPTO_MIN_BYTES=0)", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: { HOOKFEED_WEBCRYPTO_MIN_BYTES: "0" } }); });
  after(async () => { await edge?.stop(); });

  it("accepts each scheme's genuine delivery and refuses a forged one, as in wasm", async () => {
    const health = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
    assert.equal(health.webcrypto_min_bytes, 0);
    const twin = await deliver(edge, ...TWIN, twinActorEvent("project.created", { project_id: 8100 }));
    assert.equal(twin.status, 200);
    const percify = await deliver(edge, ...PERCIFY, { id: eventId(), type: "video.completed", created: new Date().toISOString(), data: { videoId: "v8100" } });
    assert.equal(percify.status, 200);
    const body = JSON.stringify({ type: "job.completed", timestamp: new Date().toISOString(), data: { job_id: "job_8100" } });
    const hooks = await fetch(`${edge.url}/hooks/hooks`, { method: "POST", body, headers: sign("standard-webhooks", DEMO.SECRET_HOOKS, body, { id: eventId() }) });
    assert.equal(hooks.status, 200, "standard-webhooks signs `{id}.{ts}.{body}`");
    const forged = await deliver(edge, "twin-actor", "twin-actor", "not-the-secret", twinActorEvent("project.created", { project_id: 8101 }));
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, "signature_mismatch");
  });
});
