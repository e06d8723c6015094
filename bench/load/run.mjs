#!/usr/bin/env node
// Load benchmark: hookfeed against an idiomatic partyserver baseline and/or the pre-move
// hookfeed build ("before", bench/build-before.sh), side by side, each under its own
// `wrangler dev` (one at a time). See bench/load/README.md.
//
//   PATH=$PWD/node_modules/.bin:$PATH node bench/load/run.mjs --edge both --json /tmp/load.json
//   PATH=$PWD/node_modules/.bin:$PATH node bench/load/run.mjs --edge before,hookfeed \
//     --scenarios ingest,refusal,abuse --ingest-bytes 1024,65536 --rounds 3
//
// Scenarios (each bounded in count and time, loopback only):
//   ingest     2,000 signed ~1 KiB twin-actor deliveries at concurrency 16 (median of 3 runs)
//   fanout     N subscribers (100, 1,000) on projects/1; 50 events at 10/s, then 50 back to back
//   isolation  1,000 subscribers on their own documents; events to other documents
//   capacity   subscribers ramped 1,000 → 10,000 on one document until p99 > 1 s or errors
//   refusal    runtime CPU per genuine, per forged (401) and per over-budget (429) delivery
//   abuse      10,000 forged deliveries from 250 addresses while genuine ones flow at 10/s
//   storm      N sockets on a 2,000-document collection and their own document all reconnect
//              at once, resuming with `since`, then without (full snapshots)
//
// This file runs the rounds and each edge's scenarios in turn; the rest is in modules of
// their own: options.mjs (the flags), edges.mjs (which edges, started how), phases.mjs (the
// building blocks and the probe), scenarios.mjs, report.mjs (the tables), and lib.mjs
// (signing, /proc CPU, wrangler's lifecycle, sockets), which profile.mjs shares.

import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT, findDirectPort, getHealthz, identifyProcesses, loadAverage, log, maxOpenFiles, round, startWrangler } from "./lib.mjs";
import { EDGE_NAMES, O, REFERENCE, SCENARIOS, argv } from "./options.mjs";
import { Edge, edgeDef } from "./edges.mjs";
import { NOISY_CORES, probe } from "./phases.mjs";
import { ingestKey, scenarioAbuse, scenarioCapacity, scenarioFanout, scenarioIngest, scenarioIsolation, scenarioRefusal, scenarioStorm } from "./scenarios.mjs";
import { fullMarkdown } from "./report.mjs";

// ---------------------------------------------------------------------------------------
// One edge

