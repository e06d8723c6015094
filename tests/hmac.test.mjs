// Any HMAC provider by configuration, under a real wrangler dev: sources with a preset
// (Shopify, Slack, Square's signed URL, Paddle's shared header) and one with a profile
// written out (SHA-512) accept what their provider signs, refuse what it would not, and
// project into documents like every other source. Each delivery is signed here the way the
// provider's documentation says, independently of hookfeed-core's Rust.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { ROOT, startEdge } from "./support/edge.mjs";
import { DEMO } from "./support/sign.mjs";

const SECRETS = {
  SECRET_SHOP: "shpss_hookfeed_test_secret",
  SECRET_SLACK: "8f742231b10e8888abcd99yyyzzz85a5",
  SECRET_SQUARE: "square-signature-key",
  SECRET_PADDLE: "pdl_ntfset_hookfeed_test",
  SECRET_ACME: "acme-webhook-secret",
};

const SOURCES = [
  { name: "twin-actor", scheme: "twin-actor", tenant: "demo" },
  // Shopify signs no time: a source that projects says where its orders' time is.
  { name: "shop", scheme: "hmac", hmac: "shopify", tenant: "demo", created: { field: "updated_at", format: "rfc3339" },
    rules: [{ types: ["orders/*"], collection: "orders", id_field: "id" }] },
  { name: "slack", scheme: "hmac", hmac: "slack", tenant: "demo" },
  { name: "square", scheme: "hmac", hmac: "square", tenant: "demo",
    rules: [{ types: ["payment.*"], collection: "payments", id_field: "data.id" }] },
  { name: "paddle", scheme: "hmac", hmac: "paddle", tenant: "demo" },
  { name: "acme", scheme: "hmac", tenant: "demo",
    hmac: {
      algorithm: "sha512",
      signature: { header: "X-Acme-Signature", prefix: "sha512=" },
      content: "{id}.{body}",
      id: { header: "X-Acme-Delivery" },
      type: { field: "kind" },
      created: { field: "at", format: "unix" },
    },
    rules: [{ types: ["render.*"], collection: "renders", id_field: "render_id", status_from_type: true }] },
];

const mac = (algorithm, key, text, encoding = "hex") => createHmac(algorithm, key).update(text).digest(encoding);

