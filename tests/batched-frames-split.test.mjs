// A turn split at the outbox's 4 MiB send mark (OUTBOX_SEND_AT_BYTES; the second attack review's probe).
// A subscriber picks its listen ids, so one change to a 40 KiB document watched by 30
// listens with distinct ids is 30 texts (1.2 MiB): a group commit's turn passes the mark
// every few changes and is sent in several parts. A batched socket must still read exactly
// the plain socket's messages, per listen, in order, each once (limited-query deltas among
// them), and no batched frame may pass 256 KiB. Through the feed, and through hubs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { arraysOf as arrays, messagesOf as messages, openRaw as open, settle } from "./support/raw-socket.mjs";
import { eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const TENANT = "bf2";
const extra = [{ name: "bf2-twin", scheme: "twin-actor", tenant: TENANT, secret: "bf2-twin-secret" }];
const LISTENS = 30;

let nextProject = 880000;
let created = nowSecs() - 600;
function delivery(project, progress, tag, pad) {
  const body = twinActorEvent("project.processing", { project_id: project, progress, batch: tag, pad: "x".repeat(pad) }, { id: eventId(), createdSecs: created++ });
  const text = JSON.stringify(body);
  return { text, headers: sign("twin-actor", "bf2-twin-secret", text, { id: body.id, type: body.type }) };
}
async function post(edge, d) {
  const res = await fetch(`${edge.url}/hooks/bf2-twin`, { method: "POST", headers: { "Content-Type": "application/json", ...d.headers }, body: d.text });
  await res.arrayBuffer();
  return res.status;
}

async function splitTurn(edge, t) {
  const token = mintToken({ tenant: TENANT });
  const plain = await open(edge, ["hookfeed"], token);
  const batched = await open(edge, ["hookfeed.batch", "hookfeed"], token);
  const tag = `bf2-${nextProject}`;
  const projects = Array.from({ length: 8 }, () => nextProject++);
  const where = [{ field: "batch", op: "==", value: tag }];
  for (const s of [plain, batched]) {
    for (let id = 1; id <= LISTENS; id++) s.ws.send(JSON.stringify({ type: "listen", id, target: { collection: "projects", where } }));
    s.ws.send(JSON.stringify({ type: "listen", id: 100, target: { collection: "projects", where, orderBy: [{ field: "progress", direction: "desc" }], limit: 3 } }));
    s.ws.send(JSON.stringify({ type: "listen", id: 101, target: { doc: `projects/${projects[0]}` } }));
  }
  await settle([plain, batched], 300);
  let statuses = [];
  for (let round = 0; round < 3; round++) {
    statuses.push(...await Promise.all(Array.from({ length: 32 }, (_, k) => post(edge, delivery(projects[k % projects.length], (round * 32 + k) % 101, tag, 40_000)))));
    await settle([plain, batched], 800, 60000);
  }
  try {
    assert.ok(statuses.every((s) => s === 200), `deliveries accepted: ${[...new Set(statuses)]}`);
    const [p, b] = [messages(plain), messages(batched)];
    const sizes = arrays(batched).map((f) => Buffer.byteLength(f));
    t.diagnostic(`plain: ${plain.frames.length} frames / ${p.length} messages; batched: ${batched.frames.length} frames / ${b.length} messages, ${sizes.length} arrays (max ${Math.max(0, ...sizes)} B)`);
    assert.ok(sizes.every((n) => n <= 256 * 1024), "no batched frame past 256 KiB");
    for (const id of [...Array.from({ length: LISTENS }, (_, i) => i + 1), 100, 101]) {
      const want = p.filter((m) => m.id === id);
      const got = b.filter((m) => m.id === id);
      assert.deepEqual(got.map((m) => [m.type, m.seq, m.path]), want.map((m) => [m.type, m.seq, m.path]), `listen ${id}: the plain socket's messages, in order`);
      const seqs = got.filter((m) => m.type === "change").map((m) => m.seq);
      assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `listen ${id}: each change once, in seq order`);
    }
    assert.equal(b.length, p.length, "and no others");
    assert.ok(p.filter((m) => m.type === "change").length > 40, "the rounds made changes");
  } finally {
    plain.ws.close();
    batched.ws.close();
  }
}

describe("batched frames: a turn split at the send mark", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: withSources(extra) }); });
  after(async () => edge?.stop());
  it("feed: 30 listens × 40 KiB documents, a group commit's turn sent in parts, read in order once", async (t) => splitTurn(edge, t));
});

describe("batched frames: a turn split at the send mark, through hubs", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: { ...withSources(extra), HOOKFEED_HUBS: JSON.stringify({ [TENANT]: 2 }) } }); });
  after(async () => edge?.stop());
  it("hubs: the same through a hub", async (t) => splitTurn(edge, t));
});