async function runEdge(name) {
  const def = edgeDef(name);
  const out = { edge: name, label: def.label, commit: def.commit ?? null };
  log(`starting wrangler dev for ${name}`);
  const t0 = Date.now();
  let handle;
  try {
    handle = await startWrangler({ name, configArgs: def.configArgs, cwd: def.cwd ?? ROOT, readyTimeoutMs: def.readyTimeoutMs, logLevel: O.logLevel });
  } catch (e) {
    out.error = String(e.message ?? e);
    log(out.error);
    return out;
  }
  const edge = new Edge(def, handle);
  try {
    out.startSeconds = round((Date.now() - t0) / 1000, 1);
    out.port = handle.port;
    out.log = handle.logPath;
    out.processes = handle.procs;
    edge.directPort = await findDirectPort(handle);
    out.directPort = edge.directPort;
    log(`${name} ready on :${handle.port} (runtime workerd ${handle.procs.runtime} direct :${edge.directPort}, proxy workerd ${handle.procs.proxy}, wrangler ${handle.procs.wrangler})`);
    if ((O.via === "direct" || O.capacityVia === "direct") && !edge.directPort) throw new Error("no direct port found on the runtime workerd");

    // The settings the edge actually runs with (the post-move build lists them in dev mode
    // or for the admin), so a run shows that a NAME=value variant took effect.
    const health = await getHealthz(edge.h.base, def.vars.ADMIN_TOKEN).catch((e) => ({ error: String(e) }));
    out.settings = Object.fromEntries(
      ["version", "refusal_limiter", "webcrypto_min_bytes", "websocket_compression", "dev_mode"].filter((k) => k in (health ?? {})).map((k) => [k, health[k]]),
    );
    const hubs = health?.feeds?.demo?.hubs;
    if (Array.isArray(hubs)) out.settings.hubs = hubs.length;
    log(`${name} settings: ${JSON.stringify(out.settings)}`);
    out.probe = await probe(edge);
    log(`${name} probe: ingest ${out.probe.ingest.ok ? "ok" : "NOT READY " + out.probe.ingest.first}; feed ${out.probe.feed.ok ? "ok" : "NOT READY " + out.probe.feed.error}`);
    let knownRuntime = JSON.stringify(edge.h.procs.runtime);
    const run = async (key, fn, needsFeed, scenario = key) => {
      if (!SCENARIOS.has(scenario)) return;
      if (!out.probe.ingest.ok) return (out[key] = { skipped: "POST /hooks/twin-actor not ready" });
      if (needsFeed && !out.probe.feed.ok) return (out[key] = { skipped: `GET /feed not ready: ${out.probe.feed.error}` });
      if (!edge.alive()) return (out[key] = { skipped: "wrangler dev exited" });
      identifyProcesses(edge.h);
      if (JSON.stringify(edge.h.procs.runtime) !== knownRuntime) {
        // wrangler restarted the runtime (a crash, or a watched file changed): its entry
        // socket moved. Later scenarios run on the new one; the restart is noted.
        out.restarts = [...(out.restarts ?? []), `before ${key}: ${knownRuntime} → ${JSON.stringify(edge.h.procs.runtime)}`];
        knownRuntime = JSON.stringify(edge.h.procs.runtime);
        edge.directPort = await findDirectPort(edge.h);
        log(`${name}: the runtime workerd restarted; direct port now :${edge.directPort}`);
      }
      const pids = knownRuntime;
      log(`${name}: scenario ${key}`);
      try {
        out[key] = await fn(edge);
      } catch (e) {
        out[key] = { error: String(e.stack ?? e) };
        log(`${name} ${key} failed: ${e.stack ?? e}`);
      }
      identifyProcesses(edge.h);
      if (JSON.stringify(edge.h.procs.runtime) !== pids) {
        out[key].warning = `the runtime workerd restarted during the scenario (${pids} → ${JSON.stringify(edge.h.procs.runtime)}): figures left out of the comparison`;
        log(`${name} ${key}: ${out[key].warning}`);
      }
    };
    for (const bytes of O.ingestBytes)
      for (const via of O.ingestVia) await run(ingestKey(via, bytes), (e) => scenarioIngest(e, via, bytes), false, "ingest");
    await run("refusal", scenarioRefusal, false);
    await run("abuse", scenarioAbuse, false);
    await run("fanout", scenarioFanout, true);
    await run("isolation", scenarioIsolation, true);
    await run("capacity", scenarioCapacity, true);
    await run("storm", scenarioStorm, true);
  } catch (e) {
    out.error = String(e.stack ?? e);
    log(`${name}: ${out.error}`);
  } finally {
    log(`stopping wrangler dev for ${name}`);
    await handle.stop();
  }
  return out;
}

// ---------------------------------------------------------------------------------------

