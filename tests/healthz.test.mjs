import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";

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
  });

  it("never shows a secret in /healthz", async () => {
    const body = await (await fetch(`${edge.url}/healthz`)).text();
    const secrets = readFileSync(join(ROOT, ".dev.vars"), "utf8")
      .split("\n")
      .map((line) => line.match(/^(?:SECRET_[A-Z_]+|TOKEN_SECRET|ADMIN_TOKEN)="?([^"]*)"?$/)?.[1])
      .filter(Boolean);
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
