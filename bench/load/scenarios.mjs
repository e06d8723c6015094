// The scenarios, one function each: what it sends and opens against one edge, and the
// figures it returns (bench/load/README.md, "Scenarios").

import { BATCH_PROTOCOLS, closeAll, cpuDelta, feedStorage, getHealthz, log, maxOpenFiles, median, nowMs, openFds, openSocket, pool, postDelivery, round, safeGet, sleep, summarize, twinActorDelivery } from "./lib.mjs";
import { O, quick } from "./options.mjs";
import { NOISY_CORES, SETTLE_MS, ackErrors, broadcastPhase, collector, connectSubscribers, cpuFigures, feedHealth, pad, sendConcurrent, sendPaced, sendSequential } from "./phases.mjs";

export async function scenarioIngest(edge, via, bytes = O.bytes) {
  const base = edge.url(via);
  // Other body sizes than --bytes: their own event ids and projects (300,000 + 100,000 × k).
  const sizeIndex = O.ingestBytes.indexOf(bytes);
  const tag = sizeIndex > 0 ? `${via}_${bytes}` : via;
  const projectBase = sizeIndex > 0 ? 300000 + 100000 * sizeIndex + (via === "direct" ? 50000 : 0) : via === "direct" ? 50000 : 10000;
  // Warm-up (not measured): JIT, the tenant's object, SQLite pages.
  await pool(
    Array.from({ length: 100 }, (_, i) => () =>
      postDelivery(
        base,
        twinActorDelivery({ secret: edge.secret, id: `evt_warm_${tag}_${pad(i)}`, type: "project.processing", projectId: 900000 + (i % 10), createdAt: edge.nextCreated(), progress: i % 100, bytes }),
      ),
    ),
    O.concurrency,
  );
  const perProject = Math.ceil(O.ingestCount / O.projects);
  const runs = [];
  for (let r = 0; r < O.ingestRuns; r++) {
    const created0 = Date.now() - 3600 * 1000;
    const deliveries = Array.from({ length: O.ingestCount }, (_, i) => {
      const k = Math.floor(i / O.projects); // step within its project
      const type = k === 0 ? "project.created" : k === perProject - 1 ? "project.completed" : "project.processing";
      return twinActorDelivery({
        secret: edge.secret,
        id: `evt_ingest_${tag}_${r}_${pad(i)}`,
        type,
        projectId: projectBase + 1000 * r + (i % O.projects),
        createdAt: created0 + k * 1000,
        progress: Math.round((k / perProject) * 100),
        bytes,
      });
    });
    // The feed's hand-off counters, read outside the CPU window (null on the baseline).
    const feedBefore = await feedHealth(edge);
    const before = edge.cpu();
    const t0 = nowMs();
    const acks = await pool(deliveries.map((d) => () => postDelivery(base, d)), O.concurrency);
    const wallMs = nowMs() - t0;
    await sleep(SETTLE_MS);
    const cpu = cpuDelta(before, edge.cpu());
    const feedAfter = await feedHealth(edge);
    const sameWake = feedBefore?.handoffRequests != null && feedAfter?.handoffRequests != null && feedBefore.wokeAt === feedAfter.wokeAt;
    const feedRequests = sameWake ? feedAfter.handoffRequests - feedBefore.handoffRequests : null;
    const handedOff = sameWake ? feedAfter.handoffDeliveries - feedBefore.handoffDeliveries : null;
    const ack = summarize(acks.map((a) => a.ms));
    const run = {
      deliveries: O.ingestCount,
      bodyBytes: deliveries[0].body.length,
      errors: ackErrors(acks),
      seconds: round(wallMs / 1000, 3),
      deliveriesPerSec: round((O.ingestCount / wallMs) * 1000, 1),
      ackMs: { p50: round(ack.p50, 2), p99: round(ack.p99, 2), max: round(ack.max, 2) },
      cpuMs: cpuFigures(cpu),
      runtimeCpuMsPerDelivery: round(cpu.runtime / O.ingestCount, 4),
      proxyCpuMsPerDelivery: round(cpu.proxy / O.ingestCount, 4),
      wranglerCpuMsPerDelivery: round(cpu.wrangler / O.ingestCount, 4),
      // Group commit: the feed requests the deliveries took, and deliveries per request.
      feedRequests,
      deliveriesPerFeedRequest: feedRequests ? round(handedOff / feedRequests, 2) : null,
      feedRequestsPerSec: feedRequests != null ? round((feedRequests / wallMs) * 1000, 1) : null,
    };
    log(`${edge.def.name} ingest (${via}, ${bytes} B) run ${r + 1}/${O.ingestRuns}: ${run.deliveriesPerSec}/s, ack p50 ${run.ackMs.p50} p99 ${run.ackMs.p99} ms, runtime ${run.runtimeCpuMsPerDelivery} ms CPU/delivery, errors ${run.errors.count}${feedRequests != null ? `, ${run.deliveriesPerFeedRequest} deliveries per feed request (${run.feedRequestsPerSec} feed requests/s)` : ""}`);
    runs.push(run);
  }
  // Medians over the runs during which the rest of the machine was quiet, if any was.
  const quiet = runs.filter((r) => (r.cpuMs.otherCores ?? 0) < NOISY_CORES);
  const use = quiet.length ? quiet : runs;
  const med = (f) => round(median(use.map(f)), 4);
  const result = {
    via,
    bytes,
    concurrency: O.concurrency,
    runs,
    medianOver: quiet.length ? `${quiet.length} quiet runs` : `all ${runs.length} runs (none quiet)`,
    median: {
      deliveriesPerSec: med((r) => r.deliveriesPerSec),
      ackP50Ms: med((r) => r.ackMs.p50),
      ackP99Ms: med((r) => r.ackMs.p99),
      runtimeCpuMsPerDelivery: med((r) => r.runtimeCpuMsPerDelivery),
      proxyCpuMsPerDelivery: med((r) => r.proxyCpuMsPerDelivery),
      wranglerCpuMsPerDelivery: med((r) => r.wranglerCpuMsPerDelivery),
      errors: med((r) => r.errors.count),
    },
  };
  if (bytes === O.bytes && (via === O.via || edge.ingestCpuPerDelivery === null)) edge.ingestCpuPerDelivery = result.median.runtimeCpuMsPerDelivery;
  return result;
}

