// CPU profile of the Worker under ingest load, through workerd's V8 inspector.
//
//   node bench/load/profile.mjs [--edge hookfeed|baseline] [--count 2000] [--top 40] [--via direct|proxy]
//
// Starts `wrangler dev` for the edge, samples the user worker's isolate (Profiler domain)
// while it ingests `count` signed ~1 KiB deliveries at concurrency 16 straight into the
// runtime workerd, and prints self time by function: where the isolate's CPU goes, wasm
// functions included (by name when the module keeps its name section).

import { parseArgs } from "node:util";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ROOT,
  startWrangler,
  findDirectPort,
  readDevVars,
  twinActorDelivery,
  postDelivery,
  pool,
  cpuSnapshot,
  cpuDelta,
  log,
} from "./lib.mjs";

const { values: argv } = parseArgs({
  options: {
    edge: { type: "string", default: "hookfeed" },
    count: { type: "string", default: "2000" },
    top: { type: "string", default: "40" },
    interval: { type: "string", default: "200" },
    out: { type: "string" },
    config: { type: "string" },
    "no-profile": { type: "boolean", default: false },
    via: { type: "string", default: "direct" },
  },
});
const count = Number(argv.count);

const EDGES = {
  hookfeed: { configArgs: [], cwd: ROOT },
  baseline: { configArgs: ["--config", "bench/baselines/partyserver/wrangler.toml"], cwd: ROOT },
};
const def = argv.config ? { configArgs: ["--config", argv.config], cwd: ROOT } : EDGES[argv.edge];
if (!def) throw new Error(`unknown edge ${argv.edge}`);

const secret = (readDevVars(join(ROOT, ".dev.vars")).SECRET_TWIN_ACTOR ?? "").split(",")[0];
const edge = await startWrangler({ name: argv.edge, ...def, readyTimeoutMs: 240000 });
try {
  const port = argv.via === "direct" ? await findDirectPort(edge) : null;
  const base = port ? `http://127.0.0.1:${port}` : edge.base;
  const targets = await (await fetch(`http://127.0.0.1:${edge.inspectorPort}/json`)).json();
  const target = targets.find((t) => /hookfeed|partyserver|user/i.test(t.title ?? t.id)) ?? targets[0];
  log(`profiling ${target.title ?? target.id} (${targets.length} targets) via ${base}`);
  const inspector = await connect(target.webSocketDebuggerUrl);

  const deliveries = (n, tag) =>
    Array.from({ length: n }, (_, i) =>
      twinActorDelivery({
        secret,
        id: `evt_prof_${tag}_${i}`,
        type: "project.processing",
        projectId: 1000 + (i % 50),
        createdAt: Date.now() + i,
        progress: i % 100,
      }),
    );
  // Warm up: compile, create the object, fill caches.
  await pool(deliveries(200, "warm").map((d) => () => postDelivery(base, d)), 16);

  const profiling = !argv["no-profile"];
  if (profiling) {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: Number(argv.interval) });
    await inspector.send("Profiler.start");
  }
  const before = cpuSnapshot(edge);
  const results = await pool(deliveries(count, "run").map((d) => () => postDelivery(base, d)), 16);
  const after = cpuSnapshot(edge);
  const { profile } = profiling ? await inspector.send("Profiler.stop") : {};
  if (argv.out && profiling) {
    // The bundle's source beside the profile, so that line numbers can be read.
    await inspector.send("Debugger.enable");
    const ids = new Set(profile.nodes.filter((n) => n.callFrame.url.endsWith(".js")).map((n) => n.callFrame.scriptId));
    for (const scriptId of ids) {
      const { scriptSource } = await inspector.send("Debugger.getScriptSource", { scriptId }).catch(() => ({}));
      if (scriptSource) writeFileSync(`${argv.out}.${scriptId}.js`, scriptSource);
    }
  }
  inspector.close();
  if (argv.out && profiling) writeFileSync(argv.out, JSON.stringify(profile));

  const bad = results.filter((r) => r.status !== 200);
  const cpu = cpuDelta(before, after);
  log(`${count} deliveries, ${bad.length} not 200; runtime ${(cpu.runtime / count).toFixed(3)} ms CPU/delivery`);
  if (profiling) report(profile, Number(argv.top));
} finally {
  await edge.stop();
}

/** Self time per function, and the share of the isolate's sampled time. */
function report(profile, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const self = new Map();
  let total = 0;
  for (const [id, us] of dt) {
    const { callFrame } = byId.get(id);
    const key = `${callFrame.functionName || "(anonymous)"}  ${shortUrl(callFrame.url)}`;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  const busy = total - (self.get("(idle)  ") ?? 0) - (self.get("(program)  ") ?? 0);
  console.log(`sampled ${(total / 1000).toFixed(0)} ms, of which not idle/program ${(busy / 1000).toFixed(0)} ms`);
  for (const [key, us] of rows) console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
}

function shortUrl(url) {
  return url ? url.replace(/^.*\//, "") : "";
}

/** A minimal Chrome DevTools Protocol client over Node 22's WebSocket. */
async function connect(url) {
  // wrangler's inspector proxy accepts DevTools from localhost origins only.
  const ws = new WebSocket(url, { headers: { origin: "http://localhost" } });
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = () => rej(new Error(`cannot reach the inspector at ${url}`));
  });
  let next = 1;
  const pending = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.id && pending.has(msg.id)) {
      const { res, rej } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? rej(new Error(`${msg.error.message}`)) : res(msg.result);
    }
  };
  return {
    send: (method, params = {}) =>
      new Promise((res, rej) => {
        const id = next++;
        pending.set(id, { res, rej });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}
