// A captured delivery buys nothing, under a real wrangler dev: re-posted with fresh
// unsigned headers it is a duplicate; replayed in a loop it spends none of the source's
// rate budget (genuine deliveries keep being stored) and its senders are cut off per
// address, as forgers are.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { DEMO, mintToken, sign } from "./support/sign.mjs";

const SECRET = "github-replay-secret";
// A budget small enough that a replay loop would use it up many times over if
// duplicates were charged to it.
const BUDGET = 20;
// Genuine deliveries the budget test sends after the loop: with the 3 this endpoint stored
// before them (2 in the first test, 1 captured), 2 under the budget, refill aside.
const GENUINE = BUDGET - 5;
const rules = [{ types: ["issues.*"], collection: "issues", id_field: "issue.number" }];
// GitHub's events carry no common time: a source that projects says where it is.
const created = { field: "issue.updated_at", format: "rfc3339" };
const sources = [
  { name: "gh", scheme: "github", tenant: "replays", rate_limit_per_minute: BUDGET, secret: SECRET, rules, created },
  // The same provider at a second endpoint, with room to spare, for the per-address test.
  { name: "gh-loop", scheme: "github", tenant: "replays", secret: SECRET, rules, created },
];
const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };

/** POSTs `body` to a GitHub source with `headers` (signed ones among them) from `address`. */
async function post(edge, body, headers, address, source = "gh") {
  const res = await fetch(`${edge.url}/hooks/${source}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "cf-connecting-ip": address, ...headers },
    body,
  });
  return { status: res.status, body: await res.json() };
}

let made = 0;

/** A genuine GitHub delivery: a fresh body, signed, with its own delivery id. */
function genuine(number, action, title) {
  // Each genuine event a millisecond after the last: the order the provider made them in.
  const updatedAt = new Date(Date.now() + ++made).toISOString();
  const body = JSON.stringify({ action, issue: { number, title, updated_at: updatedAt }, sent: Math.random() });
  return { body, headers: sign("github", SECRET, body, { id: crypto.randomUUID(), type: "issues" }) };
}

async function issue(edge, number) {
  const res = await fetch(`${edge.url}/docs/issues/${number}?token=${mintToken({ tenant: "replays" })}`);
  return res.json();
}

async function feedHealth(edge) {
  const res = await fetch(`${edge.url}/healthz`, { headers: ADMIN });
  return (await res.json()).feeds?.replays ?? {};
}

describe("replays of a captured delivery", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: withSources(sources) }); });
  after(async () => { await edge?.stop(); });

  it("answers a captured delivery re-posted with a fresh delivery id or another event as a duplicate, and changes nothing", async () => {
    const captured = genuine(1, "opened", "first");
    const first = await post(edge, captured.body, captured.headers, "203.0.113.1");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.duplicate, false);
    const newer = genuine(1, "edited", "newer");
    assert.equal((await post(edge, newer.body, newer.headers, "203.0.113.1")).status, 200);
    const before = await issue(edge, 1);
    assert.equal(before.data.issue.title, "newer");

    const variants = [
      { "X-GitHub-Delivery": crypto.randomUUID() },
      { "X-GitHub-Event": "release" },
      { "X-GitHub-Delivery": crypto.randomUUID(), "X-GitHub-Event": "issue_comment" },
    ];
    for (const changed of variants) {
      const replay = await post(edge, captured.body, { ...captured.headers, ...changed }, "198.51.100.7");
      assert.equal(replay.status, 200, JSON.stringify(replay.body));
      assert.deepEqual([replay.body.duplicate, replay.body.seq], [true, first.body.seq], JSON.stringify(changed));
    }
    assert.deepEqual(await issue(edge, 1), before, "the newer state stands");
  });

  it("answers a captured delivery re-posted to a sibling source of the same secret and tenant as a duplicate", async () => {
    // Found by the attack review: the path a delivery is posted to is not signed, so the
    // replay key is per tenant, not per source.
    const captured = genuine(5, "opened", "sibling");
    const first = await post(edge, captured.body, captured.headers, "203.0.113.5", "gh-loop");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await post(edge, captured.body, { ...captured.headers, "X-GitHub-Delivery": crypto.randomUUID() }, "198.51.100.9", "gh");
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.deepEqual([replay.body.duplicate, replay.body.seq], [true, first.body.seq]);
  });

  it("stores every genuine delivery while one captured delivery is replayed in a loop from other addresses", async () => {
    const captured = genuine(2, "opened", "captured");
    assert.equal((await post(edge, captured.body, captured.headers, "203.0.113.2")).status, 200);
    const eventsBefore = (await feedHealth(edge)).events;
    // 8 addresses, 30 replays each, every one with a fresh delivery id: 240 replays,
    // twelve times the source's budget; each address stays under its refusal budget.
    const replays = [];
    for (let a = 0; a < 8; a++) {
      for (let i = 0; i < 30; i++) {
        replays.push(() => post(edge, captured.body, { ...captured.headers, "X-GitHub-Delivery": crypto.randomUUID() }, `198.18.${a}.9`));
      }
    }
    // 16 at a time, as a busy sender would.
    const answers = [];
    const lanes = Array.from({ length: 16 }, async () => {
      while (replays.length) answers.push(await replays.shift()());
    });
    await Promise.all(lanes);
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [200], JSON.stringify(answers.find((r) => r.status !== 200)));
    assert.ok(answers.every((r) => r.body.duplicate === true), "every replay is a duplicate");
    // The provider's own deliveries after the loop: the budget is whole.
    const statuses = [];
    for (let n = 0; n < GENUINE; n++) {
      const g = genuine(100 + n, "opened", `genuine ${n}`);
      statuses.push((await post(edge, g.body, g.headers, "203.0.113.2")).status);
    }
    assert.deepEqual([...new Set(statuses)], [200], `genuine deliveries: ${statuses}`);
    const health = await feedHealth(edge);
    assert.equal(health.events, eventsBefore + GENUINE, "the replays stored nothing");
    assert.ok(health.replay_keys >= health.events, "a key for every stored event");
  });

  it("cuts off an address that replays in a loop, as it cuts off a forger, and no one else", async () => {
    const captured = genuine(3, "opened", "looped");
    assert.equal((await post(edge, captured.body, captured.headers, "203.0.113.3", "gh-loop")).status, 200);
    let last;
    // The limiter counts in fixed one-minute windows (100 refusals each): a loop that
    // straddles a window's end starts counting again, so it may take up to two budgets
    // to be cut off (it failed once in CI at 160).
    for (let i = 0; i < 2 * 100 + 20; i++) {
      last = await post(edge, captured.body, { ...captured.headers, "X-GitHub-Delivery": crypto.randomUUID() }, "192.0.2.77", "gh-loop");
      if (last.status === 429) break;
      assert.equal(last.body.duplicate, true);
    }
    assert.equal(last.status, 429, "the looping address was cut off");
    assert.equal(last.body.error.code, "rate_limited");
    const g = genuine(4, "opened", "still fine");
    assert.equal((await post(edge, g.body, g.headers, "203.0.113.3", "gh-loop")).status, 200, "the provider's address is not");
  });
});
