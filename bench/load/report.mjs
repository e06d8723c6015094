// The report: figures per edge and round, medians over usable rounds, and the markdown
// tables comparing each edge with the reference.

import { median, round, safeGet } from "./lib.mjs";
import { O } from "./options.mjs";
import { NOISY_CORES } from "./phases.mjs";
import { ingestKey } from "./scenarios.mjs";

function fmt(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1000) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(digits);
  return x.toPrecision(2);
}

function fanoutAt(res, n) {
  const f = res.fanout.bySubscribers.find((x) => x.subscribers === n);
  if (f.error) throw new Error(f.error);
  return f;
}

/** Other processes' load (cores) during a scenario of a round: the worst of its phases. */
function noiseOf(res, key) {
  const [name, n] = key.split(":");
  const v = res[name];
  if (!v) return 0;
  const cores = [];
  const collect = (cpu) => typeof cpu?.otherCores === "number" && cores.push(cpu.otherCores);
  if (name.startsWith("ingest")) {
    // Its medians are already over its quiet runs; noisy only if none was quiet.
    return v.medianOver?.startsWith("all") ? Math.min(...v.runs.map((r) => r.cpuMs.otherCores ?? 0)) : 0;
  }
  if (name === "fanout") {
    const f = v.bySubscribers?.find((x) => x.subscribers === Number(n));
    collect(f?.paced?.cpuMs);
    collect(f?.burst?.cpuMs);
  } else if (name === "isolation") {
    for (const k of ["controlBefore", "withSubscribers", "controlAfter"]) collect(v[k]?.cpuMs);
  } else if (name === "capacity") {
    for (const step of v.steps ?? []) collect(step.broadcast?.cpuMs);
  }
  return cores.length ? Math.max(...cores) : 0;
}

/** The keys of a round's scenario results (ingest at each size and route, and the rest). */
function scenarioKeys(res) {
  return Object.keys(res).filter((k) => k.startsWith("ingest") || ["fanout", "isolation", "capacity", "refusal", "abuse", "storm"].includes(k));
}

/** A round's results without the scenarios that failed or ran across a runtime restart. */
function usable(res) {
  const out = { ...res };
  for (const key of scenarioKeys(res)) {
    const v = out[key];
    if (v && (v.error || v.warning || v.skipped || v.median?.errors > 0)) delete out[key];
  }
  return out;
}

