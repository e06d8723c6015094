// A deep document in a hub's batched upstream frame (found by the attack review): a hub
// once parsed a batched frame as one `Vec<ServerMessage>`. serde_json refuses nesting past
// 127 levels, and an array adds one. A document whose data nests 125 levels deep ingests
// (the body is 127 deep) and parses alone, but not inside an array: the hub logged "an
// upstream frame did not parse" and dropped every message of the frame, its neighbours'
// changes included, so its subscribers (and later snapshots from that hub) missed them for
// good. A hub now splits the array into raw values and parses each message alone, and a
// body may nest at most 64 levels (core's MAX_BODY_DEPTH), so a document stays readable in
// every wrapping: a change, a batched frame, a hub's page of documents.
//
// The property checked: after the deliveries settle, a hub subscriber's view of every
// project equals the feed's (`GET /docs/...`). A failure here is the break.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { messagesOf as messages, openRaw as open, settle } from "./support/raw-socket.mjs";
import { eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const TENANT = "bfdeep";
const extra = [{ name: "bfdeep-twin", scheme: "twin-actor", tenant: TENANT, secret: "bfdeep-twin-secret" }];

/** `{"a":{"a":…1}}`, `levels` objects deep. */
const nested = (levels) => { let v = 1; for (let i = 0; i < levels; i++) v = { a: v }; return v; };

let created = nowSecs() - 600;
function delivery(project, progress, tag, extraData = {}) {
  const body = twinActorEvent("project.processing", { project_id: project, progress, batch: tag, ...extraData }, { id: eventId(), createdSecs: created++ });
  const text = JSON.stringify(body);
  return { text, headers: sign("twin-actor", "bfdeep-twin-secret", text, { id: body.id, type: body.type }) };
}
async function post(edge, d) {
  const res = await fetch(`${edge.url}/hooks/bfdeep-twin`, { method: "POST", headers: { "Content-Type": "application/json", ...d.headers }, body: d.text });
  return { status: res.status, body: await res.json() };
}
/** A socket's view of listen `id`: its snapshot, then each change applied. */
function view(socket, id) {
  const docs = new Map();
  for (const m of messages(socket)) {
    if (m.id !== id) continue;
    if (m.type === "snapshot") { if (m.since === undefined) docs.clear(); for (const d of m.docs) docs.set(d.path, d.data); for (const p of m.removed ?? []) docs.delete(p); }
    if (m.type === "change") { if (m.kind === "removed") docs.delete(m.path); else docs.set(m.path, m.data); }
  }
  return docs;
}

describe("a deep document in a hub's batched upstream frame", () => {
  let edge;
  before(async () => {
    edge = await startEdge({ vars: { ...withSources(extra), HOOKFEED_HUBS: JSON.stringify({ [TENANT]: 1 }) } });
  });
  after(async () => edge?.stop());

  it("a hub subscriber's view, and a new listen's at the hub, equal the feed's after bursts that carry the deepest document a body may have", async (t) => {
    const token = mintToken({ tenant: TENANT });
    const tag = `deep${Date.now()}`;
    const projects = Array.from({ length: 6 }, (_, i) => 990000 + i);
    const sub = await open(edge, ["hookfeed"], token);
    sub.ws.send(JSON.stringify({ type: "listen", id: 1, target: { collection: "projects", where: [{ field: "batch", op: "==", value: tag }] } }));
    // Create the projects first, one by one (no batching yet).
    for (const p of projects) assert.equal((await post(edge, delivery(p, 1, tag))).status, 200);
    await settle([sub], 700, 15000);
    // Past the cap: refused with a clear error, nothing stored.
    const tooDeep = await post(edge, delivery(projects[5], 49, tag, { deep: nested(63) }));
    assert.equal(tooDeep.status, 400, JSON.stringify(tooDeep.body));
    assert.equal(tooDeep.body.error.code, "invalid_json");
    assert.match(tooDeep.body.error.message, /65 levels deep, past the 64/);
    let rounds = 0;
    const parseFailed = () => /did not parse/.test(edge.log());
    while (rounds < 3 && !parseFailed()) {
      rounds++;
      // The deepest document a body may carry (64 levels), among neighbours in one group.
      const burst = Array.from({ length: 30 }, (_, k) => k === 15
        ? delivery(projects[5], 50 + rounds, tag, { deep: nested(62) })
        : delivery(projects[k % 5], 10 * rounds + (k % 10), tag));
      const acks = await Promise.all(burst.map((d) => post(edge, d)));
      assert.ok(acks.every((a) => a.status === 200), JSON.stringify(acks.filter((a) => a.status !== 200).map((a) => a.body)));
      await settle([sub], 700, 15000);
    }
    t.diagnostic(`${rounds} round(s); hub log says an upstream frame did not parse: ${parseFailed()}`);
    const mine = view(sub, 1);
    const diffs = [];
    for (const p of projects) {
      const res = await fetch(`${edge.url}/docs/projects/${p}?token=${token}`);
      const truth = await res.json();
      const feedProgress = truth?.data?.progress ?? truth?.docs?.[0]?.data?.progress ?? truth?.progress;
      const hubProgress = mine.get(`projects/${p}`)?.progress;
      if (feedProgress !== hubProgress) diffs.push({ project: p, feed: feedProgress, hubSubscriber: hubProgress });
    }
    // A new listen at the hub now: answered from its mirror.
    const late = await open(edge, ["hookfeed"], token);
    late.ws.send(JSON.stringify({ type: "listen", id: 7, target: { collection: "projects", where: [{ field: "batch", op: "==", value: tag }] } }));
    await settle([late], 700, 15000);
    const fresh = view(late, 7);
    const freshDiffs = [];
    for (const p of projects) {
      const truth = await (await fetch(`${edge.url}/docs/projects/${p}?token=${token}`)).json();
      if (JSON.stringify(truth?.data) !== JSON.stringify(fresh.get(`projects/${p}`))) freshDiffs.push(p);
    }
    t.diagnostic(`diffs (feed vs hub subscriber): ${JSON.stringify(diffs)}; a new listen at the hub differs from the feed for ${JSON.stringify(freshDiffs)}`);
    sub.ws.close();
    late.ws.close();
    assert.deepEqual(diffs, [], "the hub subscriber missed changes the feed committed");
    assert.deepEqual(freshDiffs, [], "a new listen at the hub shows the feed's documents");
    assert.deepEqual(fresh.get(`projects/${projects[5]}`)?.deep, nested(62), "the deep document, whole");
  });
});
