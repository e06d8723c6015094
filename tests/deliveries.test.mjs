// The delivery log people read, under a real wrangler dev: every outcome (stored, out of
// order, duplicate, conflict, refused with its reason) in one newest-first listing that
// pages with a cursor without skipping or repeating a row, filters by source, outcome and
// event id, and `hookfeed deliveries` lists and follows it.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { ROOT, startEdge } from "./support/edge.mjs";
import { DEMO, deliver, eventId, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";
import { waitUntil } from "./support/wait.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };
const CLI = join(ROOT, "target/debug/hookfeed");

/**
 * `hookfeed deliveries --follow` from one row, polling every `intervalMs`: the rows it has
 * printed so far, `until(predicate, what)` to wait for some, and `stop()`.
 */
function follow(edge, intervalMs) {
  const child = spawn(CLI, ["deliveries", "--url", edge.url, "--follow", "--limit", "1", "--interval-ms", String(intervalMs), "--json"], {
    cwd: ROOT, env: { ...process.env, ADMIN_TOKEN: DEMO.ADMIN_TOKEN }, stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = [];
  child.stdout.on("data", (d) => lines.push(...String(d).split("\n").filter(Boolean).map((l) => JSON.parse(l))));
  const until = (predicate, what) => waitUntil(predicate, () => `${what}: ${JSON.stringify(lines)}`);
  return { lines, until, stop: () => child.kill() };
}

/** `GET /deliveries` with `params`, as the admin. */
async function log(edge, params = {}) {
  const res = await fetch(`${edge.url}/deliveries?${new URLSearchParams(params)}`, { headers: ADMIN });
  return { status: res.status, body: await res.json() };
}

describe("the delivery log", () => {
  let edge;
  const project = 70000 + Math.floor(Math.random() * 10000);
  const ids = { stored: eventId(), late: eventId(), duplicate: eventId(), conflict: eventId() };
  before(async () => {
    edge = await startEdge();
    // Stored, then an older event for the same document: out of order.
    const newer = twinActorEvent("project.processing", { project_id: project, progress: 90 }, { id: ids.stored });
    const older = twinActorEvent("project.processing", { project_id: project, progress: 40 }, { id: ids.late, createdSecs: nowSecs() - 20 });
    assert.equal((await deliver(edge, ...TWIN, newer)).status, 200);
    const late = await deliver(edge, ...TWIN, older);
    assert.equal(late.status, 200);
    assert.equal(late.body.out_of_order, true, "the answer says it arrived out of order");
    // The same delivery twice, then the same id with another body.
    const once = twinActorEvent("project.processing", { project_id: project + 1, progress: 10 }, { id: ids.duplicate });
    assert.equal((await deliver(edge, ...TWIN, once)).status, 200);
    assert.equal((await deliver(edge, ...TWIN, once)).body.duplicate, true);
    const first = twinActorEvent("project.created", { project_id: project + 2 }, { id: ids.conflict });
    assert.equal((await deliver(edge, ...TWIN, first)).status, 200);
    const changed = { ...first, data: { project_id: project + 2, note: "changed" } };
    assert.equal((await deliver(edge, ...TWIN, changed)).body.conflict, true);
    // Refused: a forgery.
    const forged = await deliver(edge, "twin-actor", "twin-actor", "not-the-secret", twinActorEvent("project.completed", { project_id: project }));
    assert.equal(forged.status, 401);
    // Enough stored rows to need several pages.
    for (let i = 0; i < 12; i++) {
      assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: project + 10 + i, progress: i }))).status, 200);
    }
  });
  after(async () => { await edge?.stop(); });

  it("shows each delivery's outcome: stored, out of order, duplicate, conflict, and refused with the reason", async () => {
    const { status, body } = await log(edge, { limit: 1000 });
    assert.equal(status, 200);
    const of = (id, outcome) => body.deliveries.find((d) => d.event_id === id && d.outcome === outcome);
    assert.match(of(ids.stored, "stored").message, new RegExp(`applied to projects/${project}$`));
    assert.match(of(ids.late, "out_of_order").message, new RegExp(`arrived after a newer event for projects/${project}`));
    assert.ok(!of(ids.late, "stored"), "an out-of-order event is listed once");
    assert.ok(of(ids.duplicate, "stored") && of(ids.duplicate, "duplicate"));
    assert.equal(of(ids.conflict, "conflict").code, "conflict");
    const refused = body.deliveries.find((d) => d.outcome === "rejected" && d.code === "signature_mismatch");
    assert.ok(refused?.message && refused.status === 401, JSON.stringify(refused));
    const times = body.deliveries.map((d) => Date.parse(d.at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
  });

  it("pages with a cursor through every row exactly once, in the listing's order", async () => {
    const whole = (await log(edge, { limit: 1000 })).body.deliveries.map((d) => d.cursor);
    assert.ok(whole.length >= 19, `${whole.length} rows`);
    assert.equal(new Set(whole).size, whole.length, "every row has its own cursor");
    for (const limit of [1, 3, 7]) {
      const seen = [];
      let before;
      for (;;) {
        const { status, body } = await log(edge, { limit, ...(before ? { before } : {}) });
        assert.equal(status, 200);
        assert.ok(body.deliveries.length <= limit);
        seen.push(...body.deliveries.map((d) => d.cursor));
        if (!body.next) break;
        before = body.next;
      }
      assert.deepEqual(seen, whole, `pages of ${limit}`);
    }
  });

  it("a delivery that arrives while someone pages does not shift the pages after it", async () => {
    const first = await log(edge, { limit: 5 });
    const second = await log(edge, { limit: 5, before: first.body.next });
    assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: project + 50, progress: 1 }))).status, 200);
    assert.deepEqual((await log(edge, { limit: 5, before: first.body.next })).body.deliveries, second.body.deliveries);
  });

  it("filters by source, outcome and event id, and says which parameter is wrong", async () => {
    const late = (await log(edge, { outcome: "out_of_order" })).body.deliveries;
    assert.ok(late.length >= 1 && late.every((d) => d.outcome === "out_of_order"));
    const one = (await log(edge, { event_id: ids.duplicate })).body.deliveries;
    assert.deepEqual(one.map((d) => d.outcome).sort(), ["duplicate", "stored"]);
    const rejected = (await log(edge, { source: "twin-actor", outcome: "rejected" })).body.deliveries;
    assert.ok(rejected.length >= 1 && rejected.every((d) => d.source === "twin-actor" && d.outcome === "rejected"));
    assert.deepEqual((await log(edge, { source: "percify" })).body.deliveries, []);
    for (const [params, message] of [
      [{ outcome: "lost" }, /outcome `lost` is not one of/],
      [{ before: "yesterday" }, /`next` of the previous page/],
      [{ limit: "5000" }, /limit `5000`/],
    ]) {
      const { status, body } = await log(edge, params);
      assert.equal(status, 400, JSON.stringify(params));
      assert.match(body.error.message, message);
    }
    assert.equal((await fetch(`${edge.url}/deliveries`)).status, 401);
  });

  it("hookfeed deliveries lists a page, filters, and pages with --before", async () => {
    const run = (...args) => promisify(execFile)(CLI, ["deliveries", "--url", edge.url, ...args], {
      cwd: ROOT, env: { ...process.env, ADMIN_TOKEN: DEMO.ADMIN_TOKEN },
    });
    const { stdout, stderr } = await run("--limit", "4");
    assert.equal(stdout.trim().split("\n").length, 4);
    const next = stderr.match(/--before (\S+)/)?.[1];
    assert.ok(next, stderr);
    const page2 = await run("--limit", "4", "--before", next, "--json");
    const rows = page2.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const expected = (await log(edge, { limit: 4, before: next })).body.deliveries.map((d) => d.cursor);
    assert.deepEqual(rows.map((r) => r.cursor), expected);
    const late = await run("--outcome", "out_of_order", "--json");
    assert.ok(late.stdout.trim().split("\n").map((l) => JSON.parse(l)).every((r) => r.outcome === "out_of_order"));
    const all = await run("--all", "--limit", "3", "--json");
    assert.equal(all.stdout.trim().split("\n").length, (await log(edge, { limit: 1000 })).body.deliveries.length);
    await assert.rejects(
      promisify(execFile)(CLI, ["deliveries", "--url", edge.url, "--admin-token", "guess"], { cwd: "/" }),
      (e) => /401/.test(e.stderr) && /ADMIN_TOKEN/.test(e.stderr),
    );
  });

  it("hookfeed deliveries --follow prints each new delivery as it arrives, refusals included", async () => {
    const { lines, until, stop } = follow(edge, 200);
    try {
      await until(() => lines.length === 1, "the follower started");
      const id = eventId();
      assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: project + 60, progress: 3 }, { id }))).status, 200);
      await deliver(edge, "twin-actor", "twin-actor", "forged", twinActorEvent("project.completed", { project_id: project + 60 }));
      await until(() => lines.some((l) => l.event_id === id) && lines.some((l, i) => i > 0 && l.outcome === "rejected"), "both printed");
      const cursors = lines.map((l) => l.cursor);
      assert.equal(new Set(cursors).size, cursors.length, "no row is printed twice");
      assert.deepEqual(cursors, [...cursors].sort((a, b) => (a.split(".")[0] - b.split(".")[0]) || a.localeCompare(b)), "oldest first, like tail");
    } finally {
      stop();
    }
  });

  it("lists a slow delivery after the rows committed before it, so --follow prints every row once", async () => {
    const { lines, until, stop } = follow(edge, 100);
    try {
      await until(() => lines.length === 1, "the follower started");
      // A delivery whose body arrives slowly: its request begins before the fast ones
      // below, and commits after them.
      const slowId = eventId();
      const body = JSON.stringify(twinActorEvent("project.processing", { project_id: project + 70, progress: 7 }, { id: slowId }));
      const headers = sign("twin-actor", DEMO.SECRET_TWIN_ACTOR, body, { id: slowId, type: "project.processing" });
      let release;
      const released = new Promise((ok) => { release = ok; });
      const stream = new ReadableStream({
        async pull(controller) {
          controller.enqueue(new TextEncoder().encode(body.slice(0, 10)));
          await released;
          controller.enqueue(new TextEncoder().encode(body.slice(10)));
          controller.close();
        },
      });
      const slow = fetch(`${edge.url}/hooks/twin-actor`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: stream, duplex: "half" });
      await new Promise((ok) => setTimeout(ok, 300));
      const fast = [eventId(), eventId(), eventId()];
      for (const id of fast) {
        const res = await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: project + 71, progress: 1 }, { id }));
        assert.equal(res.status, 200);
      }
      await until(() => fast.every((id) => lines.some((l) => l.event_id === id)), "the fast deliveries printed");
      release();
      assert.equal((await slow).status, 200);
      await until(() => lines.some((l) => l.event_id === slowId), "the slow delivery printed");
      const cursors = lines.map((l) => l.cursor);
      assert.equal(new Set(cursors).size, cursors.length, "no row is printed twice");
    } finally {
      stop();
    }
  });
});
