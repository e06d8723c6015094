// Batched frames: a socket that offers the `hookfeed.batch` subprotocol gets the messages of
// one turn of the feed (a group commit's changes to what it watches) in one frame, a JSON
// array; a socket that offers only `hookfeed` gets each message as its own frame, as the
// protocol has always been. Either way each socket reads the same messages in the same
// order: checked against the feed directly and through hubs, with deliveries in flight
// together, and with messages large enough that a batch is split at the frame cap.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { startEdge } from "./support/edge.mjs";
import { arraysOf as arrays, messagesOf as messages, openRaw as open, settle } from "./support/raw-socket.mjs";
import { eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const TENANT = "bf";
const extra = [{ name: "bf-twin", scheme: "twin-actor", tenant: TENANT, secret: "bf-twin-secret" }];
/** core's `MAX_BATCHED_FRAME_BYTES`. */
const MAX_BATCHED_FRAME_BYTES = 256 * 1024;

let nextProject = 770000;
let created = nowSecs() - 600;
function delivery(project, progress, tag, pad = 0) {
  // Each a second after the last: every delivery changes its document, whatever order
  // the concurrent ones commit in... unless an older one commits after a newer one, which
  // then changes nothing; both sockets see the same either way.
  const body = twinActorEvent("project.processing", { project_id: project, progress, batch: tag, ...(pad ? { pad: "x".repeat(pad) } : {}) },
    { id: eventId(), createdSecs: created++ });
  const text = JSON.stringify(body);
  return { text, headers: sign("twin-actor", "bf-twin-secret", text, { id: body.id, type: body.type }) };
}
async function post(edge, d) {
  const res = await fetch(`${edge.url}/hooks/bf-twin`, { method: "POST", headers: { "Content-Type": "application/json", ...d.headers }, body: d.text });
  return { status: res.status, body: await res.json() };
}



/**
 * Rounds of `perRound` deliveries in flight together to `projects` documents of one tag,
 * watched by a plain and a batched socket each listening to the tag's query and one of its
 * documents. Returns the sockets once a batched frame was seen (at most `maxRounds`).
 */
async function burst(edge, { perRound = 40, maxRounds = 6, pad = 0 } = {}) {
  const token = mintToken({ tenant: TENANT });
  const plain = await open(edge, ["hookfeed"], token);
  const batched = await open(edge, ["hookfeed.batch", "hookfeed"], token);
  const tag = `bf${nextProject}`;
  const projects = Array.from({ length: 5 }, () => nextProject++);
  for (const s of [plain, batched]) {
    s.ws.send(JSON.stringify({ type: "listen", id: 1, target: { collection: "projects", where: [{ field: "batch", op: "==", value: tag }] } }));
    s.ws.send(JSON.stringify({ type: "listen", id: 2, target: { doc: `projects/${projects[0]}` } }));
  }
  await settle([plain, batched], 300);
  let rounds = 0;
  const statuses = [];
  while (rounds < maxRounds && arrays(batched).length === 0) {
    rounds++;
    const acks = await Promise.all(Array.from({ length: perRound }, (_, k) => post(edge, delivery(projects[k % projects.length], k, tag, pad))));
    statuses.push(...acks.map((a) => a.status));
    await settle([plain, batched]);
  }
  return { plain, batched, rounds, statuses };
}

function checkParity({ plain, batched, rounds, statuses }, t) {
  assert.ok(statuses.every((s) => s === 200), `every delivery accepted: ${[...new Set(statuses)]}`);
  assert.equal(plain.ws.protocol, "hookfeed", "a socket that offers only hookfeed speaks it");
  assert.equal(batched.ws.protocol, "hookfeed.batch", "a socket that offers hookfeed.batch gets it");
  assert.deepEqual(arrays(plain), [], "a plain socket never gets a batched frame");
  const batches = arrays(batched).map((f) => JSON.parse(f).length);
  t.diagnostic(`${rounds} round(s); batched frames carried ${batches.join(", ")} messages; plain frames ${plain.frames.length}, batched ${batched.frames.length}`);
  assert.ok(batches.length > 0 && batches.every((n) => n >= 2), "deliveries in flight together reach a batched socket in a frame of several");
  const [p, b] = [messages(plain), messages(batched)];
  assert.ok(p.filter((m) => m.type === "change").length >= 10, "the rounds made changes");
  // Each listen's messages, in order: two listens' messages for one change may interleave
  // differently on two sockets (the index's order), and neither order is promised.
  for (const id of [1, 2]) {
    assert.deepEqual(b.filter((m) => m.id === id), p.filter((m) => m.id === id), `listen ${id}: the batched socket reads the plain socket's messages, in order`);
  }
  assert.equal(b.length, p.length, "and no others");
  for (const id of [1, 2]) {
    const seqs = b.filter((m) => m.type === "change" && m.id === id).map((m) => m.seq);
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `listen ${id}: each change once, in seq order`);
  }
  assert.ok(b.some((m) => m.type === "change" && m.id === 2), "the document listen saw its changes");
}

/** A burst checked for parity (and by `more`), its sockets closed after. */
async function checkedBurst(edge, t, options = {}, more = () => {}) {
  const run = await burst(edge, options);
  try {
    checkParity(run, t);
    more(run);
  } finally {
    run.plain.ws.close();
    run.batched.ws.close();
  }
}

describe("batched frames", () => {
  let edge;
  before(async () => {
    edge = await startEdge({ vars: withSources(extra) });
  });
  after(async () => edge?.stop());

  it("a socket that offers hookfeed.batch reads a group commit's changes in one frame, the same messages a plain socket reads one by one", (t) =>
    checkedBurst(edge, t));

  it("splits a batch at the frame cap and never sends a larger batched frame", async (t) => {
    // 40 KiB documents, 40 in flight: a turn's changes for one socket pass 256 KiB.
    await checkedBurst(edge, t, { perRound: 40, pad: 40_000 }, (run) => {
      const sizes = arrays(run.batched).map((f) => Buffer.byteLength(f));
      t.diagnostic(`batched frame sizes: ${sizes.join(", ")} bytes`);
      assert.ok(sizes.every((n) => n <= MAX_BATCHED_FRAME_BYTES), "no batched frame past the cap");
    });
  });
});

describe("batched frames through hubs", () => {
  let edge;
  before(async () => {
    edge = await startEdge({ vars: { ...withSources(extra), HOOKFEED_HUBS: JSON.stringify({ [TENANT]: 2 }) } });
  });
  after(async () => edge?.stop());

  it("a hub reads the feed's batched frames and sends its own sockets the same messages, batched or not", (t) =>
    checkedBurst(edge, t));
});