/** Rows of the comparison; each figure is the median over the rounds that produced it. */
function comparisonRows(hfRounds = [], blRounds = []) {
  const rows = [];
  let section = "ingest"; // the scenario the rows below read, for the noise filter
  // Median over the usable rounds; over the quiet ones among them when there are any.
  const acrossRounds = (rounds, get) => {
    const valued = rounds
      .map((r) => ({ v: safe(() => get(usable(r))), noisy: noiseOf(r, section) >= NOISY_CORES }))
      .filter((x) => typeof x.v === "number" && Number.isFinite(x.v));
    const quiet = valued.filter((x) => !x.noisy);
    const use = quiet.length ? quiet : valued;
    return { value: use.length ? round(median(use.map((x) => x.v)), 5) : null, noisy: use.some((x) => x.noisy) };
  };
  const add = (label, get, better, target) => {
    const hr = acrossRounds(hfRounds, get);
    const br = acrossRounds(blRounds, get);
    const h = hr.value;
    const b = br.value;
    const ratio = typeof h === "number" && typeof b === "number" && b !== 0 ? h / b : null;
    let met = null;
    if (target) met = safe(() => target(h, b));
    rows.push({ label, hookfeed: h ?? null, baseline: b ?? null, ratio: round(ratio, 3), better, target: target?.label ?? null, met: met ?? null, noisy: hr.noisy || br.noisy });
  };
  const safe = (f) => {
    try {
      const v = f();
      return v === undefined ? null : v;
    } catch {
      return null;
    }
  };
  const t = (label, f) => Object.assign(f, { label });
  const both = (h, b) => typeof h === "number" && typeof b === "number";
  add(`Noise: other processes' load during ingest (cores)`, (r) => median(r.ingest.runs.map((x) => x.cpuMs.otherCores)), "lower");
  add(`Ingest ${O.ingestCount}×${O.bytes} B @c=${O.concurrency} (median of ${O.ingestRuns}): deliveries/s`, (r) => r.ingest.median.deliveriesPerSec, "higher", t("> baseline", (h, b) => (both(h, b) ? h > b : null)));
  add("Ingest: ack p50 ms", (r) => r.ingest.median.ackP50Ms, "lower");
  add("Ingest: ack p99 ms", (r) => r.ingest.median.ackP99Ms, "lower");
  add("Ingest: runtime workerd CPU ms/delivery", (r) => r.ingest.median.runtimeCpuMsPerDelivery, "lower", t("< baseline", (h, b) => (both(h, b) ? h < b : null)));
  add("Ingest: proxy workerd CPU ms/delivery", (r) => r.ingest.median.proxyCpuMsPerDelivery, "lower");
  if (O.ingestVia.includes("direct")) {
    section = "ingest_direct";
    add("Ingest without wrangler's proxy: deliveries/s", (r) => r.ingest_direct.median.deliveriesPerSec, "higher", t("> baseline", (h, b) => (both(h, b) ? h > b : null)));
    add("Ingest without wrangler's proxy: ack p50 ms", (r) => r.ingest_direct.median.ackP50Ms, "lower");
    add("Ingest without wrangler's proxy: ack p99 ms", (r) => r.ingest_direct.median.ackP99Ms, "lower");
    add("Ingest without wrangler's proxy: runtime CPU ms/delivery", (r) => r.ingest_direct.median.runtimeCpuMsPerDelivery, "lower", t("< baseline", (h, b) => (both(h, b) ? h < b : null)));
  }
  const ns = O.fanoutSubs;
  for (const n of ns) {
    const big = n === Math.max(...ns);
    section = `fanout:${n}`;
    add(`Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: p50 ms`, (r) => fanoutAt(r, n).paced.latencyMs.p50, "lower");
    add(
      `Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: p99 ms`,
      (r) => fanoutAt(r, n).paced.latencyMs.p99,
      "lower",
      big && n >= 1000 ? t("≤ 100 ms", (h) => (typeof h === "number" ? h <= 100 : null)) : undefined,
    );
    add(`Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: max ms`, (r) => fanoutAt(r, n).paced.latencyMs.max, "lower");
    add(`Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: missing msgs`, (r) => fanoutAt(r, n).paced.missing, "lower");
    add(`Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: runtime CPU ms/msg`, (r) => fanoutAt(r, n).paced.runtimeCpuMsPerMsg, "lower", t("< baseline", (h, b) => (both(h, b) ? h < b : null)));
    add(`Fan-out ${n}×${O.fanoutEvents} @${O.rate}/s: runtime CPU ms/msg net of ingest`, (r) => fanoutAt(r, n).paced.runtimeCpuMsPerMsgNetOfIngest, "lower");
    add(`Fan-out ${n}×${O.fanoutEvents} back-to-back: msgs/s`, (r) => fanoutAt(r, n).burst.msgsPerSec, "higher", t("≥ baseline", (h, b) => (both(h, b) ? h >= b : null)));
    add(`Fan-out ${n}×${O.fanoutEvents} back-to-back: p99 ms`, (r) => fanoutAt(r, n).burst.latencyMs.p99, "lower");
    add(`Fan-out ${n}×${O.fanoutEvents} back-to-back: runtime CPU ms/msg`, (r) => fanoutAt(r, n).burst.runtimeCpuMsPerMsg, "lower", t("< baseline", (h, b) => (both(h, b) ? h < b : null)));
    add(`Fan-out ${n}: runtime CPU ms per subscriber connect`, (r) => fanoutAt(r, n).connect.runtimeCpuMsPerSubscriber, "lower");
  }
  section = "isolation";
  add(`Isolation ${O.isolationSubs} subs: msgs for other docs`, (r) => r.isolation.withSubscribers.messagesReceived, "lower", t("= 0", (h) => (typeof h === "number" ? h === 0 : null)));
  add(`Isolation: runtime CPU ms/event, nobody connected (${O.isolationEvents} @${O.isolationRate}/s, mean of before/after)`, (r) => r.isolation.control.runtimeCpuMsPerEvent, "lower");
  add(`Isolation: runtime CPU ms/event, ${O.isolationSubs} on other docs`, (r) => r.isolation.withSubscribers.runtimeCpuMsPerEvent, "lower");
  add(`Isolation: CPU/event ratio (others ÷ none)`, (r) => r.isolation.cpuRatio, "lower", t("≈ 1 (≤ 1.2)", (h) => (typeof h === "number" ? h <= 1.2 : null)));
  section = "capacity";
  add(`Capacity: most subscribers (listens) with p99 < ${O.capacityP99Ms} ms (${O.capacityVia})`, (r) => r.capacity.largestOk, "higher", t("≥ 10,000", (h) => (typeof h === "number" ? h >= 10000 : null)));
  add(`Capacity: p99 ms at that count`, (r) => r.capacity.steps.find((s) => s.subscribers === r.capacity.largestOk).broadcast.latencyMs.p99, "lower");
  add(`Capacity: sockets at that count`, (r) => r.capacity.steps.find((s) => s.subscribers === r.capacity.largestOk).sockets, "higher");
  add(`Capacity: most sockets with p99 < ${O.capacityP99Ms} ms`, (r) => r.capacity.largestOkSockets, "higher");
  add(`Capacity: runtime CPU ms/msg at that count`, (r) => r.capacity.steps.find((s) => s.subscribers === r.capacity.largestOk).broadcast.runtimeCpuMsPerMsg, "lower");
  return rows;
}