/** The result key of the ingest scenario for `via` and a body size (`ingest`, `ingest_direct` at --bytes). */
export function ingestKey(via, bytes) {
  const key = via === "proxy" ? "ingest" : `ingest_${via}`;
  return bytes === O.bytes ? key : `${key}_${bytes}`;
}

/** A client address for `cf-connecting-ip`: 10.x.y.z from a counter, never the same twice per edge. */
function nextAddress(edge) {
  edge.addresses = (edge.addresses ?? 0) + 1;
  const k = edge.addresses;
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

/** A signed twin-actor delivery from `address`; `forged`: signed with a wrong secret (→ 401). */
function clientDelivery(edge, { id, projectId, address, forged = false, bytes = O.bytes }) {
  const d = twinActorDelivery({
    secret: forged ? `${edge.secret}-not-the-secret` : edge.secret,
    id,
    type: "project.processing",
    projectId,
    // Forged ones never reach a feed: they leave the edge's monotonic clock alone.
    createdAt: forged ? Date.now() - 3600 * 1000 : edge.nextCreated(),
    progress: projectId % 100,
    bytes,
  });
  d.headers["cf-connecting-ip"] = address;
  return d;
}

function statusCounts(acks) {
  const counts = {};
  for (const a of acks) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** POSTs `deliveries` at concurrency `c`, measuring the runtime's CPU around it. */
async function measuredBatch(edge, base, deliveries, c = O.concurrency) {
  const before = edge.cpu();
  const t0 = nowMs();
  const acks = await pool(deliveries.map((d) => () => postDelivery(base, d)), c);
  const wallMs = nowMs() - t0;
  await sleep(SETTLE_MS); // background work (waitUntil: the refusal budget's rate-limit call)
  const cpu = cpuDelta(before, edge.cpu());
  const ack = summarize(acks.map((a) => a.ms));
  const n = deliveries.length;
  return {
    deliveries: n,
    statuses: statusCounts(acks),
    sample: [...new Set(acks.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 120)}`))].slice(0, 2),
    perSec: round((n / wallMs) * 1000, 1),
    ackMs: { p50: round(ack.p50, 2), p99: round(ack.p99, 2) },
    cpuMs: cpuFigures(cpu),
    runtimeCpuMsPerDelivery: round(cpu.runtime / n, 4),
    proxyCpuMsPerDelivery: round(cpu.proxy / n, 4),
  };
}

/**
 * What a refusal costs the runtime: `refusalCount` genuine deliveries, the same number
 * forged (a wrong signature, ~--bytes, ≤ 50 per client address: under the post-move budget
 * of 100 refusals per address per minute, so each is answered 401 after its MAC), and the
 * same number from one address already past its budget (answered 429 before the body is
 * read, where the edge has such a budget). Repeated --refusal-runs times, interleaved.
 */
export async function scenarioRefusal(edge) {
  const via = O.refusalVia;
  const base = edge.url(via);
  const n = O.refusalCount;
  const PER_ADDRESS = 50;
  const genuineAddress = "203.0.113.10";
  let g = 0;
  let f = 0;
  const genuine = (count) =>
    Array.from({ length: count }, () => {
      const i = g++;
      return clientDelivery(edge, { id: `evt_refusal_g_${pad(i, 7)}`, projectId: 600000 + (i % 1000), address: genuineAddress });
    });
  let address = null;
  const forged = (count, fixedAddress) =>
    Array.from({ length: count }, () => {
      const i = f++;
      if (!fixedAddress && i % PER_ADDRESS === 0) address = nextAddress(edge);
      return clientDelivery(edge, { id: `evt_refusal_f_${pad(i, 7)}`, projectId: 700000 + (i % 1000), address: fixedAddress ?? address, forged: true });
    });
  // Warm-up (not measured): both paths, JIT and the feed.
  await pool([...genuine(100), ...forged(100)].map((d) => () => postDelivery(base, d)), O.concurrency);
  const runs = [];
  for (let r = 0; r < O.refusalRuns; r++) {
    const run = {};
    // The floor: a request the Worker answers 404 from its route table, touching nothing.
    run.floor = await measuredBatch(edge, base, Array.from({ length: n }, () => ({ method: "GET", path: "/bench-no-such-route", headers: {} })));
    run.genuine = await measuredBatch(edge, base, genuine(n));
    run.forged = await measuredBatch(edge, base, forged(n));
    // One address past its budget: refuse it until it is answered 429 (the block is set in
    // the background once the rate limiter says no), then measure.
    const over = nextAddress(edge);
    let spent = 0;
    let limited = false;
    for (; spent < 400 && !limited; spent++) limited = (await postDelivery(base, forged(1, over)[0])).status === 429;
    run.budgetSpent = spent;
    if (limited) run.limited = await measuredBatch(edge, base, forged(n, over));
    else run.limited = { skipped: `no 429 after ${spent} refusals from one address (no refusal budget on this edge)` };
    const ratio = (a, b) => (typeof a === "number" && typeof b === "number" && b > 0 ? round(a / b, 3) : null);
    run.forgedOverGenuine = ratio(run.forged.runtimeCpuMsPerDelivery, run.genuine.runtimeCpuMsPerDelivery);
    run.limitedOverGenuine = ratio(run.limited.runtimeCpuMsPerDelivery, run.genuine.runtimeCpuMsPerDelivery);
    log(
      `${edge.def.name} refusal (${via}) run ${r + 1}/${O.refusalRuns}: runtime CPU ms/request: 404 ${run.floor.runtimeCpuMsPerDelivery}, genuine ${run.genuine.runtimeCpuMsPerDelivery} ${JSON.stringify(run.genuine.statuses)}, forged ${run.forged.runtimeCpuMsPerDelivery} ${JSON.stringify(run.forged.statuses)}, over budget ${run.limited.runtimeCpuMsPerDelivery ?? "–"} ${JSON.stringify(run.limited.statuses ?? run.limited.skipped)} (budget spent after ${spent})`,
    );
    runs.push(run);
  }
  const med = (f) => round(median(runs.map((r) => safeGet(() => f(r)))), 4);
  return {
    via,
    deliveriesPerPhase: n,
    bytes: O.bytes,
    runs,
    median: {
      floorCpuMs: med((r) => r.floor.runtimeCpuMsPerDelivery),
      genuineCpuMs: med((r) => r.genuine.runtimeCpuMsPerDelivery),
      forgedCpuMs: med((r) => r.forged.runtimeCpuMsPerDelivery),
      limitedCpuMs: med((r) => r.limited.runtimeCpuMsPerDelivery),
      forgedOverGenuine: med((r) => r.forgedOverGenuine),
      limitedOverGenuine: med((r) => r.limitedOverGenuine),
      genuinePerSec: med((r) => r.genuine.perSec),
      forgedPerSec: med((r) => r.forged.perSec),
      limitedPerSec: med((r) => r.limited.perSec),
      forged401: med((r) => r.forged.statuses[401] ?? 0),
      limited429: med((r) => r.limited.statuses?.[429] ?? null),
      genuine200: med((r) => r.genuine.statuses[200] ?? 0),
      otherCores: med((r) => Math.max(r.genuine.cpuMs.otherCores ?? 0, r.forged.cpuMs.otherCores ?? 0)),
    },
  };
}

/**
 * A stream of genuine deliveries from one address, one every --abuse-genuine-ms (on a
 * schedule, not waiting for acks), until stop() is called. Resolves with the acks.
 */
function genuineStream(edge, base, tag, address) {
  let stopped = false;
  let i = 0;
  const acks = [];
  const done = (async () => {
    const start = nowMs();
    while (!stopped) {
      const wait = start + i * O.abuseGenuineMs - nowMs();
      if (wait > 1) await sleep(wait);
      if (stopped) break;
      const k = i++;
      acks.push(postDelivery(base, clientDelivery(edge, { id: `evt_${tag}_${pad(k)}`, projectId: 800000 + (edge.abuseProjects = (edge.abuseProjects ?? 0) + 1), address })));
    }
    return Promise.all(acks);
  })();
  return { stop: () => ((stopped = true), done) };
}

/** What the genuine sender got; latency over the accepted deliveries only (a 429 is quick). */
function genuineFigures(acks) {
  const ok = acks.filter((a) => a.status === 200 && a.json?.received === true && a.json?.duplicate === false);
  const lat = summarize(ok.map((a) => a.ms));
  return {
    sent: acks.length,
    accepted: ok.length,
    statuses: statusCounts(acks),
    latencyMs: { p50: round(lat.p50, 2), p99: round(lat.p99, 2), max: round(lat.max, 2) },
  };
}

/**
 * Forged deliveries (wrong signature, ~--bytes) from many client addresses at full speed
 * (concurrency --abuse-concurrency) while genuine ones arrive every --abuse-genuine-ms from
 * another address; first a quiet control (genuine only, --abuse-control-ms). Once per
 * --abuse-addresses entry (e.g. 250,25: 40 or 400 forged per address against a budget of
 * 100). Reports what the genuine sender got, what the forged ones were answered, and how
 * much the feed's database grew (GET /healthz `database_bytes`).
 */
export async function scenarioAbuse(edge) {
  const base = edge.url(O.via);
  const admin = edge.def.vars.ADMIN_TOKEN;
  const storage = async () => feedStorage(await getHealthz(base, admin));
  const results = [];
  for (const addresses of O.abuseAddresses) {
    const r = { forged: O.abuseForged, addresses, concurrency: O.abuseConcurrency, genuineEveryMs: O.abuseGenuineMs, via: O.via };
    const genuineAddress = `203.0.113.${100 + results.length}`;
    const tag = `abuse${addresses}`;
    r.storageStart = await storage();
    // Control: genuine deliveries alone.
    const control = genuineStream(edge, base, `${tag}_ctl`, genuineAddress);
    await sleep(O.abuseControlMs);
    r.control = genuineFigures(await control.stop());
    await sleep(SETTLE_MS);
    r.storageAfterControl = await storage();
    // The flood, with genuine deliveries flowing meanwhile.
    const first = edge.addresses ?? 0;
    const pool_ = Array.from({ length: addresses }, () => nextAddress(edge));
    const forged = Array.from({ length: O.abuseForged }, (_, i) =>
      clientDelivery(edge, { id: `evt_${tag}_forged_${pad(i)}`, projectId: 1 + (i % 500), address: pool_[i % addresses], forged: true }),
    );
    const before = edge.cpu();
    const t0 = nowMs();
    const stream = genuineStream(edge, base, `${tag}_flood`, genuineAddress);
    const forgedAcks = await pool(forged.map((d) => () => postDelivery(base, d)), O.abuseConcurrency);
    const floodMs = nowMs() - t0;
    const genuineAcks = await stream.stop();
    await sleep(SETTLE_MS);
    const cpu = cpuDelta(before, edge.cpu());
    r.storageEnd = await storage();
    r.addressRange = `${first + 1}..${edge.addresses}`;
    // wrangler dev's rate-limit simulation counts in windows aligned to the wall clock's
    // minutes: a flood across a boundary starts every address's budget afresh.
    r.minuteBoundariesCrossed = Math.floor((t0 + floodMs) / 60000) - Math.floor(t0 / 60000);
    r.flood = {
      seconds: round(floodMs / 1000, 2),
      forgedPerSec: round((O.abuseForged / floodMs) * 1000, 1),
      forgedStatuses: statusCounts(forgedAcks),
      forgedSample: [...new Set(forgedAcks.map((a) => `${a.status} ${a.text.slice(0, 100)}`))].slice(0, 3),
      genuine: genuineFigures(genuineAcks),
      genuineSample: [...new Set(genuineAcks.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 100)}`))].slice(0, 2),
      cpuMs: cpuFigures(cpu),
      runtimeCpuMsPerForged: round(cpu.runtime / O.abuseForged, 4),
    };
    const grow = (a, b, k) => (typeof a?.[k] === "number" && typeof b?.[k] === "number" ? b[k] - a[k] : null);
    r.databaseGrowthBytes = grow(r.storageAfterControl, r.storageEnd, "databaseBytes");
    r.controlGrowthBytes = grow(r.storageStart, r.storageAfterControl, "databaseBytes");
    r.eventsStored = grow(r.storageAfterControl, r.storageEnd, "events");
    const fl = r.flood;
    log(
      `${edge.def.name} abuse ${O.abuseForged} forged from ${addresses} addresses: ${fl.forgedPerSec}/s, forged ${JSON.stringify(fl.forgedStatuses)}; genuine ${fl.genuine.accepted}/${fl.genuine.sent} accepted (${JSON.stringify(fl.genuine.statuses)}), p50 ${fl.genuine.latencyMs.p50} p99 ${fl.genuine.latencyMs.p99} ms (control ${r.control.latencyMs.p50} / ${r.control.latencyMs.p99}); database +${r.databaseGrowthBytes} B (${r.eventsStored} events); runtime ${fl.runtimeCpuMsPerForged} ms CPU/forged`,
    );
    results.push(r);
    await sleep(1000);
  }
  return { byAddresses: results };
}

