// The load benchmark's options (bench/load/README.md lists them): parsed once, read by
// every module of the run.

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "./lib.mjs";

export const { values: argv } = parseArgs({
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
    // The fan-out scenario's concurrent bursts: deliveries in flight together (a group
    // commit's changes to the watched document), and how many.
    "fanout-concurrency": { type: "string", default: "16" },
    "fanout-concurrent-events": { type: "string" },
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

export const quick = argv.quick;
const num = (v, d) => (v === undefined ? d : Number(v));
const list = (v, d) => (v === undefined ? d : v.split(",").map(Number));
export const O = {
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
  fanoutConcurrency: Number(argv["fanout-concurrency"]),
  fanoutConcurrentEvents: num(argv["fanout-concurrent-events"], quick ? 80 : 200),
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
export const SCENARIOS = new Set(argv.scenarios.split(","));
// `both`, one edge, or a comma-separated order (`hookfeed,baseline`, `before,hookfeed`).
// Commas inside a setting's JSON (`hookfeed:HOOKFEED_HUBS={"demo":8,"acme":2}`) do not split.
export const EDGE_NAMES = argv.edge === "both" ? ["baseline", "hookfeed"] : splitTopLevel(argv.edge);
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
export const REFERENCE = argv.reference ?? (EDGE_NAMES.includes("before") ? "before" : "baseline");
/** The pre-move build: a worktree made by bench/build-before.sh (its default directory). */
export const BEFORE_DIR = argv.before ?? join(ROOT, "target/bench-before");
/**
 * `--after DIR`: the hookfeed edge from a worktree built by `bench/build-before.sh <ref> DIR`
 * rather than from the main checkout (which wrangler rebuilds from whatever crates/ holds,
 * including someone's edit in progress).
 */
export const AFTER_DIR = argv.after ? resolve(ROOT, argv.after) : null;
