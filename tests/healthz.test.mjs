import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";

import { readDevVars } from "./support/dev-vars.mjs";
import { ROOT, startEdge } from "./support/edge.mjs";

describe("the edge under wrangler dev", () => {
  let edge;
  before(async () => { edge = await startEdge(); });
  after(async () => { await edge?.stop(); });

  it("answers /healthz from the Rust Worker and the tenant's SQLite-backed feed", async () => {
    const res = await fetch(`${edge.url}/healthz`);
    assert.equal(res.status, 200);
    const health = await res.json();
    assert.equal(health.ok, true);
    assert.deepEqual(
      health.sources.map((s) => [s.name, s.scheme, s.tenant]),
      [["twin-actor", "twin-actor", "demo"], ["percify", "percify", "demo"], ["hooks", "standard-webhooks", "demo"]],
    );
    assert.ok(health.feeds.demo.database_bytes > 0, "the tenant's SQLite database exists");
    assert.equal(health.websocket_compression, false);
  });

  it("never shows a secret in /healthz", async () => {
    const body = await (await fetch(`${edge.url}/healthz`)).text();
    const secrets = Object.entries(readDevVars(join(ROOT, ".dev.vars")))
      .filter(([name]) => /^(SECRET_[A-Z_]+|TOKEN_SECRET|ADMIN_TOKEN)$/.test(name))
      .map(([, value]) => value);
    assert.ok(secrets.length >= 3);
    for (const secret of secrets) assert.ok(!body.includes(secret), "a secret leaked into /healthz");
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await fetch(`${edge.url}/no/such/route`);
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.code, "not_found");
    assert.match(body.error.message, /README/);
  });
});

describe("a misconfigured edge", () => {
  let edge;
  // wrangler dev starts; every route then answers 500 with what to fix.
  before(async () => {
    edge = await startEdge({ vars: { HOOKFEED_WEBSOCKET_COMPRESSION: "maybe" }, ready: (res) => res.status === 500 });
  });
  after(async () => { await edge?.stop(); });

  it("answers 500 naming the setting and the values it takes", async () => {
    for (const path of ["/healthz", "/hooks/twin-actor"]) {
      const res = await fetch(`${edge.url}${path}`, { method: path === "/healthz" ? "GET" : "POST", body: path === "/healthz" ? undefined : "{}" });
      assert.equal(res.status, 500, path);
      const { error } = await res.json();
      assert.equal(error.code, "bad_configuration", path);
      assert.equal(error.message, "HOOKFEED_WEBSOCKET_COMPRESSION cannot be `maybe`: use `on` or `off`", path);
    }
  });
});
