// The building blocks of the scenarios: paced and ordered senders, subscriber waves,
// CPU and frame accounting around a phase, and the probe that checks an edge's API first.

import { closeAll, cpuDelta, getHealthz, nowMs, openSubscriber, pool, postDelivery, round, sleep, summarize, twinActorDelivery } from "./lib.mjs";
import { O } from "./options.mjs";

export const SETTLE_MS = 300;
/** A phase during which other processes kept this many cores busy is "noisy". */
export const NOISY_CORES = 0.5;
export const pad = (i, w = 6) => String(i).padStart(w, "0");

// ---------------------------------------------------------------------------------------
// Building blocks

/**
 * Sends `count` deliveries from `make(i)` (called at send time, so `sent_at` is the real send
 * time) at `ratePerSec`; resolves with the acks. `ordered`: never more than one in flight, as
 * a provider sending one document's events in order would (events to one document that
 * overtook each other would apply out of order, and the older one would change nothing).
 */
export async function sendPaced(base, count, ratePerSec, make, { ordered = false } = {}) {
  const interval = 1000 / ratePerSec;
  const start = nowMs();
  const acks = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * interval - nowMs();
    if (wait > 1) await sleep(wait);
    if (ordered && i > 0) await acks[i - 1];
    acks.push(postDelivery(base, make(i)));
  }
  const all = await Promise.all(acks);
  all.effectiveRatePerSec = round(((count - 1) / (nowMs() - start)) * 1000, 2);
  return all;
}

/** Sends deliveries one after another (each after the previous ack), so they apply in order. */
/** Sends `count` deliveries with `concurrency` in flight: deliveries a group commit shares. */
export async function sendConcurrent(base, count, concurrency, make) {
  return pool(
    Array.from({ length: count }, (_, i) => () => postDelivery(base, make(i))),
    concurrency,
  );
}

export async function sendSequential(base, count, make) {
  const acks = [];
  for (let i = 0; i < count; i++) acks.push(await postDelivery(base, make(i)));
  return acks;
}

/** CPU ms by role over a phase; `otherCores` = other processes' load meanwhile, in cores (noise). */
export function cpuFigures(cpu) {
  return {
    runtime: cpu.runtime,
    proxy: cpu.proxy,
    wrangler: cpu.wrangler,
    driver: round(cpu.driver, 1),
    other: cpu.other ?? null,
    otherCores: cpu.other == null ? null : round(cpu.other / cpu.wallMs, 2),
  };
}

export function ackErrors(acks) {
  const bad = acks.filter((a) => a.status !== 200 || a.json?.received !== true || a.json?.duplicate !== false);
  return { count: bad.length, sample: bad.slice(0, 3).map((a) => `${a.status} ${a.text.slice(0, 160)}`) };
}

/** Opens `n` subscribers on `docOf(i)`; resolves with them and the connect phase's figures. */
export async function connectSubscribers(edge, via, n, docOf, onChange, startIndex = 0, { protocols } = {}) {
  const url = edge.feedUrl(via);
  const before = edge.cpu();
  const t0 = nowMs();
  const subs = await pool(
    Array.from({ length: n }, (_, k) => () => openSubscriber(url, docOf(startIndex + k), onChange, { protocols })),
    O.connectConcurrency,
  );
  const wallMs = nowMs() - t0;
  await sleep(SETTLE_MS);
  const cpu = cpuDelta(before, edge.cpu());
  const failed = subs.filter((s) => !s.ok);
  return {
    subs: subs.filter((s) => s.ok),
    failedSubs: failed,
    connect: {
      subscribers: n,
      failed: failed.length,
      failureSample: [...new Set(failed.map((s) => s.error))].slice(0, 3),
      seconds: round(wallMs / 1000, 2),
      perSec: round((n / wallMs) * 1000, 1),
      connectMs: summarize(subs.map((s) => s.connectMs)),
      runtimeCpuMsPerSubscriber: round(cpu.runtime / n, 4),
      proxyCpuMsPerSubscriber: round(cpu.proxy / n, 4),
    },
  };
}

/**
 * Collects change frames tagged `tag` until `expected` arrived or `timeoutMs` after
 * `sendDone` resolved. Returns latencies (receipt − sent_at) and counts.
 */