function markdown(rows, results, ref = "baseline") {
  const lines = [];
  // Rows of scenarios that did not run (every figure missing) are left out.
  rows = rows.filter((r) => r.hookfeed !== null || r.baseline !== null);
  if (rows.length) {
    lines.push(`| metric | hookfeed | ${ref} | hookfeed ÷ ${ref} | target | met |`);
    lines.push(`|---|---:|---:|---:|---|:-:|`);
  }
  for (const r of rows) {
    const ratio = r.ratio === null ? "–" : `${fmt(r.ratio)}× ${r.better === "higher" ? "(↑ better)" : "(↓ better)"}`;
    const met = r.met === null ? "" : r.met ? "yes" : "**no**";
    lines.push(`| ${r.label}${r.noisy ? " †" : ""} | ${fmt(r.hookfeed)} | ${fmt(r.baseline)} | ${ratio} | ${r.target ?? ""} | ${met} |`);
  }
  if (rows.some((r) => r.noisy))
    lines.push("", `† measured while other processes on the machine kept ≥ ${NOISY_CORES} core busy (no quieter round available): treat with care.`);
  const notes = [];
  for (const res of Object.values(results).flat()) {
    const who = O.rounds > 1 ? `${res.edge} (round ${res.round})` : res.edge;
    if (res.error) notes.push(`- ${who}: ${res.error.split("\n")[0]}`);
    for (const r of res.restarts ?? []) notes.push(`- ${who}: the runtime workerd restarted ${r}`);
    for (const key of scenarioKeys(res)) {
      const v = res[key];
      if (!v) continue;
      if (v.skipped) notes.push(`- ${who} ${key}: skipped (${v.skipped})`);
      if (v.error) notes.push(`- ${who} ${key}: ${v.error.split("\n")[0]}`);
      if (v.warning) notes.push(`- ${who} ${key}: ${v.warning}`);
      if (v.median?.errors > 0) notes.push(`- ${who} ${key}: delivery errors (${v.runs.map((x) => x.errors.sample[0]).filter(Boolean)[0]}); left out of the comparison`);
      if (key === "capacity" && v.stoppedBecause) notes.push(`- ${who} capacity stopped: ${v.stoppedBecause}`);
      for (const f of v.bySubscribers ?? []) if (f.error) notes.push(`- ${who} ${key} ${f.subscribers}: ${f.error}`);
    }
  }
  if (notes.length) lines.push("", ...notes);
  return lines.join("\n");
}

/**
 * The tables of the ingest-by-size, refusal and abuse scenarios: a column per edge (median
 * over its usable rounds) and, for each edge other than the reference, its ratio to the
 * reference's figure. Within-edge ratios (forged ÷ genuine) are medians of per-run ratios.
 */
