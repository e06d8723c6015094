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

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import {
  ROOT,
  closeAll,
  cpuDelta,
  cpuSnapshot,
  feedStorage,
  findDirectPort,
  getHealthz,
  identifyProcesses,
  loadAverage,
  log,
  maxOpenFiles,
  median,
  mintToken,
  nowMs,
  openFds,
  openSubscriber,
  pool,
  postDelivery,
  readDevVars,
  round,
  sleep,
  startWrangler,
  summarize,
  twinActorDelivery,
} from "./lib.mjs";

// ---------------------------------------------------------------------------------------
// Options

const { values: argv } = parseArgs({
  options: {
    edge: { type: "string", default: "both" },
    json: { type: "string" },
    scenarios: { type: "string", default: "ingest,fanout,isolation,capacity" },
    quick: { type: "boolean", default: false },
    "ingest-runs": { type: "string" },
    "ingest-count": { type: "string" },
    concurrency: { type: "string", default: "16" },
    projects: { type: "string", default: "200" },
    bytes: { type: "string", default: "1024" },
    "fanout-subs": { type: "string" },
    "fanout-events": { type: "string" },
    rate: { type: "string", default: "10" },
    "isolation-subs": { type: "string" },
    "isolation-events": { type: "string" },
    "isolation-rate": { type: "string", default: "50" },
    "capacity-steps": { type: "string" },
    "capacity-events": { type: "string", default: "3" },
    "capacity-p99-ms": { type: "string", default: "1000" },
    via: { type: "string", default: "proxy" },
    "ingest-via": { type: "string", default: "proxy,direct" },
    "capacity-via": { type: "string", default: "direct" },
    "connect-concurrency": { type: "string", default: "64" },
    "log-level": { type: "string", default: "warn" },
    rounds: { type: "string", default: "1" },
    report: { type: "string" },
    "hookfeed-rate-limit": { type: "string", default: "10000000" },
    "hookfeed-var": { type: "string", multiple: true, default: [] },
    before: { type: "string" },
    after: { type: "string" },
    reference: { type: "string" },
    "ingest-bytes": { type: "string" },
    "refusal-count": { type: "string" },
    "refusal-runs": { type: "string" },
    "refusal-via": { type: "string", default: "proxy" },
    "abuse-forged": { type: "string" },
    "abuse-addresses": { type: "string" },
    "abuse-concurrency": { type: "string", default: "32" },
    "abuse-genuine-ms": { type: "string", default: "100" },
    "abuse-control-ms": { type: "string", default: "5000" },
    "storm-subs": { type: "string" },
    "storm-docs": { type: "string" },
    "storm-changes": { type: "string", default: "20" },
    "storm-concurrency": { type: "string", default: "1000" },
    "storm-modes": { type: "string", default: "since,full" },
    "storm-timeout-ms": { type: "string", default: "120000" },
    "storm-own": { type: "string", default: "voice_clones" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (argv.help) {
  process.stdout.write(readFileSync(join(ROOT, "bench/load/README.md"), "utf8"));
  process.exit(0);
}

const quick = argv.quick;
const num = (v, d) => (v === undefined ? d : Number(v));
const list = (v, d) => (v === undefined ? d : v.split(",").map(Number));
const O = {
  ingestRuns: num(argv["ingest-runs"], quick ? 1 : 3),
  ingestCount: num(argv["ingest-count"], quick ? 400 : 2000),
  concurrency: Number(argv.concurrency),
  projects: Number(argv.projects),
  bytes: Number(argv.bytes),
  // Body sizes of the ingest scenario; the first is also --bytes (the other scenarios' size).
  ingestBytes: list(argv["ingest-bytes"], [Number(argv.bytes)]),
  refusalCount: num(argv["refusal-count"], quick ? 300 : 2000),
  refusalRuns: num(argv["refusal-runs"], quick ? 1 : 3),
  refusalVia: argv["refusal-via"],
  abuseForged: num(argv["abuse-forged"], quick ? 2000 : 10000),
  abuseAddresses: list(argv["abuse-addresses"], [250]),
  abuseConcurrency: Number(argv["abuse-concurrency"]),
  abuseGenuineMs: Number(argv["abuse-genuine-ms"]),
  abuseControlMs: Number(argv["abuse-control-ms"]),
  fanoutSubs: list(argv["fanout-subs"], quick ? [50, 200] : [100, 1000]),
  fanoutEvents: num(argv["fanout-events"], quick ? 20 : 50),
  rate: Number(argv.rate),
  isolationSubs: num(argv["isolation-subs"], quick ? 200 : 1000),
  isolationEvents: num(argv["isolation-events"], quick ? 100 : 300),
  isolationRate: Number(argv["isolation-rate"]),
  capacitySteps: list(argv["capacity-steps"], quick ? [500, 1000] : [1000, 2500, 5000, 10000, 15000]),
  capacityEvents: Number(argv["capacity-events"]),
  stormSubs: list(argv["storm-subs"], quick ? [200] : [1000]),
  stormDocs: num(argv["storm-docs"], quick ? 200 : 2000),
  stormChanges: Number(argv["storm-changes"]),
  stormConcurrency: Number(argv["storm-concurrency"]),
  stormModes: argv["storm-modes"].split(","),
  stormTimeoutMs: Number(argv["storm-timeout-ms"]),
  // The collection each socket's own document is in: another than the storm's (every hub
  // then loads each one from the feed), or `projects`, the storm's (a hub has it already).
  stormOwn: argv["storm-own"],
  capacityP99Ms: Number(argv["capacity-p99-ms"]),
  via: argv.via,
  ingestVia: argv["ingest-via"].split(","),
  capacityVia: argv["capacity-via"],
  connectConcurrency: Number(argv["connect-concurrency"]),
  rounds: Number(argv.rounds),
  logLevel: argv["log-level"] === "info" ? undefined : argv["log-level"],
};
if (O.ingestBytes[0] !== O.bytes) O.ingestBytes = [O.bytes, ...O.ingestBytes.filter((b) => b !== O.bytes)];
const SCENARIOS = new Set(argv.scenarios.split(","));
// `both`, one edge, or a comma-separated order (`hookfeed,baseline`, `before,hookfeed`).
// Commas inside a setting's JSON (`hookfeed:HOOKFEED_HUBS={"demo":8,"acme":2}`) do not split.
const EDGE_NAMES = argv.edge === "both" ? ["baseline", "hookfeed"] : splitTopLevel(argv.edge);
for (const e of EDGE_NAMES) if (!["hookfeed", "baseline", "before", "hookfeed-nolimiter"].includes(e.split(":")[0])) throw new Error(`--edge: unknown ${e}`);
/** Splits `text` at commas outside braces, brackets and double quotes. */
function splitTopLevel(text) {
  const out = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter(Boolean);
}
/** The edge hookfeed's figures are divided by: `--reference`, else before when it runs, else baseline. */
const REFERENCE = argv.reference ?? (EDGE_NAMES.includes("before") ? "before" : "baseline");
/** The pre-move build: a worktree made by bench/build-before.sh (its default directory). */
const BEFORE_DIR = argv.before ?? join(ROOT, "target/bench-before");
/**
 * `--after DIR`: the hookfeed edge from a worktree built by `bench/build-before.sh <ref> DIR`
 * rather than from the main checkout (which wrangler rebuilds from whatever crates/ holds,
 * including someone's edit in progress).
 */
const AFTER_DIR = argv.after ? resolve(ROOT, argv.after) : null;

/**
 * hookfeed rate-limits each source (600/min by default) and each client address; the
 * baseline has no limiter. For the benchmark the limits are raised (not switched off, so
 * the limiter's own cost stays in the figures) with `--var`, leaving wrangler.toml alone.
 */
function hookfeedVarArgs(tomlPath = join(ROOT, "wrangler.toml")) {
  // `--hookfeed-var NAME:value`: any other setting, e.g. HOOKFEED_WEBSOCKET_COMPRESSION:on.
  // Every benchmark subscriber comes from 127.0.0.1: lift the per-address socket limit
  // (1,000 by default), as the rate limits are lifted, unless a --hookfeed-var sets it.
  const socketLimit = argv["hookfeed-var"].some((v) => v.startsWith("HOOKFEED_SOCKETS_PER_CLIENT:"))
    ? [] : ["--var", "HOOKFEED_SOCKETS_PER_CLIENT:0"];
  const extra = [...socketLimit, ...argv["hookfeed-var"].flatMap((v) => ["--var", v])];
  const limit = argv["hookfeed-rate-limit"];
  if (limit === "keep") return extra;
  if (!existsSync(tomlPath)) return extra; // the before edge, not built yet: see beforeEdge()
  const toml = readFileSync(tomlPath, "utf8");
  const m = toml.match(/HOOKFEED_SOURCES\s*=\s*'''([\s\S]*?)'''/);
  const sources = m ? JSON.parse(m[1]) : [{ name: "twin-actor", scheme: "twin-actor", tenant: "demo" }];
  for (const source of sources) source.rate_limit_per_minute = Number(limit);
  return ["--var", `HOOKFEED_SOURCES:${JSON.stringify(sources)}`, "--var", `HOOKFEED_CLIENT_RATE_PER_MINUTE:${Number(limit)}`, ...extra];
}

const rootVars = { ...readDevVars(join(ROOT, ".dev.vars.example")), ...readDevVars(join(ROOT, ".dev.vars")) };
const EDGES = {
  get hookfeed() {
    if (AFTER_DIR) return worktreeEdge("hookfeed", AFTER_DIR, "hookfeed", false);
    return {
      name: "hookfeed",
      label: "hookfeed (Rust → wasm)",
      configArgs: ["-c", join(ROOT, "wrangler.toml"), ...hookfeedVarArgs()],
      // The first `wrangler dev` builds the Rust worker (scripts/build-worker.sh).
      readyTimeoutMs: 30 * 60 * 1000,
      vars: rootVars,
      commit: checkoutCommit(),
    };
  },
  baseline: {
    name: "baseline",
    label: "baseline (TypeScript + partyserver)",
    configArgs: ["-c", join(ROOT, "bench/baselines/partyserver/wrangler.toml")],
    readyTimeoutMs: 3 * 60 * 1000,
    vars: readDevVars(join(ROOT, "bench/baselines/partyserver/.dev.vars")),
  },
  // Built on first use (bench/build-before.sh), so its configuration is read then.
  get before() {
    return beforeEdge();
  },
  // The same build without the REFUSALS [[ratelimits]] binding: what a refusal costs the
  // Worker itself, without wrangler dev's simulation of Cloudflare's rate limiter (a
  // Durable Object that writes SQLite on every call, in the same runtime workerd).
  get "hookfeed-nolimiter"() {
    return noLimiterEdge();
  },
};

/** Drops a TOML table (its header line through the next blank line). */
function withoutTable(toml, header) {
  const out = [];
  let skip = false;
  for (const line of toml.split("\n")) {
    if (line.trim() === header) skip = true;
    else if (skip && line.trim() === "") skip = false;
    else if (!skip) out.push(line);
  }
  return out.join("\n");
}

function noLimiterEdge() {
  const dir = join(ROOT, "target/bench-nolimiter");
  const src = AFTER_DIR ?? ROOT; // the hookfeed edge's checkout
  mkdirSync(dir, { recursive: true });
  let toml = readFileSync(join(src, "wrangler.toml"), "utf8");
  toml = withoutTable(withoutTable(toml, "[build]"), "[[ratelimits]]");
  toml = toml.replace(/^main = "(.*)"$/m, (_, main) => `main = "${join(src, main)}"`);
  if (/^\[\[ratelimits\]\]/m.test(toml)) throw new Error("could not drop [[ratelimits]] from wrangler.toml");
  writeFileSync(join(dir, "wrangler.toml"), toml);
  // wrangler reads .dev.vars beside the configuration.
  const vars = join(dir, ".dev.vars");
  rmSync(vars, { force: true });
  symlinkSync(existsSync(join(src, ".dev.vars")) ? join(src, ".dev.vars") : join(src, ".dev.vars.example"), vars);
  return {
    ...EDGES.hookfeed,
    cwd: ROOT,
    name: "hookfeed-nolimiter",
    label: "hookfeed without the REFUSALS rate-limit binding",
    configArgs: ["-c", join(dir, "wrangler.toml"), ...hookfeedVarArgs()],
    readyTimeoutMs: 3 * 60 * 1000,
  };
}

/**
 * An edge by name: `hookfeed`, `baseline`, `before`, or hookfeed/before with settings of
 * its own, `hookfeed:NAME=value[:NAME=value]` (e.g. `hookfeed:HOOKFEED_WEBCRYPTO_MIN_BYTES=0`
 * beside `hookfeed:HOOKFEED_WEBCRYPTO_MIN_BYTES=off`: two builds' settings in one run).
 */
function edgeDef(name) {
  // Settings split at a `:` that starts the next NAME=, so a value may hold colons
  // (`hookfeed:HOOKFEED_HUBS={"*":8}`: JSON).
  const [base, ...settings] = name.split(/:(?=[A-Za-z_][A-Za-z0-9_]*=)/);
  const def = EDGES[base];
  if (!settings.length) return def;
  if (base === "baseline") throw new Error(`--edge ${name}: settings apply to hookfeed and before only`);
  const vars = settings.flatMap((kv) => {
    const i = kv.indexOf("=");
    if (i <= 0) throw new Error(`--edge ${name}: expected NAME=value, got ${kv}`);
    return ["--var", `${kv.slice(0, i)}:${kv.slice(i + 1)}`];
  });
  return { ...def, name, label: `${def.label} with ${settings.join(", ")}`, configArgs: [...def.configArgs, ...vars] };
}

/** The commit the main checkout's hookfeed is built from, and whether crates/ differs from it. */
function checkoutCommit() {
  try {
    const head = spawnSync("git", ["-C", ROOT, "log", "-1", "--format=%h %s"], { encoding: "utf8" }).stdout.trim();
    const dirty = spawnSync("git", ["-C", ROOT, "status", "--porcelain", "--", "crates", "Cargo.lock", "Cargo.toml", "wrangler.toml"], { encoding: "utf8" }).stdout.trim();
    return dirty ? `${head} (+ uncommitted changes in crates/)` : head;
  } catch {
    return null;
  }
}

/**
 * hookfeed as of bench/build-before.sh's ref (before the edge verified deliveries), from
 * its worktree. The same rate-limit and --hookfeed-var settings as the hookfeed edge; the
 * pre-move build also reads HOOKFEED_CLIENT_RATE_PER_MINUTE (its per-address limit).
 */
function beforeEdge() {
  return worktreeEdge("before", BEFORE_DIR, "hookfeed before the move", argv.before === undefined);
}

const worktreeDefs = new Map();
/**
 * An edge from a worktree made by bench/build-before.sh: its own build, wrangler.toml
 * (less [build]: nothing is rebuilt) and .dev.vars. `build`: run the script first (the
 * default before-worktree; quick when it is built).
 */
function worktreeEdge(name, dir, what, build) {
  if (worktreeDefs.has(name)) return worktreeDefs.get(name);
  const config = join(dir, "wrangler.bench.toml");
  if (build) {
    log(`bench/build-before.sh (the pre-move build in ${dir})`);
    const r = spawnSync("bash", [join(ROOT, "bench/build-before.sh")], { cwd: ROOT, stdio: ["ignore", process.stderr, process.stderr] });
    if (r.status !== 0) throw new Error(`bench/build-before.sh failed (exit ${r.status})`);
  }
  if (!existsSync(config)) throw new Error(`${dir}: no wrangler.bench.toml; run bash bench/build-before.sh <ref> ${dir} first`);
  let commit = null;
  try {
    commit = spawnSync("git", ["-C", dir, "log", "-1", "--format=%h %s"], { encoding: "utf8" }).stdout.trim() || null;
  } catch {}
  const def = {
    name,
    label: `${what} (${commit ?? dir})`,
    configArgs: ["-c", config, ...hookfeedVarArgs(config)],
    cwd: dir,
    readyTimeoutMs: 5 * 60 * 1000,
    vars: { ...readDevVars(join(dir, ".dev.vars.example")), ...readDevVars(join(dir, ".dev.vars")) },
    commit,
    dir,
  };
  worktreeDefs.set(name, def);
  return def;
}

const SETTLE_MS = 300;
/** A phase during which other processes kept this many cores busy is "noisy". */
const NOISY_CORES = 0.5;
const pad = (i, w = 6) => String(i).padStart(w, "0");

// ---------------------------------------------------------------------------------------
// Per-edge context

class Edge {
  constructor(def, handle) {
    this.def = def;
    this.h = handle;
    this.secret = (def.vars.SECRET_TWIN_ACTOR ?? "twin-actor-demo-secret").split(",")[0];
    this.token = mintToken(def.vars.TOKEN_SECRET ?? "hookfeed-demo-token-secret", { tenant: "demo", scopes: ["*"] });
    // A monotonic `created_at` clock for events that must win over every earlier one.
    this.clock = Date.now() - 4 * 3600 * 1000;
    this.ingestCpuPerDelivery = null;
  }

  url(via) {
    return via === "direct" ? `http://127.0.0.1:${this.directPort}` : this.h.base;
  }

  feedUrl(via) {
    return `${this.url(via).replace(/^http/, "ws")}/feed?token=${encodeURIComponent(this.token)}`;
  }

  nextCreated() {
    this.clock += 1000;
    return this.clock;
  }

  /** A delivery to `projectId` stamped with `sent_at` now, for latency measurement. */
  benchEvent(id, projectId, tag, i) {
    return twinActorDelivery({
      secret: this.secret,
      id,
      type: "project.processing",
      projectId,
      createdAt: this.nextCreated(),
      progress: i % 100,
      extra: { bench_tag: tag, bench_i: i, sent_at: nowMs() },
      bytes: O.bytes,
    });
  }

  cpu() {
    identifyProcesses(this.h);
    return cpuSnapshot(this.h);
  }

  alive() {
    return !this.h.exited();
  }
}

// ---------------------------------------------------------------------------------------
// Building blocks

/**
 * Sends `count` deliveries from `make(i)` (called at send time, so `sent_at` is the real send
 * time) at `ratePerSec`; resolves with the acks. `ordered`: never more than one in flight, as
 * a provider sending one document's events in order would (events to one document that
 * overtook each other would apply out of order, and the older one would change nothing).
 */
async function sendPaced(base, count, ratePerSec, make, { ordered = false } = {}) {
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
async function sendSequential(base, count, make) {
  const acks = [];
  for (let i = 0; i < count; i++) acks.push(await postDelivery(base, make(i)));
  return acks;
}

/** CPU ms by role over a phase; `otherCores` = other processes' load meanwhile, in cores (noise). */
function cpuFigures(cpu) {
  return {
    runtime: cpu.runtime,
    proxy: cpu.proxy,
    wrangler: cpu.wrangler,
    driver: round(cpu.driver, 1),
    other: cpu.other ?? null,
    otherCores: cpu.other == null ? null : round(cpu.other / cpu.wallMs, 2),
  };
}

function ackErrors(acks) {
  const bad = acks.filter((a) => a.status !== 200 || a.json?.received !== true || a.json?.duplicate !== false);
  return { count: bad.length, sample: bad.slice(0, 3).map((a) => `${a.status} ${a.text.slice(0, 160)}`) };
}

/** Opens `n` subscribers on `docOf(i)`; resolves with them and the connect phase's figures. */
async function connectSubscribers(edge, via, n, docOf, onChange, startIndex = 0) {
  const url = edge.feedUrl(via);
  const before = edge.cpu();
  const t0 = nowMs();
  const subs = await pool(
    Array.from({ length: n }, (_, k) => () => openSubscriber(url, docOf(startIndex + k), onChange)),
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
function collector() {
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
async function feedHealth(edge, tenant = "demo") {
  const admin = edge.def.vars.ADMIN_TOKEN;
  if (!admin || edge.def.name.startsWith("baseline")) return null;
  try {
    const h = await getHealthz(edge.h.base, admin);
    const feed = h?.feeds?.[tenant];
    if (!feed || typeof feed.frames_sent !== "number") return null;
    const hubs = Array.isArray(feed.hubs) ? feed.hubs : [];
    return {
      framesSent: feed.frames_sent,
      subscribers: feed.subscribers,
      events: feed.events,
      seq: feed.seq ?? null,
      // Requests the feed object served since it woke (sockets' frames are not requests):
      // with hubs, their /mirror loads.
      requests: feed.requests_since_wake ?? null,
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
  return {
    feedFrames: feed,
    feedFramesPerEvent: round(feed / events, 3),
    hubFrames: hubs,
    hubFramesPerEvent: round(hubs / events, 3),
    hubs: after.hubs,
    feedSockets: after.subscribers,
    hubSockets: after.hubSubscribers,
  };
}

/** Runs one broadcast phase: events to `doc`'s project from `send`, measured. */
async function broadcastPhase(edge, col, { tag, subscribers, events, send, waitMs = 10000, frames = false }) {
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

async function probe(edge) {
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

// ---------------------------------------------------------------------------------------
// Scenarios

async function scenarioIngest(edge, via, bytes = O.bytes) {
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
    const before = edge.cpu();
    const t0 = nowMs();
    const acks = await pool(deliveries.map((d) => () => postDelivery(base, d)), O.concurrency);
    const wallMs = nowMs() - t0;
    await sleep(SETTLE_MS);
    const cpu = cpuDelta(before, edge.cpu());
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
    };
    log(`${edge.def.name} ingest (${via}, ${bytes} B) run ${r + 1}/${O.ingestRuns}: ${run.deliveriesPerSec}/s, ack p50 ${run.ackMs.p50} p99 ${run.ackMs.p99} ms, runtime ${run.runtimeCpuMsPerDelivery} ms CPU/delivery, errors ${run.errors.count}`);
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
function ingestKey(via, bytes) {
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
async function scenarioRefusal(edge) {
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

function safeGet(f) {
  try {
    const v = f();
    return v === undefined ? null : v;
  } catch {
    return null;
  }
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
async function scenarioAbuse(edge) {
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

async function scenarioFanout(edge) {
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
    log(`${edge.def.name} fanout: connecting ${n} subscribers to ${doc}`);
    const { subs, connect } = await connectSubscribers(edge, O.via, n, () => doc, col.onChange);
    const r = { subscribers: n, doc, via: O.via, control, connect };
    // Net of the control: runtime CPU per delivered message beyond what the events cost alone.
    const net = (phase) => (phase.received ? round((phase.cpuMs.runtime - control.runtimeCpuMsPerEvent * phase.events) / phase.received, 5) : null);
    try {
      if (connect.failed) throw new Error(`${connect.failed} of ${n} subscribers failed: ${connect.failureSample.join("; ")}`);
      const base = edge.url(O.via);
      const ok = subs.length;
      const tagP = `fan${n}-paced-${Date.now()}`;
      r.paced = await broadcastPhase(edge, col, {
        tag: tagP,
        subscribers: ok,
        events: O.fanoutEvents,
        send: () => sendPaced(base, O.fanoutEvents, O.rate, (i) => edge.benchEvent(`evt_${tagP}_${pad(i)}`, 1, tagP, i), { ordered: true }),
        frames: true,
      });
      r.paced.ratePerSec = O.rate;
      r.paced.runtimeCpuMsPerMsgNetOfControl = net(r.paced);
      log(`${edge.def.name} fanout ${n} paced ${O.rate}/s: p50 ${r.paced.latencyMs.p50} p99 ${r.paced.latencyMs.p99} max ${r.paced.latencyMs.max} ms, ${r.paced.received}/${r.paced.expected} msgs, ${r.paced.runtimeCpuMsPerMsg} ms CPU/msg; slowest events ${r.paced.slowestEvents.map((e) => `#${e.event} ${e.maxMs} ms`).join(", ")}`);
      const tagB = `fan${n}-burst-${Date.now()}`;
      r.burst = await broadcastPhase(edge, col, {
        tag: tagB,
        subscribers: ok,
        events: O.fanoutEvents,
        send: () => sendSequential(base, O.fanoutEvents, (i) => edge.benchEvent(`evt_${tagB}_${pad(i)}`, 1, tagB, i)),
        waitMs: 30000,
        frames: true,
      });
      r.burst.runtimeCpuMsPerMsgNetOfControl = net(r.burst);
      log(`${edge.def.name} fanout ${n} back-to-back: ${r.burst.msgsPerSec} msgs/s, p99 ${r.burst.latencyMs.p99} ms, ${r.burst.received}/${r.burst.expected} msgs, ${r.burst.runtimeCpuMsPerMsg} ms CPU/msg (${r.burst.runtimeCpuMsPerMsgNetOfControl} net of the control's ${control.runtimeCpuMsPerEvent} ms/event); feed frames/event ${r.burst.frames?.feedFramesPerEvent ?? "–"}, hub frames/event ${r.burst.frames?.hubFramesPerEvent ?? "–"}`);
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

async function scenarioIsolation(edge) {
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

async function scenarioCapacity(edge) {
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
  return new Promise((resolveOpen) => {
    const t0 = nowMs();
    const s = { ok: false, bytes: 0, frames: 0, seqs: {}, docs: {}, errors: [], closed: false, ws: null };
    let pending = listens.length;
    let settled = false;
    const done = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.ok = ok;
      s.liveMs = nowMs() - t0;
      if (!ok) s.error = why;
      resolveOpen(s);
    };
    const timer = setTimeout(() => done(false, "timeout waiting for the snapshots"), timeoutMs);
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      done(false, String(e));
      return;
    }
    s.ws = ws;
    ws.onopen = () => {
      s.openMs = nowMs() - t0;
      listens.forEach((l, k) => ws.send(JSON.stringify({ type: "listen", id: k + 1, target: l.target, ...(l.since === undefined ? {} : { since: l.since }) })));
    };
    ws.onmessage = (ev) => {
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
    };
    ws.onerror = (ev) => done(false, `socket error: ${ev?.message ?? "?"}`);
    ws.onclose = (ev) => {
      s.closed = true;
      done(false, `closed ${ev.code} ${ev.reason}`);
    };
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
async function scenarioStorm(edge) {
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
// Report

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
function fullMarkdown(results, ref) {
  // hookfeed against itself (variants of one build, e.g. with hubs): the edge tables say it all.
  const rows = ref !== "hookfeed" && results.hookfeed?.length && results[ref]?.length ? comparisonRows(results.hookfeed, results[ref]) : [];
  const classic = markdown(rows, results, ref);
  return { rows, md: [classic, edgeTables(results, ref)].filter(Boolean).join("\n") };
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