async function main() {
  if (argv.report) {
    // Re-render earlier --json files (several: their rounds merged), without running anything.
    const files = argv.report.split(",").map((f) => JSON.parse(readFileSync(f, "utf8")));
    Object.assign(O, files[0].options);
    const merged = {};
    let n = 0;
    for (const f of files) {
      const rounds = Math.max(...Object.values(f.results).flat().map((r) => r.round ?? 1));
      for (const [edge, list] of Object.entries(f.results)) for (const r of [].concat(list)) (merged[edge] ??= []).push({ ...r, round: n + (r.round ?? 1) });
      n += rounds;
    }
    O.rounds = n;
    const ref = argv.reference ?? files[0].reference ?? (merged.before ? "before" : "baseline");
    const { md } = fullMarkdown(merged, ref);
    process.stdout.write(`\n## ${Object.keys(merged).join(" vs ")} (${files.map((f) => f.started).join(", ")}; ${files[0].machine.cpus} cores${n > 1 ? `, medians of ${n} rounds` : ""})\n\n${md}\n`);
    if (argv.json) writeFileSync(argv.json, JSON.stringify({ merged: argv.report.split(","), options: O, results: merged, markdown: md }, null, 2));
    return;
  }
  const { soft, hard } = maxOpenFiles();
  log(`edges ${EDGE_NAMES.join(", ")}; scenarios ${[...SCENARIOS].join(", ")}; fd limit ${soft}/${hard}; via ${O.via}, capacity via ${O.capacityVia}`);
  const results = Object.fromEntries(EDGE_NAMES.map((n) => [n, []]));
  for (const name of EDGE_NAMES) edgeDef(name); // builds the pre-move edge now, if it runs
  const started = new Date().toISOString();
  const loadBefore = loadAverage();
  const wranglerVersion = JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")).version;
  const report = (final) => {
    const { rows, md } = fullMarkdown(results, REFERENCE);
    return {
      started,
      finished: final ? new Date().toISOString() : null,
      complete: final,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: round(totalmem() / 2 ** 30, 1), fdLimit: { soft, hard }, loadBefore, loadAfter: loadAverage() },
      versions: { node: process.version, wrangler: wranglerVersion },
      reference: REFERENCE,
      options: O,
      notes: [
        "CPU figures are utime+stime from /proc/<pid>/stat (10 ms ticks) of the runtime workerd (the one running the Worker and its Durable Object), the proxy workerd (wrangler's dev proxy) and wrangler's node process, measured around each phase.",
        "Latency = receipt time in the driver − sent_at stamped into the event just before its POST (same clock).",
        `capacity connects ${O.capacityVia === "direct" ? "straight to the runtime workerd's entry socket, bypassing wrangler's proxy" : "through wrangler's proxy"}. workerd holds two descriptors per WebSocket (each accepted connection is dup()ed) and crashes at EMFILE, so with ${soft} descriptors per process one workerd holds at most ~${Math.floor((soft - 100) / 2)} sockets here; steps beyond that add listens (ids 2, 3, …) to the sockets already open, and the table reports sockets and listens separately.`,
        `\`other\` / \`otherCores\` in each phase's cpuMs: CPU used meanwhile by processes outside this benchmark (from /proc/stat), a noise indicator; the comparison prefers rounds where it stayed under ${NOISY_CORES} core.`,
      ],
      results,
      comparison: rows,
      markdown: md,
    };
  };
  // Rounds alternate the order of the edges, so neither always runs first.
  for (let r = 0; r < O.rounds; r++) {
    const order = r % 2 ? [...EDGE_NAMES].reverse() : EDGE_NAMES;
    for (const name of order) {
      if (O.rounds > 1) log(`round ${r + 1}/${O.rounds}: ${name}`);
      const res = await runEdge(name);
      res.round = r + 1;
      results[name].push(res);
      // A partial report after every edge, so an interrupted run still leaves its figures.
      if (argv.json) writeFileSync(argv.json, JSON.stringify(report(false), null, 2));
    }
  }
  const final = report(true);
  process.stdout.write(`\n## ${EDGE_NAMES.join(" vs ")} (wrangler dev, ${cpus().length} cores${O.rounds > 1 ? `, medians of ${O.rounds} rounds` : ""}; ratios ÷ ${REFERENCE})\n\n${final.markdown}\n`);
  if (argv.json) {
    writeFileSync(argv.json, JSON.stringify(final, null, 2));
    log(`wrote ${argv.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
