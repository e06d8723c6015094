// Group commit and limited queries (orderBy + limit): a subscriber's window after
// deliveries committed in one batch is the window they make committed one by one. The feed
// reads a collection once, after the batch, so each change's delta must see it as of that
// change (core's `rewind`): found by the attack review, where X(5) stayed in a limit-1
// window after A(10) and B(20) came in one batch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { Subscriber } from "./support/subscriber.mjs";
import { DEMO, eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const extra = [{ name: "gw-twin", scheme: "twin-actor", tenant: "gw", secret: "gw-twin-secret" }];
let nextProject = 880000;
function delivery(project, progress, batch, pad = 0) {
  const body = twinActorEvent("project.processing", { project_id: project, progress, batch, ...(pad ? { pad: "x".repeat(pad) } : {}) },
    { id: eventId(), createdSecs: nowSecs() - 5 });
  const text = JSON.stringify(body);
  return { text, headers: sign("twin-actor", "gw-twin-secret", text, { id: body.id, type: body.type }) };
}
async function post(edge, r) {
  const res = await fetch(`${edge.url}/hooks/gw-twin`, { method: "POST", headers: { "Content-Type": "application/json", ...r.headers }, body: r.text });
  return { status: res.status, body: await res.json() };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The client's view of listen `id`: the first snapshot, then each delta applied. */
function view(frames, id) {
  const docs = new Map();
  for (const f of frames) {
    if (f.type !== "snapshot" || f.id !== id) continue;
    if (f.since == null) docs.clear();
    for (const d of f.docs ?? []) docs.set(d.path, d.data.progress);
    for (const p of f.removed ?? []) docs.delete(p);
  }
  return Object.fromEntries([...docs].sort());
}

async function rounds(mode, t) {
  const ROUNDS = 6;
  const edge = await startEdge({ vars: { ...withSources(extra), HOOKFEED_GROUP_COMMIT: mode } });
  const bad = [];
  let batched = 0, batchedBefore = 0;
  try {
    const token = mintToken({ tenant: "gw" });
    for (let round = 0; round < ROUNDS; round++) {
      const tag = `w${mode}${round}`;
      const [x, a, b] = [nextProject++, nextProject++, nextProject++];
      assert.equal((await post(edge, delivery(x, 5, tag))).status, 200);
      const sub = await Subscriber.connect(edge, token);
      const frames = [];
      sub.ws.addEventListener("message", (e) => { try { frames.push(JSON.parse(e.data)); } catch {} });
      sub.listen(1, { collection: "projects", where: [{ field: "batch", op: "==", value: tag }], orderBy: [{ field: "progress", direction: "desc" }], limit: 1 });
      await sub.next((f) => f.type === "snapshot" && f.id === 1);
      // Leads (another tag) in flight together with a and b: the first goes alone, the
      // rest queue behind it and go as one batch, a and b included.
      const leads = Array.from({ length: 10 }, (_, k) => post(edge, delivery(nextProject++, 1, `lead${round}`, k === 0 ? 200_000 : 0)));
      const [ra, rb] = await Promise.all([post(edge, delivery(a, 10, tag)), post(edge, delivery(b, 20, tag))]);
      await Promise.all(leads);
      assert.equal(ra.status, 200); assert.equal(rb.status, 200);
      const h = (await (await fetch(`${edge.url}/healthz`, { headers: { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` } })).json()).feeds.gw.handoffs;
      if (h.requests < h.deliveries - batchedBefore) { batched++; batchedBefore = h.deliveries - h.requests; }
      await sleep(400);
      sub.listen(2, { collection: "projects", where: [{ field: "batch", op: "==", value: tag }], orderBy: [{ field: "progress", direction: "desc" }], limit: 1 });
      const truth = await sub.next((f) => f.type === "snapshot" && f.id === 2);
      const seen = view(frames, 1);
      const want = Object.fromEntries(truth.docs.map((d) => [d.path, d.data.progress]));
      if (JSON.stringify(seen) !== JSON.stringify(want)) bad.push({ round, seen, want, deltas: frames.filter((f) => f.id === 1 && f.since != null).map((f) => ({ seq: f.seq, docs: f.docs.map((d) => d.path), removed: f.removed })) });
      await sub.close();
    }
    t.diagnostic(`group_commit=${mode}: ${bad.length} of ${ROUNDS} rounds left the limit-1 listener with the wrong window (${batched} rounds saw a batch)`);
    if (bad.length) t.diagnostic(JSON.stringify(bad[0]));
    return { bad, batched };
  } finally { await edge.stop(); }
}

describe("group commit: limited queries", () => {
  it("a limit-1 listener's window after two deliveries committed in one batch is the feed's window", async (t) => {
    const { bad, batched } = await rounds("on", t);
    assert.ok(batched > 0, "a and b were committed in a batch in at least one round");
    assert.equal(bad.length, 0, `the listener's window went wrong: ${JSON.stringify(bad[0])}`);
  });
});