describe("HMAC providers by configuration", () => {
  let edge;
  before(async () => {
    edge = await startEdge({ vars: { HOOKFEED_SOURCES: JSON.stringify(SOURCES), ...SECRETS } });
  });
  after(async () => { await edge?.stop(); });

  const post = (source, body, headers) =>
    fetch(`${edge.url}/hooks/${source}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body })
      .then(async (res) => ({ status: res.status, body: await res.json() }));

  it("accepts a Shopify delivery (base64 HMAC of the body, id and topic in headers) and projects it", async () => {
    const id = String(Date.now());
    const body = JSON.stringify({ id: Number(id), financial_status: "paid", total_price: "12.00", updated_at: new Date().toISOString() });
    const headers = {
      "X-Shopify-Hmac-Sha256": mac("sha256", SECRETS.SECRET_SHOP, body, "base64"),
      "X-Shopify-Webhook-Id": `b54557e4-${id}`,
      "X-Shopify-Topic": "orders/paid",
    };
    const first = await post("shop", body, headers);
    assert.deepEqual([first.status, first.body.received], [200, true], JSON.stringify(first.body));
    assert.equal((await post("shop", body, headers)).body.duplicate, true, "the same webhook id again is a duplicate");
    const stored = await fetch(`${edge.url}/deliveries?source=shop&outcome=stored`, { headers: { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` } });
    const { deliveries } = await stored.json();
    assert.ok(deliveries.some((d) => d.event_type === "orders/paid" && new RegExp(`applied to orders/${id}$`).test(d.message)), JSON.stringify(deliveries));

    const tampered = await post("shop", body.replace("12.00", "0.01"), headers);
    assert.equal(tampered.status, 401);
    assert.equal(tampered.body.error.code, "signature_mismatch");
    const unsigned = await post("shop", body, { "X-Shopify-Webhook-Id": "x", "X-Shopify-Topic": "orders/paid" });
    assert.equal(unsigned.status, 401);
    assert.match(unsigned.body.error.message, /X-Shopify-Hmac-Sha256/i, "the refusal names the header to send");
  });

  it("accepts a Slack request (v0 over the timestamp header) and refuses a replayed one", async () => {
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: "event_callback", event_id: `Ev${randomBytes(6).toString("hex")}`, event_time: ts,
      event: { type: "app_mention", text: "hi" } });
    const sign = (t) => ({ "X-Slack-Request-Timestamp": String(t), "X-Slack-Signature": `v0=${mac("sha256", SECRETS.SECRET_SLACK, `v0:${t}:${body}`)}` });
    assert.equal((await post("slack", body, sign(ts))).status, 200);
    const stale = await post("slack", body, sign(ts - 3600));
    assert.equal(stale.status, 401);
    assert.equal(stale.body.error.code, "timestamp_too_old");
  });

  it("accepts a Square notification, whose signature covers the URL it was posted to", async () => {
    const id = `pay_${randomBytes(4).toString("hex")}`;
    const body = JSON.stringify({ event_id: randomBytes(8).toString("hex"), type: "payment.updated",
      created_at: new Date().toISOString(), data: { id, object: { status: "COMPLETED" } } });
    const url = `${edge.url}/hooks/square`;
    const ok = await post("square", body, { "x-square-hmacsha256-signature": mac("sha256", SECRETS.SECRET_SQUARE, `${url}${body}`, "base64") });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const elsewhere = await post("square", body, {
      "x-square-hmacsha256-signature": mac("sha256", SECRETS.SECRET_SQUARE, `https://attacker.example/hooks/square${body}`, "base64"),
    });
    assert.equal(elsewhere.status, 401, "a signature for another URL is refused");
  });

  it("accepts a Paddle notification (ts and h1 in one header)", async () => {
    const ts = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ event_id: `evt_${randomBytes(6).toString("hex")}`, event_type: "transaction.completed",
      occurred_at: new Date().toISOString(), data: { id: "txn_1" } });
    const header = `ts=${ts};h1=${mac("sha256", SECRETS.SECRET_PADDLE, `${ts}:${body}`)}`;
    assert.equal((await post("paddle", body, { "Paddle-Signature": header })).status, 200);
    assert.equal((await post("paddle", body, { "Paddle-Signature": `ts=${ts};h1=${"0".repeat(64)}` })).status, 401);
  });

  it("accepts a provider described by a profile written out (SHA-512 over the delivery id and body) and projects it", async () => {
    const renderId = `r${randomBytes(4).toString("hex")}`;
    const delivery = `dlv_${randomBytes(6).toString("hex")}`;
    const body = JSON.stringify({ kind: "render.completed", render_id: renderId, url: "https://cdn.example/r.mp4", at: Math.floor(Date.now() / 1000) });
    const headers = { "X-Acme-Delivery": delivery, "X-Acme-Signature": `sha512=${mac("sha512", SECRETS.SECRET_ACME, `${delivery}.${body}`)}` };
    const res = await post("acme", body, headers);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const log = await (await fetch(`${edge.url}/deliveries?source=acme`, { headers: { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` } })).json();
    assert.ok(log.deliveries.some((d) => d.event_id === delivery && d.message === `applied to renders/${renderId}`), JSON.stringify(log));
    const sha256 = { ...headers, "X-Acme-Signature": `sha512=${mac("sha256", SECRETS.SECRET_ACME, `${delivery}.${body}`)}` };
    assert.equal((await post("acme", body, sha256)).status, 401, "a SHA-256 MAC does not pass for SHA-512");
  });

  it("refuses to start with a profile that names an unknown placeholder, and says which source and field", async () => {
    const bad = [{ name: "broken", scheme: "hmac", tenant: "demo",
      hmac: { signature: { header: "X-Sig" }, content: "{ts}.{body}", id: { header: "X-Id" }, type: { field: "type" } } }];
    const misconfigured = await startEdge({ vars: { HOOKFEED_SOURCES: JSON.stringify(bad), SECRET_BROKEN: "s" }, ready: (res) => res.status === 500 });
    try {
      const res = await fetch(`${misconfigured.url}/hooks/broken`, { method: "POST", body: "{}" });
      assert.equal(res.status, 500);
      const { error } = await res.json();
      assert.match(error.message, /broken/);
      assert.match(error.message, /\{ts\}/);
    } finally {
      await misconfigured.stop();
    }
  });

  it("hookfeed send --hmac signs as a preset or a written-out profile does, and --tamper is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookfeed-hmac-"));
    const order = join(dir, "order.json");
    writeFileSync(order, JSON.stringify({ id: Date.now(), financial_status: "paid", updated_at: new Date().toISOString() }));
    const send = (...args) => promisify(execFile)(join(ROOT, "target/debug/hookfeed"), ["send", "--url", edge.url, "--json", ...args], { cwd: dir });
    const shop = JSON.parse((await send("--source", "shop", "--hmac", "shopify", "--event", "orders/paid", "--body", order, "--secret", SECRETS.SECRET_SHOP)).stdout);
    assert.equal(shop.status, 200, JSON.stringify(shop));
    const acme = SOURCES.find((s) => s.name === "acme").hmac;
    const render = join(dir, "render.json");
    writeFileSync(render, JSON.stringify({ kind: "render.processing", render_id: "r_cli", at: Math.floor(Date.now() / 1000) }));
    const out = JSON.parse((await send("--source", "acme", "--hmac", JSON.stringify(acme), "--body", render, "--secret", SECRETS.SECRET_ACME)).stdout);
    assert.equal(out.status, 200, JSON.stringify(out));
    await assert.rejects(
      send("--source", "shop", "--hmac", "shopify", "--event", "orders/paid", "--body", order, "--secret", SECRETS.SECRET_SHOP, "--tamper"),
      (e) => JSON.parse(e.stdout).status === 401,
    );
    await assert.rejects(send("--source", "shop", "--hmac", "nosuch", "--body", order, "--secret", "s"), (e) => /--hmac `nosuch` cannot sign/.test(e.stderr) && /shopify/.test(e.stderr));
  });
});
