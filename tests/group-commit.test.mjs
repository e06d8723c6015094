// Group commit (issue 21) under a real wrangler dev: verified deliveries for one feed in
// flight together travel in one hand-off and commit in one transaction, each answered as
// it would be alone; and a kill -9 while batches are in flight loses no acknowledged
// delivery and stores none twice.

import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { DEMO, eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };

// Two tenants configured alike: `gc` receives the deliveries concurrently, `gc-alone` the
// same ones one after another (each alone), as the reference.
const extraSources = [
  { name: "gc-twin", scheme: "twin-actor", tenant: "gc", secret: "gc-twin-secret" },
  { name: "gc-limited", scheme: "percify", tenant: "gc", rate_limit_per_minute: 2, secret: "gc-limited-secret" },
  { name: "gc-alone-twin", scheme: "twin-actor", tenant: "gc-alone", secret: "gc-alone-twin-secret" },
  { name: "gc-alone-limited", scheme: "percify", tenant: "gc-alone", rate_limit_per_minute: 2, secret: "gc-alone-limited-secret" },
  { name: "gc-kill", scheme: "twin-actor", tenant: "gc-kill", secret: "gc-kill-secret" },
];
const secretOf = Object.fromEntries(extraSources.map((s) => [s.name, s.secret]));
const schemeOf = Object.fromEntries(extraSources.map((s) => [s.name, s.scheme]));

/** A signed request, built once, so that posting it twice sends the very same bytes. */
function signed(source, body, { forge = false } = {}) {
  const text = JSON.stringify(body);
  const headers = sign(schemeOf[source], secretOf[source], text, { id: body.id, type: body.type });
  if (forge) for (const name of Object.keys(headers)) if (/signature/i.test(name)) headers[name] = headers[name].replace(/[0-9a-f]{8}$/, "00000000");
  return { source, text, headers };
}

async function post(edge, { source, text, headers }, extra = {}) {
  const res = await fetch(`${edge.url}/hooks/${source}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers, ...extra },
    body: text,
  });
  const raw = await res.text();
  let body;
  try { body = JSON.parse(raw); } catch { body = raw; }
  return { status: res.status, retryAfter: res.headers.get("retry-after"), duplicate: res.headers.get("x-hookfeed-duplicate"), body };
}

async function feedHealth(edge, tenant) {
  const health = await (await fetch(`${edge.url}/healthz`, { headers: ADMIN })).json();
  return health.feeds[tenant];
}

/** Fisher–Yates with a fixed seed, so a failure repeats. */
function shuffled(items, seed = 21) {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * 64 deliveries for one tenant: 59 Twin.Actor project events over 9 projects (distinct
 * times), one of them sent twice (the same request), 3 to a source whose budget is 2 a
 * minute, and one forgery. `prefix` picks the tenant's sources.
 */
function mix(prefix) {
  const t0 = nowSecs() - 200;
  const bodies = [];
  for (let project = 1; project <= 9; project++) {
    const steps = project === 9 ? 3 : 7;
    for (let step = 0; step < steps; step++) {
      const type = step === steps - 1 ? "project.completed" : step === 0 ? "project.created" : "project.processing";
      const data = { project_id: 7700 + project, progress: step * 15, ...(type === "project.completed" ? { video_url: `https://v/${project}.mp4` } : {}) };
      bodies.push(twinActorEvent(type, data, { id: `evt_gc_${project}_${step}`, createdSecs: t0 + project * 10 + step }));
    }
  }
  const requests = bodies.map((b) => ({ kind: "twin", id: b.id, req: signed(`${prefix}-twin`, b) }));
  requests.push({ kind: "twin-again", id: bodies[3].id, req: requests[3].req });
  for (let i = 0; i < 3; i++) {
    const body = { id: `evt_gc_limited_${i}`, type: "video.completed", created: new Date((t0 + i) * 1000).toISOString(), data: { videoId: `video_gc_${i}`, status: "completed" } };
    requests.push({ kind: "limited", id: body.id, req: signed(`${prefix}-limited`, body) });
  }
  requests.push({ kind: "forged", id: "forged", req: signed(`${prefix}-twin`, twinActorEvent("project.failed", { project_id: 7701 }), { forge: true }) });
  assert.equal(requests.length, 64);
  return shuffled(requests);
}

/** What an answer must be whatever the order it committed in: status, and its body's shape. */
function summary({ kind }, answer) {
  const { status, body } = answer;
  return `${kind} ${status} ${body.duplicate ?? ""} ${body.error?.code ?? ""} ${answer.retryAfter ? "retry-after" : ""}`;
}

async function documents(edge, tenant) {
  const token = mintToken({ tenant });
  const out = {};
  for (let project = 1; project <= 9; project++) {
    const res = await fetch(`${edge.url}/docs/projects/${7700 + project}?token=${token}`);
    out[project] = (await res.json()).data;
  }
  return out;
}