export function collector() {
  const c = {
    tag: null,
    expected: 0,
    latencies: [],
    eventMax: new Map(),
    received: 0,
    stray: 0,
    firstAt: null,
    lastAt: null,
    waiter: null,
    onChange: (frame, at) => {
      const d = frame.data;
      if (!c.tag || !d || d.bench_tag !== c.tag) {
        c.stray++;
        return;
      }
      c.received++;
      c.latencies.push(at - d.sent_at);
      // The slowest delivery of each event: a p99 over 1,000 subscribers is decided by
      // the few slowest events, and this says which.
      if (typeof d.bench_i === "number") c.eventMax.set(d.bench_i, Math.max(c.eventMax.get(d.bench_i) ?? 0, at - d.sent_at));
      c.firstAt ??= at;
      c.lastAt = at;
      if (c.received >= c.expected && c.waiter) c.waiter();
    },
    arm(tag, expected) {
      c.tag = tag;
      c.expected = expected;
      c.latencies = [];
      c.eventMax = new Map();
      c.received = 0;
      c.stray = 0;
      c.firstAt = c.lastAt = null;
    },
    async wait(timeoutMs) {
      if (c.received >= c.expected) return true;
      const done = new Promise((r) => (c.waiter = r));
      const t = await Promise.race([done.then(() => true), sleep(timeoutMs).then(() => false)]);
      c.waiter = null;
      return t;
    },
  };
  return c;
}

/**
 * The tenant's feed object as admin `GET /healthz` shows it: change frames it sent since it
 * woke (`frames_sent`: one per socket on the feed, one per hub with hubs), its sockets, its
 * events, and the same per hub when the tenant is spread over hubs. Null without the
 * admin token or on an edge that does not report it (the baseline).
 */
export async function feedHealth(edge, tenant = "demo") {
  const admin = edge.def.vars.ADMIN_TOKEN;
  if (!admin || edge.def.name.startsWith("baseline")) return null;
  try {
    const h = await getHealthz(edge.h.base, admin);
    const feed = h?.feeds?.[tenant];
    if (!feed || typeof feed.frames_sent !== "number") return null;
    const hubs = Array.isArray(feed.hubs) ? feed.hubs : [];
    return {
      framesSent: feed.frames_sent,
      messagesSent: feed.sent?.messages_sent ?? null,
      subscribers: feed.subscribers,
      events: feed.events,
      seq: feed.seq ?? null,
      // Requests the feed object served since it woke (sockets' frames are not requests):
      // with hubs, their /mirror loads.
      requests: feed.requests_since_wake ?? null,
      // Hand-offs from the Worker since it woke, and the deliveries they carried (group commit).
      handoffRequests: feed.handoffs?.requests ?? null,
      handoffDeliveries: feed.handoffs?.deliveries ?? null,
      // Counters restart when the object wakes (from hibernation or eviction).
      wokeAt: feed.woke_at ?? null,
      hubs: hubs.length,
      hubSubscribers: hubs.map((x) => x.subscribers),
      hubFramesSent: hubs.reduce((a, x) => a + (x.frames_sent ?? 0), 0),
      hubsUpstream: hubs.filter((x) => x.upstream).length,
    };
  } catch {
    return null;
  }
}

/** What the feed (and its hubs) sent between two feedHealth() readings, per event. */
function framesDelta(before, after, events) {
  // The feed woke meanwhile: its counters restarted, the difference means nothing.
  if (!before || !after || before.wokeAt !== after.wokeAt) return null;
  const feed = after.framesSent - before.framesSent;
  const hubs = after.hubFramesSent - before.hubFramesSent;
  const messages = typeof after.messagesSent === "number" && typeof before.messagesSent === "number" ? after.messagesSent - before.messagesSent : null;
  return {
    feedFrames: feed,
    feedMessages: messages,
    // Messages per frame: above 1 where sockets read batched frames and a turn had several.
    feedMessagesPerFrame: messages !== null && feed ? round(messages / feed, 3) : null,
    feedFramesPerEvent: round(feed / events, 3),
    hubFrames: hubs,
    hubFramesPerEvent: round(hubs / events, 3),
    hubs: after.hubs,
    feedSockets: after.subscribers,
    hubSockets: after.hubSubscribers,
  };
}