/**
 * Deliveries to the watched document with `--fanout-concurrency` in flight: under group
 * commit several of them commit in one turn of the feed, whose changes reach each socket
 * together. An event older than one already applied changes nothing, so what is counted is
 * what arrived: changes delivered per CPU-second, and messages per frame.
 */
async function concurrentPhase(edge, col, n, subscribers, label) {
  const base = edge.url(O.via);
  const tag = `fan${n}-concurrent-${label}-${Date.now()}`;
  const events = O.fanoutConcurrentEvents;
  const r = await broadcastPhase(edge, col, {
    tag,
    subscribers,
    events,
    send: () => sendConcurrent(base, events, O.fanoutConcurrency, (i) => edge.benchEvent(`evt_${tag}_${pad(i)}`, 1, tag, i)),
    waitMs: 3000,
    frames: true,
  });
  r.concurrency = O.fanoutConcurrency;
  r.changesPerCpuSecond = r.cpuMs.runtime ? round((r.received / r.cpuMs.runtime) * 1000, 0) : null;
  log(`${edge.def.name} fanout ${n} concurrent ${O.fanoutConcurrency} (${label} frames): ${r.received} changes delivered of ${r.expected} events×subscribers, ${r.msgsPerSec} msgs/s, ${r.changesPerCpuSecond} changes per CPU-second, ${r.runtimeCpuMsPerMsg} ms CPU/msg, p99 ${r.latencyMs.p99} ms; messages/frame ${r.frames?.feedMessagesPerFrame ?? "–"}`);
  return r;
}