function edgeTables(results, ref) {
  const edges = Object.keys(results).filter((e) => results[e]?.length);
  if (!edges.length) return "";
  if (!edges.includes(ref)) ref = null;
  const others = edges.filter((e) => e !== ref);
  const acrossRounds = (e, get) => {
    const v = results[e].map((r) => safeGet(() => get(usable(r)))).filter((x) => typeof x === "number" && Number.isFinite(x));
    return v.length ? round(median(v), 5) : null;
  };
  const sections = [];
  let rows = null;
  const section = (title) => sections.push({ title, rows: (rows = []) });
  const row = (label, get, { ratio = true, better = "lower" } = {}) => {
    const values = Object.fromEntries(edges.map((e) => [e, acrossRounds(e, get)]));
    if (Object.values(values).every((v) => v === null)) return;
    // The ratio: the median of the ratios within each round (the edges of one round ran
    // minutes apart, under the same neighbours), falling back to the ratio of the medians.
    const ratios = others.map((e) => {
      if (!ratio || !ref) return null;
      const paired = results[e]
        .map((r) => {
          const q = results[ref].find((x) => x.round === r.round);
          const a = q && safeGet(() => get(usable(r)));
          const b = q && safeGet(() => get(usable(q)));
          return typeof a === "number" && typeof b === "number" && b !== 0 ? a / b : null;
        })
        .filter((x) => x !== null);
      if (paired.length) return round(median(paired), 3);
      return typeof values[e] === "number" && typeof values[ref] === "number" && values[ref] !== 0 ? round(values[e] / values[ref], 3) : null;
    });
    rows.push({ label, values, ratios, better });
  };
  // Ingest at each size and route.
  const ingestKeys = O.ingestBytes.flatMap((b) => O.ingestVia.map((via) => [b, via, ingestKey(via, b)]));
  if (edges.some((e) => results[e].some((r) => ingestKeys.some(([, , k]) => r[k])))) {
    section(`Ingest: ${O.ingestCount} signed twin-actor deliveries at concurrency ${O.concurrency}${O.ingestRuns > 1 ? ` (median of ${O.ingestRuns} runs per round)` : ""}`);
    for (const [b, via, k] of ingestKeys) {
      const what = `${fmtBytes(b)} ${via === "proxy" ? "through the proxy" : "direct"}`;
      row(`${what}: deliveries/s`, (r) => r[k].median.deliveriesPerSec, { better: "higher" });
      row(`${what}: ack p50 ms`, (r) => r[k].median.ackP50Ms);
      row(`${what}: ack p99 ms`, (r) => r[k].median.ackP99Ms);
      row(`${what}: runtime workerd CPU ms/delivery`, (r) => r[k].median.runtimeCpuMsPerDelivery);
      if (via === "proxy") row(`${what}: proxy workerd CPU ms/delivery`, (r) => r[k].median.proxyCpuMsPerDelivery);
      row(`${what}: other processes' load (cores, noise)`, (r) => median(r[k].runs.map((x) => x.cpuMs.otherCores)), { ratio: false });
    }
  }
  if (edges.some((e) => results[e].some((r) => r.refusal))) {
    section(`Refusals: ${O.refusalCount} × ${fmtBytes(O.bytes)} requests per phase (${O.refusalVia})${O.refusalRuns > 1 ? `, median of ${O.refusalRuns} runs per round` : ""}`);
    row("runtime CPU ms per GET of an unknown route (404: the floor of any request)", (r) => r.refusal.median.floorCpuMs);
    row("runtime CPU ms per genuine delivery (200)", (r) => r.refusal.median.genuineCpuMs);
    row("runtime CPU ms per forged delivery (wrong signature)", (r) => r.refusal.median.forgedCpuMs);
    row("runtime CPU ms per delivery from an address over its refusal budget", (r) => r.refusal.median.limitedCpuMs);
    row("forged ÷ genuine, same run (×)", (r) => r.refusal.median.forgedOverGenuine);
    row("over budget ÷ genuine, same run (×)", (r) => r.refusal.median.limitedOverGenuine);
    // Net of the floor every request pays under wrangler dev (per run, then the median).
    const net = (r, k) => median(r.refusal.runs.map((x) => (x[k].runtimeCpuMsPerDelivery - x.floor.runtimeCpuMsPerDelivery) / (x.genuine.runtimeCpuMsPerDelivery - x.floor.runtimeCpuMsPerDelivery)));
    row("forged ÷ genuine, each less the 404 floor, same run (×)", (r) => net(r, "forged"));
    row("over budget ÷ genuine, each less the 404 floor, same run (×)", (r) => net(r, "limited"));
    row("forged answered 401", (r) => r.refusal.median.forged401, { ratio: false });
    row("over-budget answered 429", (r) => r.refusal.median.limited429, { ratio: false });
    row("genuine deliveries/s", (r) => r.refusal.median.genuinePerSec, { better: "higher" });
    row("forged deliveries/s", (r) => r.refusal.median.forgedPerSec, { better: "higher" });
    row("over-budget deliveries/s", (r) => r.refusal.median.limitedPerSec, { better: "higher" });
  }
  if (edges.some((e) => results[e].some((r) => r.abuse))) {
    for (const a of O.abuseAddresses) {
      const at = (r) => r.abuse.byAddresses.find((x) => x.addresses === a);
      section(
        `Abuse: ${O.abuseForged} forged deliveries from ${a} addresses (${Math.ceil(O.abuseForged / a)} each) at concurrency ${O.abuseConcurrency}, genuine every ${O.abuseGenuineMs} ms from another address (${O.via})`,
      );
      row("genuine sent during the flood", (r) => at(r).flood.genuine.sent, { ratio: false });
      row("genuine accepted (200, stored)", (r) => at(r).flood.genuine.accepted, { ratio: false, better: "higher" });
      row("genuine answered 429", (r) => at(r).flood.genuine.statuses[429] ?? 0, { ratio: false });
      row("genuine latency p50 ms (accepted ones), during the flood", (r) => at(r).flood.genuine.latencyMs.p50);
      row("genuine latency p99 ms (accepted ones), during the flood", (r) => at(r).flood.genuine.latencyMs.p99);
      row(`genuine latency p50 ms, alone (${O.abuseControlMs / 1000} s before)`, (r) => at(r).control.latencyMs.p50);
      row(`genuine latency p99 ms, alone`, (r) => at(r).control.latencyMs.p99);
      row("forged answered 401", (r) => at(r).flood.forgedStatuses[401] ?? 0, { ratio: false });
      row("forged answered 429", (r) => at(r).flood.forgedStatuses[429] ?? 0, { ratio: false });
      row("forged answered otherwise", (r) => O.abuseForged - (at(r).flood.forgedStatuses[401] ?? 0) - (at(r).flood.forgedStatuses[429] ?? 0), { ratio: false });
      row("forged deliveries/s (the flood's rate)", (r) => at(r).flood.forgedPerSec, { better: "higher" });
      row("flood seconds", (r) => at(r).flood.seconds);
      row("feed database growth during the flood, bytes", (r) => at(r).databaseGrowthBytes);
      row("events stored during the flood", (r) => at(r).eventsStored, { ratio: false });
      // What the genuine events alone grow it by (the control phase's bytes per event), and the rest.
      const perEvent = (x) => x.controlGrowthBytes / (x.storageAfterControl.events - x.storageStart.events);
      row("database bytes per genuine event, alone (control phase)", (r) => perEvent(at(r)));
      row("growth beyond the genuine events' (≈ refusal records), bytes", (r) => Math.max(0, at(r).databaseGrowthBytes - at(r).eventsStored * perEvent(at(r))), { ratio: false });
      row("minute boundaries crossed by the flood (each renews every address's refusal budget)", (r) => at(r).minuteBoundariesCrossed, { ratio: false });
      row("runtime workerd CPU ms per forged delivery (whole flood ÷ forged)", (r) => at(r).flood.runtimeCpuMsPerForged);
      row("other processes' load (cores, noise)", (r) => at(r).flood.cpuMs.otherCores, { ratio: false });
    }
  }
  if (edges.some((e) => results[e].some((r) => r.fanout?.bySubscribers))) {
    // The same round of the reference edge (one object: every send is the feed's), whose
    // runtime CPU per message net of the control prices one send of the feed.
    const refRound = (r) => (ref ? usable(results[ref].find((x) => x.round === r.round) ?? {}) : null);
    for (const n of O.fanoutSubs) {
      const at = (r) => fanoutAt(r, n);
      section(`Fan-out: ${n} subscribers on one document (${O.via}); ${O.fanoutEvents} events at ${O.rate}/s, then ${O.fanoutEvents} back to back`);
      row("paced: latency p50 ms (post → message)", (r) => at(r).paced.latencyMs.p50);
      row("paced: latency p99 ms", (r) => at(r).paced.latencyMs.p99);
      row("paced: missing messages", (r) => at(r).paced.missing, { ratio: false });
      row("back to back: delivered msgs/s", (r) => at(r).burst.msgsPerSec, { better: "higher" });
      row("back to back: latency p50 ms", (r) => at(r).burst.latencyMs.p50);
      row("back to back: latency p99 ms", (r) => at(r).burst.latencyMs.p99);
      row("back to back: missing messages", (r) => at(r).burst.missing, { ratio: false });
      row("feed object: change frames sent per event (healthz frames_sent, back to back)", (r) => at(r).burst.frames.feedFramesPerEvent);
      row("hubs: change frames sent per event (sum over hubs)", (r) => at(r).burst.frames.hubFramesPerEvent, { ratio: false });
      row("runtime CPU ms per event with nobody listening (control)", (r) => at(r).control.runtimeCpuMsPerEvent);
      row("total runtime CPU ms per delivered message, paced", (r) => at(r).paced.runtimeCpuMsPerMsg);
      row("total runtime CPU ms per delivered message, back to back", (r) => at(r).burst.runtimeCpuMsPerMsg);
      row("same, net of the control (the sends: per message)", (r) => at(r).burst.runtimeCpuMsPerMsgNetOfControl);
      row("total runtime CPU ms per event, back to back", (r) => at(r).burst.cpuMs.runtime / at(r).burst.events);
      row(
        `feed-object CPU ms per event, modelled: control + feed frames/event × ${ref ?? "reference"}'s net CPU per message`,
        (r) => at(r).control.runtimeCpuMsPerEvent + at(r).burst.frames.feedFramesPerEvent * at(refRound(r)).burst.runtimeCpuMsPerMsgNetOfControl,
      );
      row("runtime CPU ms per subscriber connect", (r) => at(r).connect.runtimeCpuMsPerSubscriber);
      row("other processes' load (cores, noise), back to back", (r) => at(r).burst.cpuMs.otherCores, { ratio: false });
      // Batched frames (hookfeed only): back to back each change is its own turn; with
      // deliveries in flight together a turn has several, one frame per socket.
      row("back to back, plain frames: changes delivered per runtime CPU-second", (r) => at(r).burst.changesPerCpuSecond, { better: "higher" });
      row("back to back, batched frames: changes delivered per runtime CPU-second", (r) => at(r).batched.burst.changesPerCpuSecond, { better: "higher" });
      row("back to back, batched frames: delivered msgs/s", (r) => at(r).batched.burst.msgsPerSec, { better: "higher" });
      row("paced, batched frames: latency p99 ms", (r) => at(r).batched.paced.latencyMs.p99);
      row(`concurrency ${O.fanoutConcurrency}, plain frames: changes delivered per runtime CPU-second`, (r) => at(r).concurrent.changesPerCpuSecond, { better: "higher" });
      row(`concurrency ${O.fanoutConcurrency}, batched frames: changes delivered per runtime CPU-second`, (r) => at(r).batched.concurrent.changesPerCpuSecond, { better: "higher" });
      row(`concurrency ${O.fanoutConcurrency}, plain frames: delivered msgs/s`, (r) => at(r).concurrent.msgsPerSec, { better: "higher" });
      row(`concurrency ${O.fanoutConcurrency}, batched frames: delivered msgs/s`, (r) => at(r).batched.concurrent.msgsPerSec, { better: "higher" });
      row(`concurrency ${O.fanoutConcurrency}, plain frames: latency p99 ms`, (r) => at(r).concurrent.latencyMs.p99);
      row(`concurrency ${O.fanoutConcurrency}, batched frames: latency p99 ms`, (r) => at(r).batched.concurrent.latencyMs.p99);
      row(`concurrency ${O.fanoutConcurrency}, batched frames: messages per frame`, (r) => at(r).batched.concurrent.frames.feedMessagesPerFrame, { ratio: false });
    }
  }
  if (edges.some((e) => results[e].some((r) => r.storm?.bySubscribers))) {
    for (const n of O.stormSubs) {
      const at = (r) => {
        const x = r.storm.bySubscribers.find((y) => y.subscribers === n);
        if (x.error) throw new Error(x.error);
        return x;
      };
      section(
        `Reconnect storm: ${n} sockets, each on a ${O.stormDocs}-document collection and a document of its own (in ${O.stormOwn}), all reconnecting at once (${O.stormConcurrency} in flight, ${O.via}); ${O.stormChanges} changes while away`,
      );
      for (const mode of O.stormModes) {
        const what = mode === "since" ? "resuming with since" : "without since (full snapshots)";
        row(`${what}: seconds until all live`, (r) => at(r)[mode].allLiveSeconds);
        row(`${what}: connect → snapshots p50 ms`, (r) => at(r)[mode].liveMs.p50);
        row(`${what}: connect → snapshots p99 ms`, (r) => at(r)[mode].liveMs.p99);
        row(`${what}: connect → snapshots max ms`, (r) => at(r)[mode].liveMs.max);
        row(`${what}: sockets failed`, (r) => at(r)[mode].failed, { ratio: false });
        row(`${what}: collection documents per socket`, (r) => at(r)[mode].collectionDocsPerSocket, { ratio: false });
        row(`${what}: MB received (all sockets)`, (r) => at(r)[mode].bytesReceived / 1e6);
        row(`${what}: runtime CPU s`, (r) => at(r)[mode].runtimeCpuSeconds);
        row(`${what}: runtime CPU ms per socket`, (r) => at(r)[mode].runtimeCpuMsPerSocket);
        row(`${what}: requests + socket messages the feed object served (upgrades, listens; hubs' /mirror loads)`, (r) => at(r)[mode].feedRequestsDuring);
        row(`${what}: other processes' load (cores, noise)`, (r) => at(r)[mode].cpuMs.otherCores, { ratio: false });
      }
    }
  }
  const rounds = Math.max(...edges.map((e) => results[e].length));
  const lines = [
    "",
    `Each figure: the median over ${rounds} round${rounds > 1 ? "s" : ""} (edges alternating, each under a fresh \`wrangler dev\`)${ref ? `; each ratio: the median of the ratios within a round (${others.join(", ")} ÷ ${ref}), which cancels neighbours' load that drifts between rounds` : ""}.`,
  ];
  for (const sec of sections) {
    if (!sec.rows.length) continue;
    lines.push("", `### ${sec.title}`, "");
    lines.push(`| metric | ${edges.join(" | ")} |${ref ? others.map((e) => ` ${e} ÷ ${ref} |`).join("") : ""}`);
    lines.push(`|---|${edges.map(() => "---:|").join("")}${ref ? others.map(() => "---:|").join("") : ""}`);
    for (const r of sec.rows) {
      const ratios = r.ratios.map((x) => (x === null ? " – |" : ` ${fmt(x)}× |`)).join("");
      lines.push(`| ${r.label} | ${edges.map((e) => fmt(r.values[e])).join(" | ")} |${ref ? ratios : ""}`);
    }
  }
  return lines.join("\n");
}

function fmtBytes(b) {
  return b >= 1024 && b % 1024 === 0 ? `${b / 1024} KiB` : `${b} B`;
}

/** Everything the report prints: hookfeed vs the reference (the original table), then the edge tables. */
export function fullMarkdown(results, ref) {
  // hookfeed against itself (variants of one build, e.g. with hubs): the edge tables say it all.
  const rows = ref !== "hookfeed" && results.hookfeed?.length && results[ref]?.length ? comparisonRows(results.hookfeed, results[ref]) : [];
  const classic = markdown(rows, results, ref);
  return { rows, md: [classic, edgeTables(results, ref)].filter(Boolean).join("\n") };
}