describe("group commit", () => {
  let edge;
  after(async () => { await edge?.stop(); });

  it("answers 64 concurrent deliveries for one tenant each as alone, in fewer feed requests, with the same documents", async (t) => {
    edge = await startEdge({ vars: withSources(extraSources) });

    const alone = [];
    for (const request of mix("gc-alone")) alone.push(summary(request, await post(edge, request.req)));

    const requests = mix("gc");
    const before = (await feedHealth(edge, "gc")).handoffs;
    const answers = await Promise.all(requests.map((r) => post(edge, r.req)));
    const after = (await feedHealth(edge, "gc")).handoffs;

    // Each answer as alone: the same statuses, duplicates and refusals, as a multiset (which
    // of the three budgeted deliveries is the third depends on arrival, alone or not).
    const together = requests.map((r, i) => summary(r, answers[i]));
    assert.deepEqual([...together].sort(), [...alone].sort());
    // Stored ones have distinct seqs; the twice-sent request is one stored and one duplicate of it.
    const stored = answers.filter((a) => a.status === 200 && a.body.duplicate === false).map((a) => a.body.seq);
    assert.equal(new Set(stored).size, stored.length);
    const twice = requests.flatMap((r, i) => (r.id === requests.find((q) => q.kind === "twin-again").id ? [answers[i]] : []));
    assert.equal(twice.length, 2);
    assert.equal(twice[0].body.seq, twice[1].body.seq);
    assert.deepEqual(twice.map((a) => a.body.duplicate).sort(), [false, true]);
    assert.equal(twice.find((a) => a.body.duplicate).duplicate, "true");
    const limited = answers.filter((a) => a.status === 429);
    assert.equal(limited.length, 1);
    assert.ok(Number(limited[0].retryAfter) >= 1);

    // The documents converge as alone.
    assert.deepEqual(await documents(edge, "gc"), await documents(edge, "gc-alone"));

    // Fewer feed requests than deliveries reached the feed (the forgery never does).
    const requestsMade = after.requests - (before?.requests ?? 0);
    const delivered = after.deliveries - (before?.deliveries ?? 0);
    assert.equal(delivered, 63);
    assert.ok(requestsMade < delivered, `${requestsMade} hand-off requests for ${delivered} deliveries`);
    assert.ok(after.largest > 1);
    t.diagnostic(`${delivered} deliveries in ${requestsMade} hand-off requests, the largest of ${after.largest}`);
  });

  it("answers 2,000 deliveries at concurrency 32 each 200 and stores each once, no request touching another's I/O", async (t) => {
    // Waiters are woken by the request whose batch returned: each must go on as its own
    // request (an answer built on another request's turn fails as "Cannot perform I/O on
    // behalf of a different request", which the bench met at concurrency 16).
    const t0 = nowSecs() - 100;
    const requests = Array.from({ length: 2000 }, (_, i) =>
      signed("gc-twin", twinActorEvent("project.processing", { project_id: 9900 + (i % 50), progress: i % 100 }, { id: eventId(), createdSecs: t0 + i })));
    const before = await feedHealth(edge, "gc");
    const statuses = new Map();
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < requests.length) {
        const { status } = await post(edge, requests[next++]);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }));
    const after = await feedHealth(edge, "gc");
    assert.deepEqual([...statuses], [[200, 2000]]);
    assert.equal(after.events - before.events, 2000, "each stored once");
    assert.doesNotMatch(edge.log(), /on behalf of a different request|no answer from its batch/);
    const requestsMade = after.handoffs.requests - before.handoffs.requests;
    t.diagnostic(`2000 deliveries in ${requestsMade} hand-off requests`);
    assert.ok(requestsMade < 2000);
  });

  it("loses no acknowledged delivery and stores none twice when the edge is killed with batches in flight", async (t) => {
    await edge?.stop();
    const persistTo = mkdtempSync(join(tmpdir(), "hookfeed-group-kill-"));
    edge = await startEdge({ persistTo, vars: withSources(extraSources) });
    const t0 = nowSecs() - 100;
    const bodies = Array.from({ length: 256 }, (_, i) =>
      twinActorEvent("project.processing", { project_id: 8800 + (i % 16), progress: i % 100 }, { id: eventId(), createdSecs: t0 + i }));
    const requests = bodies.map((b) => signed("gc-kill", b));

    // 64 at a time; the edge is killed once 32 are acknowledged (and the feed's figures read).
    const acked = new Map();
    let next = 0;
    let killed;
    let atKill;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        try {
          const answer = await post(edge, requests[i]);
          if (answer.status === 200) acked.set(i, answer.body.seq);
          if (acked.size >= 32 && !killed) {
            // Batches were forming just before the kill (and 64 deliveries are in flight).
            killed = feedHealth(edge, "gc-kill").then((health) => { atKill = health.handoffs; return edge.kill(); });
          }
        } catch {
          // Killed while in flight: not acknowledged, the provider retries.
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    await killed;
    t.diagnostic(`${acked.size} of ${requests.length} acknowledged before the kill; till then ${atKill.deliveries} deliveries in ${atKill.requests} hand-off requests, the largest of ${atKill.largest}`);
    assert.ok(atKill.largest > 1 && atKill.requests < atKill.deliveries, "batches were forming when the edge was killed");
    assert.ok(acked.size >= 32 && acked.size < requests.length, `${acked.size} acknowledged before the kill`);

    edge = await startEdge({ persistTo, vars: withSources(extraSources) });
    // Every acknowledged delivery is stored, at the seq it was acknowledged with. Each
    // duplicate is charged to its sender's address (a replay loop is cut off per address):
    // the checks come from 50 per address, under its budget of refusals.
    let k = 0;
    for (const [i, seq] of acked) {
      const again = await post(edge, requests[i], { "cf-connecting-ip": `198.51.100.${Math.floor(k++ / 50)}` });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { received: true, duplicate: true, seq });
    }
    // The providers retry the rest: each is stored once (new, or found stored already).
    for (let i = 0; i < requests.length; i++) {
      if (acked.has(i)) continue;
      const retry = await post(edge, signed("gc-kill", bodies[i]), { "cf-connecting-ip": `198.51.101.${Math.floor(k++ / 50)}` });
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
    }
    const health = await feedHealth(edge, "gc-kill");
    t.diagnostic(`after the restart: ${health.handoffs.deliveries} deliveries in ${health.handoffs.requests} hand-off requests`);
    assert.equal(health.events, requests.length, "every delivery stored exactly once");
  });
});