/** Fan-out runs so far: which subscribers go first alternates between them. */
let fanoutRuns = 0;

export async function scenarioFanout(edge) {
  const results = [];
  for (const n of O.fanoutSubs) {
    const col = collector();
    const doc = "projects/1";
    // Control: the same events, back to back, to a document nobody listens to: what an
    // event costs the runtime without any send (the Worker, the feed's ingest and commit).
    const base0 = edge.url(O.via);
    const tagC = `fan${n}-control-${Date.now()}`;
    const cBefore = edge.cpu();
    const cAcks = await sendSequential(base0, O.fanoutEvents, (i) => edge.benchEvent(`evt_${tagC}_${pad(i)}`, 2, tagC, i));
    await sleep(SETTLE_MS);
    const cCpu = cpuDelta(cBefore, edge.cpu());
    const control = { events: O.fanoutEvents, ackErrors: ackErrors(cAcks), runtimeCpuMsPerEvent: round(cCpu.runtime / O.fanoutEvents, 4), cpuMs: cpuFigures(cCpu) };
    // Subscribers that read batched frames (hookfeed only: the baseline speaks its own
    // protocol) measured beside plain ones, the order alternating from run to run.
    const modes = edge.def.name.startsWith("baseline") ? ["plain"] : fanoutRuns++ % 2 ? ["batched", "plain"] : ["plain", "batched"];
    const protocolsOf = (mode) => (mode === "batched" ? BATCH_PROTOCOLS : undefined);
    log(`${edge.def.name} fanout: connecting ${n} ${modes[0]} subscribers to ${doc}`);
    const { subs, connect } = await connectSubscribers(edge, O.via, n, () => doc, col.onChange, 0, { protocols: protocolsOf(modes[0]) });
    const r = { subscribers: n, doc, via: O.via, control, connect, modes };
    // Net of the control: runtime CPU per delivered message beyond what the events cost alone.
    const net = (phase) => (phase.received ? round((phase.cpuMs.runtime - control.runtimeCpuMsPerEvent * phase.events) / phase.received, 5) : null);
    try {
      if (connect.failed) throw new Error(`${connect.failed} of ${n} subscribers failed: ${connect.failureSample.join("; ")}`);
      const base = edge.url(O.via);
      for (const [k, mode] of modes.entries()) {
        // Plain subscribers' figures are `r.paced`, `r.burst`, `r.concurrent` (the
        // baseline's too); batched subscribers' the same under `r.batched`.
        const into = mode === "plain" ? r : (r.batched = {});
        if (k > 0) {
          await closeAll(subs.splice(0));
          log(`${edge.def.name} fanout: connecting ${n} ${mode} subscribers to ${doc}`);
          const again = await connectSubscribers(edge, O.via, n, () => doc, col.onChange, 0, { protocols: protocolsOf(mode) });
          subs.push(...again.subs);
          into.connect = again.connect;
          if (again.connect.failed) throw new Error(`${again.connect.failed} of ${n} ${mode} subscribers failed: ${again.connect.failureSample.join("; ")}`);
        } else if (mode === "batched") {
          into.connect = connect;
        }
        const ok = subs.length;
        const tagP = `fan${n}-paced-${mode}-${Date.now()}`;
        into.paced = await broadcastPhase(edge, col, {
          tag: tagP,
          subscribers: ok,
          events: O.fanoutEvents,
          send: () => sendPaced(base, O.fanoutEvents, O.rate, (i) => edge.benchEvent(`evt_${tagP}_${pad(i)}`, 1, tagP, i), { ordered: true }),
          frames: true,
        });
        into.paced.ratePerSec = O.rate;
        into.paced.runtimeCpuMsPerMsgNetOfControl = net(into.paced);
        log(`${edge.def.name} fanout ${n} ${mode} paced ${O.rate}/s: p50 ${into.paced.latencyMs.p50} p99 ${into.paced.latencyMs.p99} max ${into.paced.latencyMs.max} ms, ${into.paced.received}/${into.paced.expected} msgs, ${into.paced.runtimeCpuMsPerMsg} ms CPU/msg; slowest events ${into.paced.slowestEvents.map((e) => `#${e.event} ${e.maxMs} ms`).join(", ")}`);
        const tagB = `fan${n}-burst-${mode}-${Date.now()}`;
        into.burst = await broadcastPhase(edge, col, {
          tag: tagB,
          subscribers: ok,
          events: O.fanoutEvents,
          send: () => sendSequential(base, O.fanoutEvents, (i) => edge.benchEvent(`evt_${tagB}_${pad(i)}`, 1, tagB, i)),
          waitMs: 30000,
          frames: true,
        });
        into.burst.runtimeCpuMsPerMsgNetOfControl = net(into.burst);
        into.burst.changesPerCpuSecond = into.burst.cpuMs.runtime ? round((into.burst.received / into.burst.cpuMs.runtime) * 1000, 0) : null;
        log(`${edge.def.name} fanout ${n} ${mode} back-to-back: ${into.burst.msgsPerSec} msgs/s, p99 ${into.burst.latencyMs.p99} ms, ${into.burst.received}/${into.burst.expected} msgs, ${into.burst.runtimeCpuMsPerMsg} ms CPU/msg (${into.burst.runtimeCpuMsPerMsgNetOfControl} net of the control's ${control.runtimeCpuMsPerEvent} ms/event); feed frames/event ${into.burst.frames?.feedFramesPerEvent ?? "–"}, hub frames/event ${into.burst.frames?.hubFramesPerEvent ?? "–"}`);
        into.concurrent = await concurrentPhase(edge, col, n, ok, mode);
      }
    } catch (e) {
      r.error = String(e.message ?? e);
      log(`${edge.def.name} fanout ${n}: ${r.error}`);
    } finally {
      await closeAll(subs);
    }
    results.push(r);
    await sleep(1000);
  }
  return { bySubscribers: results };
}

export async function scenarioIsolation(edge) {
  const n = O.isolationSubs;
  const events = O.isolationEvents;
  const base = edge.url(O.via);
  const col = collector();
  let nextProject = 200000;
  // The same paced events, each to a new document nobody listens to.
  const cpuPerEvent = async (tag) => {
    const first = nextProject;
    nextProject += events;
    const before = edge.cpu();
    const acks = await sendPaced(base, events, O.isolationRate, (i) => edge.benchEvent(`evt_${tag}_${pad(i)}`, first + i, tag, i));
    await sleep(SETTLE_MS);
    const cpu = cpuDelta(before, edge.cpu());
    return { events, ackErrors: ackErrors(acks), runtimeCpuMsPerEvent: round(cpu.runtime / events, 4), proxyCpuMsPerEvent: round(cpu.proxy / events, 4), cpuMs: cpuFigures(cpu) };
  };
  const r = { subscribers: n, events, ratePerSec: O.isolationRate, via: O.via };
  await cpuPerEvent(`iso-warm-${Date.now()}`); // warm-up, not counted
  // Control before and after: the same events with nobody connected.
  r.controlBefore = await cpuPerEvent(`iso-ctl1-${Date.now()}`);
  log(`${edge.def.name} isolation control: ${r.controlBefore.runtimeCpuMsPerEvent} ms CPU/event`);
  log(`${edge.def.name} isolation: connecting ${n} subscribers to their own documents`);
  const { subs, connect } = await connectSubscribers(edge, O.via, n, (i) => `projects/${100000 + i}`, col.onChange);
  r.connect = connect;
  try {
    if (connect.failed) throw new Error(`${connect.failed} of ${n} subscribers failed: ${connect.failureSample.join("; ")}`);
    const tag = `iso-${Date.now()}`;
    col.arm(tag, 0);
    r.withSubscribers = await cpuPerEvent(tag);
    await sleep(500);
    r.withSubscribers.messagesReceived = col.received + col.stray;
    // Sanity: an event on one subscriber's document reaches exactly that subscriber.
    const tagS = `iso-hit-${Date.now()}`;
    col.arm(tagS, 1);
    await postDelivery(base, edge.benchEvent(`evt_${tagS}`, 100000, tagS, 0));
    await col.wait(5000);
    await sleep(500);
    r.sanityHit = { expected: 1, received: col.received, stray: col.stray };
  } catch (e) {
    r.error = String(e.message ?? e);
    log(`${edge.def.name} isolation: ${r.error}`);
  } finally {
    await closeAll(subs);
  }
  await sleep(1000);
  r.controlAfter = await cpuPerEvent(`iso-ctl2-${Date.now()}`);
  r.control = {
    runtimeCpuMsPerEvent: round((r.controlBefore.runtimeCpuMsPerEvent + r.controlAfter.runtimeCpuMsPerEvent) / 2, 4),
    proxyCpuMsPerEvent: round((r.controlBefore.proxyCpuMsPerEvent + r.controlAfter.proxyCpuMsPerEvent) / 2, 4),
  };
  if (r.withSubscribers) {
    r.cpuRatio = round(r.withSubscribers.runtimeCpuMsPerEvent / r.control.runtimeCpuMsPerEvent, 3);
    log(`${edge.def.name} isolation: ${r.withSubscribers.messagesReceived} messages for other documents, ${r.withSubscribers.runtimeCpuMsPerEvent} ms CPU/event vs ${r.control.runtimeCpuMsPerEvent} with nobody connected (×${r.cpuRatio}), sanity ${r.sanityHit?.received}/1`);
  }
  return r;
}

export async function scenarioCapacity(edge) {
  const via = O.capacityVia;
  const doc = "projects/3";
  const base = edge.url(via);
  const col = collector();
  const subs = [];
  const steps = [];
  const r = { via, doc, eventsPerStep: O.capacityEvents, p99LimitMs: O.capacityP99Ms, steps, largestOk: 0, largestOkSockets: 0 };
  const { soft } = maxOpenFiles();
  // The process whose descriptors bound the socket count: through wrangler's proxy, the proxy
  // workerd; direct, the runtime workerd (which holds two descriptors per WebSocket: each
  // accepted connection is dup()ed). workerd crashes at EMFILE instead of refusing, so the
  // driver stops short of the limit and, past it, adds listens to existing sockets.
  const boundPids = () => (via === "proxy" ? edge.h.procs.proxy : edge.h.procs.runtime);
  const fdsOf = () => Math.max(0, ...boundPids().map((p) => openFds(p) ?? 0));
  const fdsAtStart = fdsOf();
  let fdsPerSocket = 2;
  let socketCap = Infinity;
  let listens = 0; // subscribers = listens on `doc`
  const alive = () => subs.filter((s) => s.ok && !s.closed);
  try {
    for (const target of O.capacitySteps) {
      const open = alive().length;
      if (open > 0) fdsPerSocket = Math.max(1, Math.round((fdsOf() - fdsAtStart) / open));
      socketCap = Math.min(
        Math.floor((soft - fdsAtStart - 300) / fdsPerSocket), // the bounding workerd
        soft - (openFds(process.pid) ?? 0) - 300, // this driver: one per socket
      );
      const wantSockets = Math.min(target, socketCap);
      log(`${edge.def.name} capacity: ${listens} → ${target} subscribers (${via}; ${wantSockets} sockets, fd cap ${socketCap} sockets)`);
      const step = { subscribers: target, sockets: wantSockets };
      steps.push(step);
      if (wantSockets > open) {
        const got = await connectSubscribers(edge, via, wantSockets - open, () => doc, col.onChange, open);
        subs.push(...got.subs, ...got.failedSubs);
        step.connect = got.connect;
        listens += got.subs.length;
        if (got.connect.failed) {
          step.error = `${got.connect.failed} of ${wantSockets - open} new subscribers failed: ${got.connect.failureSample.join("; ")}`;
          r.stoppedBecause = step.error;
          break;
        }
      }
      // Past the descriptor cap: more listens on the sockets already open (ids 2, 3, …).
      if (listens < target) {
        const sockets = alive();
        const t0 = nowMs();
        const need = target - listens;
        const perSocket = sockets.map((_, k) => Math.floor(need / sockets.length) + (k < need % sockets.length ? 1 : 0));
        // Per socket one listen at a time: ids must be distinct on a socket.
        const results = await pool(
          sockets.map((s, k) => async () => {
            let ok = 0;
            for (let j = 0; j < perSocket[k]; j++) if (await s.listen(s.listens + 1, doc)) ok++;
            return [ok, perSocket[k]];
          }),
          O.connectConcurrency,
        );
        const added = results.reduce((a, [ok]) => a + ok, 0);
        const wanted = results.reduce((a, [, n]) => a + n, 0);
        listens += added;
        step.extraListens = { added, failed: wanted - added, seconds: round((nowMs() - t0) / 1000, 2) };
        if (added < wanted) {
          step.error = `${wanted - added} of ${wanted} extra listens failed`;
          r.stoppedBecause = step.error;
          break;
        }
      }
      step.listensPerSocket = round(listens / alive().length, 2);
      if (alive().length < wantSockets) {
        step.error = `${wantSockets - alive().length} subscribers dropped`;
        r.stoppedBecause = step.error;
        break;
      }
      step.fds = { bounding: fdsOf(), perSocket: fdsPerSocket, limit: soft };
      const tag = `cap${target}-${Date.now()}`;
      step.broadcast = await broadcastPhase(edge, col, {
        tag,
        subscribers: listens,
        events: O.capacityEvents,
        send: () => sendPaced(base, O.capacityEvents, 1, (i) => edge.benchEvent(`evt_${tag}_${pad(i)}`, 3, tag, i), { ordered: true }),
        waitMs: 20000,
      });
      const b = step.broadcast;
      log(`${edge.def.name} capacity ${target} (${alive().length} sockets): p50 ${b.latencyMs.p50} p99 ${b.latencyMs.p99} max ${b.latencyMs.max} ms, ${b.received}/${b.expected} msgs`);
      if (b.missing > 0 || b.ackErrors.count > 0) {
        r.stoppedBecause = `${b.missing} messages missing, ${b.ackErrors.count} delivery errors at ${target}`;
        break;
      }
      if (b.latencyMs.p99 > O.capacityP99Ms) {
        r.stoppedBecause = `p99 ${b.latencyMs.p99} ms > ${O.capacityP99Ms} ms at ${target}`;
        break;
      }
      r.largestOk = target;
      r.largestOkSockets = Math.max(r.largestOkSockets, alive().length);
      await sleep(500);
    }
    r.socketCap = socketCap;
  } catch (e) {
    r.error = String(e.stack ?? e);
    log(`${edge.def.name} capacity: ${r.error}`);
  } finally {
    await closeAll(subs, 20000);
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Storm: every socket of a tenant reconnects at once (a deploy closes them all)

/**
 * One storm socket: listens 1..k from `listens` ({target, since}) sent on open; resolves
 * once each has its snapshot (or an error), with the time from connect to the last one,
 * the bytes received and each listen's seq and document count. Snapshots are not parsed
 * whole when large (a 2,000-document collection is ~2 MB): the head is read for the id and
 * seq, and documents are counted by their `"path":` keys.
 */
function openStormSocket(url, listens, { timeoutMs }) {
  const s = { ok: false, bytes: 0, frames: 0, seqs: {}, docs: {}, errors: [], closed: false, ws: null };
  let pending = listens.length;
  return openSocket(url, s, {
    timeoutMs,
    waitingFor: "the snapshots",
    onOpen: (ws, ms) => {
      s.openMs = ms;
      listens.forEach((l, k) => ws.send(JSON.stringify({ type: "listen", id: k + 1, target: l.target, ...(l.since === undefined ? {} : { since: l.since }) })));
    },
    onMessage: (ev, done) => {
      const text = typeof ev.data === "string" ? ev.data : "";
      s.bytes += text.length;
      s.frames++;
      const head = text.slice(0, 120);
      const type = head.match(/^\{"type":"(\w+)"/)?.[1];
      const id = Number(head.match(/"id":(\d+)/)?.[1]);
      if (type === "snapshot" && !(id in s.seqs)) {
        s.seqs[id] = Number(head.match(/"seq":(\d+)/)?.[1] ?? text.match(/"seq":(\d+)\}?$/)?.[1]);
        if (!Number.isFinite(s.seqs[id])) s.seqs[id] = JSON.parse(text).seq;
        let count = 0;
        for (let i = text.indexOf('"path":'); i !== -1; i = text.indexOf('"path":', i + 7)) count++;
        s.docs[id] = count;
        if (--pending === 0) done(true);
      } else if (type === "change") {
        // A change after the snapshot: keep the listen's seq current for the next resume.
        const f = JSON.parse(text);
        if (f.seq > (s.seqs[f.id] ?? 0)) s.seqs[f.id] = f.seq;
      } else if (type === "error") {
        s.errors.push(head);
        done(false, head);
      }
    },
    onDone: (ok, ms) => {
      s.liveMs = ms;
    },
  });
}

/** Waits (bounded) until the feed and its hubs hold no subscriber sockets but the hubs' own. */
async function waitDrained(edge, timeoutMs = 30000) {
  const deadline = nowMs() + timeoutMs;
  let h = null;
  while (nowMs() < deadline) {
    h = await feedHealth(edge);
    if (!h) return null;
    const onHubs = h.hubSubscribers.reduce((a, b) => a + b, 0);
    if (onHubs === 0 && h.subscribers <= h.hubs) return h;
    await sleep(250);
  }
  return h;
}

/** One reconnect wave: `n` sockets at once (up to --storm-concurrency in flight), measured. */
async function stormWave(edge, via, n, listensOf) {
  const url = edge.feedUrl(via);
  await sleep(SETTLE_MS);
  const healthBefore = await feedHealth(edge);
  const before = edge.cpu();
  const t0 = nowMs();
  const socks = await pool(
    Array.from({ length: n }, (_, i) => () => openStormSocket(url, listensOf(i), { timeoutMs: O.stormTimeoutMs })),
    O.stormConcurrency,
  );
  const allLiveMs = nowMs() - t0;
  await sleep(SETTLE_MS);
  const cpu = cpuDelta(before, edge.cpu());
  const healthAfter = await feedHealth(edge);
  const ok = socks.filter((s) => s.ok);
  const live = summarize(socks.map((s) => s.liveMs));
  const bytes = socks.reduce((a, s) => a + s.bytes, 0);
  return {
    socks,
    figures: {
      sockets: n,
      failed: n - ok.length,
      failureSample: [...new Set(socks.filter((s) => !s.ok).map((s) => s.error))].slice(0, 3),
      allLiveSeconds: round(allLiveMs / 1000, 3),
      liveMs: { p50: round(live.p50, 1), p99: round(live.p99, 1), max: round(live.max, 1) },
      bytesReceived: bytes,
      bytesPerSocket: round(bytes / n, 0),
      collectionDocsPerSocket: median(ok.map((s) => s.docs[1])),
      cpuMs: cpuFigures(cpu),
      runtimeCpuMsPerSocket: round(cpu.runtime / n, 4),
      runtimeCpuSeconds: round(cpu.runtime / 1000, 2),
      proxyCpuMsPerSocket: round(cpu.proxy / n, 4),
      driverCpuMsPerSocket: round(cpu.driver / n, 4),
      feedEventsDuring: healthBefore && healthAfter ? healthAfter.events - healthBefore.events : null,
      // Requests the feed served during the wave (hubs' /mirror loads; the sockets' own
      // upgrades when they connect to the feed), less the healthz that read it.
      feedRequestsDuring:
        healthBefore?.requests != null && healthAfter?.requests != null && healthBefore.wokeAt === healthAfter.wokeAt ? healthAfter.requests - healthBefore.requests - 1 : null,
      hubSockets: healthAfter?.hubSubscribers ?? null,
      feedSockets: healthAfter?.subscribers ?? null,
    },
  };
}

/**
 * N sockets each listen to one collection of --storm-docs documents (~--bytes each, seeded
 * by signed deliveries first) and to a document of their own (in another collection, not
 * written: `exists()` false); then all close at once, --storm-changes events change the
 * collection meanwhile, and all reconnect at once resuming with `since` (each listen's last
 * seq: only what changed comes back), and again without it (a full snapshot each). Reports
 * how long until every socket is live (connect → its last snapshot), runtime CPU and bytes.
 */
export async function scenarioStorm(edge) {
  const via = O.via;
  const base = edge.url(via);
  const collection = "projects";
  const first = 500000;
  const r = { via, collection, ownCollection: O.stormOwn, documents: O.stormDocs, bytes: O.bytes, changes: O.stormChanges, concurrency: O.stormConcurrency, bySubscribers: [] };
  // Seed the collection: one delivery per document, at concurrency.
  log(`${edge.def.name} storm: seeding ${O.stormDocs} documents of ${collection}`);
  const t0 = nowMs();
  const seedAcks = await pool(
    Array.from({ length: O.stormDocs }, (_, k) => () =>
      postDelivery(base, twinActorDelivery({ secret: edge.secret, id: `evt_storm_seed_${pad(k)}`, type: "project.processing", projectId: first + k, createdAt: edge.nextCreated(), progress: k % 100, bytes: O.bytes })),
    ),
    O.concurrency,
  );
  r.seed = { errors: ackErrors(seedAcks), seconds: round((nowMs() - t0) / 1000, 2) };
  if (r.seed.errors.count) throw new Error(`seeding: ${r.seed.errors.count} errors, ${r.seed.errors.sample[0]}`);
  let changeNo = 0;
  for (const n of O.stormSubs) {
    const own = (i) => ({ doc: `${O.stormOwn}/${900000 + i}` });
    const s = { subscribers: n, sockets: n };
    r.bySubscribers.push(s);
    let socks = [];
    try {
      // Everyone connects once (resuming from the seq the seeding ended at, so this first
      // wave is cheap), and learns each listen's seq.
      const head = Math.max(...seedAcks.map((a) => a.json.seq), 0);
      log(`${edge.def.name} storm ${n}: connecting`);
      let wave = await stormWave(edge, via, n, (i) => [{ target: { collection }, since: head }, { target: own(i), since: head }]);
      socks = wave.socks;
      s.connect = wave.figures;
      if (wave.figures.failed) throw new Error(`connect: ${wave.figures.failed} of ${n} failed: ${wave.figures.failureSample.join("; ")}`);
      for (const mode of O.stormModes) {
        // The deploy: every socket closes at once.
        await closeAll(socks, 30000);
        const drained = await waitDrained(edge);
        // Meanwhile the collection changes (each event after the previous ack, in order).
        const tagC = `storm${n}-${mode}-${Date.now()}`;
        const acks = await sendSequential(base, O.stormChanges, (i) =>
          twinActorDelivery({ secret: edge.secret, id: `evt_${tagC}_${pad(i)}`, type: "project.processing", projectId: first + ((changeNo++ * 7) % O.stormDocs), createdAt: edge.nextCreated(), progress: i % 100, bytes: O.bytes }),
        );
        const seqs = socks.map((x) => x.seqs);
        log(`${edge.def.name} storm ${n}: all reconnect at once (${mode === "since" ? "resuming with since" : "full snapshots"})`);
        wave = await stormWave(edge, via, n, (i) =>
          mode === "since"
            ? [{ target: { collection }, since: seqs[i][1] }, { target: own(i), since: seqs[i][2] }]
            : [{ target: { collection } }, { target: own(i) }],
        );
        socks = wave.socks;
        s[mode] = { ...wave.figures, changesWhileAway: O.stormChanges, changeErrors: ackErrors(acks).count, drained: drained ? { feedSockets: drained.subscribers, hubSockets: drained.hubSubscribers } : null };
        const f = s[mode];
        log(
          `${edge.def.name} storm ${n} ${mode}: all live in ${f.allLiveSeconds} s (connect → snapshots p50 ${f.liveMs.p50} p99 ${f.liveMs.p99} max ${f.liveMs.max} ms), ${f.failed} failed, ${(f.bytesReceived / 1e6).toFixed(1)} MB (${f.collectionDocsPerSocket} collection docs/socket), runtime ${f.runtimeCpuSeconds} s CPU (${f.runtimeCpuMsPerSocket} ms/socket), feed requests ${f.feedRequestsDuring}`,
        );
        if (f.failed) break;
      }
    } catch (e) {
      s.error = String(e.message ?? e);
      log(`${edge.def.name} storm ${n}: ${s.error}`);
    } finally {
      await closeAll(socks, 30000);
      await waitDrained(edge);
    }
  }
  return r;
}
