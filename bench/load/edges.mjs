// The edges under test: how each is started (its wrangler configuration, settings and
// vars: hookfeed, the partyserver baseline, the pre-move build, variants), and the context
// a scenario gets for one started edge.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cpuSnapshot, identifyProcesses, log, mintToken, nowMs, readDevVars, twinActorDelivery } from "./lib.mjs";
import { AFTER_DIR, BEFORE_DIR, O, argv } from "./options.mjs";

/**
 * hookfeed rate-limits each source (6,000/min by default: `DEFAULT_RATE_LIMIT_PER_MINUTE`
 * in hookfeed-core's source.rs) and each client address; the baseline has no limiter. For the benchmark the limits are raised (not switched off, so
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
export function edgeDef(name) {
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

// ---------------------------------------------------------------------------------------
// Per-edge context

export class Edge {
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