/** Runs one broadcast phase: events to `doc`'s project from `send`, measured. */
export async function broadcastPhase(edge, col, { tag, subscribers, events, send, waitMs = 10000, frames = false }) {
  col.arm(tag, subscribers * events);
  // The feed's frame counters, read outside the CPU window (healthz asks every hub).
  const healthBefore = frames ? await feedHealth(edge) : null;
  const before = edge.cpu();
  const t0 = nowMs();
  const acks = await send();
  const sendDoneAt = nowMs();
  const complete = await col.wait(waitMs);
  await sleep(SETTLE_MS);
  const cpu = cpuDelta(before, edge.cpu());
  const healthAfter = frames ? await feedHealth(edge) : null;
  const lat = summarize(col.latencies);
  const spanMs = (col.lastAt ?? sendDoneAt) - t0;
  const received = col.received;
  const ingestCpu = edge.ingestCpuPerDelivery === null ? null : edge.ingestCpuPerDelivery * events;
  const ack = summarize(acks.map((a) => a.ms));
  return {
    subscribers,
    events,
    expected: subscribers * events,
    received,
    missing: subscribers * events - received,
    complete,
    stray: col.stray,
    ackErrors: ackErrors(acks),
    latencyMs: { p50: round(lat.p50, 2), p99: round(lat.p99, 2), max: round(lat.max, 2), mean: round(lat.mean, 2) },
    slowestEvents: [...col.eventMax].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([i, ms]) => ({ event: i, maxMs: round(ms, 1) })),
    ackMs: { p50: round(ack.p50, 2), p99: round(ack.p99, 2) },
    sendRatePerSec: acks.effectiveRatePerSec ?? null,
    seconds: round(spanMs / 1000, 3),
    msgsPerSec: round((received / spanMs) * 1000, 1),
    cpuMs: cpuFigures(cpu),
    runtimeCpuMsPerMsg: received ? round(cpu.runtime / received, 5) : null,
    runtimeCpuMsPerMsgNetOfIngest: received && ingestCpu !== null ? round((cpu.runtime - ingestCpu) / received, 5) : null,
    proxyCpuMsPerMsg: received ? round(cpu.proxy / received, 5) : null,
    frames: framesDelta(healthBefore, healthAfter, events),
  };
}

// ---------------------------------------------------------------------------------------
// Probe: is the edge's API there yet?

export async function probe(edge) {
  const d = twinActorDelivery({
    secret: edge.secret,
    id: `evt_probe_${Date.now()}`,
    type: "project.created",
    projectId: 999999,
    createdAt: edge.nextCreated(),
    bytes: O.bytes,
  });
  const first = await postDelivery(edge.h.base, d);
  const again = await postDelivery(edge.h.base, d);
  const tampered = await postDelivery(edge.h.base, { body: d.body.replace("scene_project", "scene_projecT"), headers: d.headers });
  const ingest = {
    ok: first.status === 200 && first.json?.duplicate === false && Number.isInteger(first.json?.seq),
    first: `${first.status} ${first.text.slice(0, 200)}`,
    duplicate: `${again.status} ${again.text.slice(0, 200)}`,
    tampered: `${tampered.status} ${tampered.text.slice(0, 200)}`,
  };
  ingest.ok &&= again.status === 200 && again.json?.duplicate === true && again.json?.seq === first.json?.seq;
  ingest.ok &&= tampered.status === 401;

  const sub = await openSubscriber(edge.feedUrl("proxy"), "projects/999999", () => {}, { timeoutMs: 10000 });
  const feed = { ok: sub.ok, snapshot: sub.snapshot ? JSON.stringify(sub.snapshot).slice(0, 300) : null, error: sub.error ?? null };
  if (sub.ok) {
    const doc = sub.snapshot.docs?.[0];
    feed.ok = sub.snapshot.id === 1 && Number.isInteger(sub.snapshot.seq) && doc?.path === "projects/999999" && doc?.data?.status === "created";
    if (!feed.ok) feed.error = "snapshot does not show projects/999999 as created";
    // A change reaches the listener.
    let change = null;
    const got = new Promise((r) => {
      sub.ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === "change") {
          change = f;
          r();
        }
      };
    });
    await postDelivery(
      edge.h.base,
      twinActorDelivery({
        secret: edge.secret,
        id: `evt_probe_c_${Date.now()}`,
        type: "project.completed",
        projectId: 999999,
        createdAt: edge.nextCreated(),
        bytes: O.bytes,
      }),
    );
    await Promise.race([got, sleep(5000)]);
    feed.change = change ? JSON.stringify(change).slice(0, 300) : null;
    const ok =
      change?.id === 1 &&
      change.path === "projects/999999" &&
      change.kind === "modified" &&
      change.data?.status === "completed" &&
      change.data?.progress === 100 &&
      typeof change.data?.final_video_url === "string";
    if (feed.ok && !ok) feed.error = "no well-formed change frame after project.completed";
    feed.ok &&= ok;
    await closeAll([sub], 3000);
  }
  return { ingest, feed };
}
