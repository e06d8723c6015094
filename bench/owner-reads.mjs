// An owner's read of a large collection: what `GET /docs/projects` costs under an
// owner-scoped token (`{"projects": "user_id"}`) when the collection holds 10,000 projects
// of 100 owners, before and after the feed narrowed owner reads in SQL (issue 17, item 7).
//
//   bash bench/build-before.sh 209954a target/bench-owner-before   # the build before, once
//   node bench/owner-reads.mjs --before target/bench-owner-before [--docs 10000] [--owners 100]
//        [--rounds 7] [--reads 20] [--json out.json]
//
// Each edge is a `wrangler dev` of its own build (wrangler.toml without [build]: nothing is
// rebuilt), seeded with the same signed Twin.Actor deliveries. Then rounds alternate between
// the edges; a round is `--reads` sequential owner-scoped GETs, each checked to answer
// exactly the owner's documents. Per read: wall time, and the CPU time of the runtime
// workerd process (/proc/PID/stat: the Worker and its Durable Object, not wrangler's proxy).
// Figures are medians over rounds; the ratio is before / after within the same run.
// Without --before, only this checkout's build is measured.

import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import {
  ROOT, cpuSnapshot, log, median, pool, postDelivery, readDevVars, round, sleep, startWrangler, twinActorDelivery,
} from "./load/lib.mjs";

const { values: argv } = parseArgs({
  options: {
    before: { type: "string" },
    docs: { type: "string", default: "10000" },
    owners: { type: "string", default: "100" },
    rounds: { type: "string", default: "7" },
    reads: { type: "string", default: "20" },
    bytes: { type: "string", default: "512" },
    json: { type: "string" },
  },
});
const DOCS = Number(argv.docs);
const OWNERS = Number(argv.owners);
const ROUNDS = Number(argv.rounds);
const READS = Number(argv.reads);
const BYTES = Number(argv.bytes);

/** wrangler.toml of `src` without [build], its `main` made absolute, in `dir`, with .dev.vars beside it. */
function configWithoutBuild(src, dir) {
  mkdirSync(dir, { recursive: true });
  const out = [];
  let skip = false;
  for (const line of readFileSync(join(src, "wrangler.toml"), "utf8").split("\n")) {
    if (line.trim() === "[build]") skip = true;
    else if (skip && line.trim() === "") skip = false;
    else if (!skip) out.push(line);
  }
  const toml = out.join("\n").replace(/^main = "(.*)"$/m, (_, main) => `main = "${join(src, main)}"`);
  writeFileSync(join(dir, "wrangler.toml"), toml);
  rmSync(join(dir, ".dev.vars"), { force: true });
  symlinkSync(existsSync(join(src, ".dev.vars")) ? join(src, ".dev.vars") : join(src, ".dev.vars.example"), join(dir, ".dev.vars"));
  return join(dir, "wrangler.toml");
}

/** Rate limits raised for seeding (every delivery comes from 127.0.0.1). */
function varArgs(src) {
  const toml = readFileSync(join(src, "wrangler.toml"), "utf8");
  const sources = JSON.parse(toml.match(/HOOKFEED_SOURCES\s*=\s*'''([\s\S]*?)'''/)[1]);
  for (const source of sources) source.rate_limit_per_minute = 10_000_000;
  return ["--var", `HOOKFEED_SOURCES:${JSON.stringify(sources)}`, "--var", "HOOKFEED_CLIENT_RATE_PER_MINUTE:10000000"];
}

/** An HS256 subscriber token reading the projects whose user_id is `owner`. */
function ownerToken(secret, owner) {
  const part = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const claims = { tenant: "demo", scopes: [], sub: owner, owner: { projects: "user_id" }, exp: Math.floor(Date.now() / 1000) + 6 * 3600 };
  const input = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const owner = (i) => `owner_${String(i % OWNERS).padStart(3, "0")}`;

async function start(name, src) {
  const config = configWithoutBuild(src, join(ROOT, `target/bench-owner-reads/${name}`));
  const vars = { ...readDevVars(join(src, ".dev.vars.example")), ...readDevVars(join(src, ".dev.vars")) };
  log(`starting ${name} (${src})`);
  const handle = await startWrangler({ name, configArgs: ["-c", config, ...varArgs(src)], cwd: src, readyTimeoutMs: 5 * 60 * 1000 });
  const secret = (vars.SECRET_TWIN_ACTOR ?? "").split(",")[0];
  const created = Date.now() - 3600 * 1000;
  const seeds = Array.from({ length: DOCS }, (_, i) => () => {
    const id = `evt_owner_${i}`;
    const { body, headers } = twinActorDelivery({
      secret, id, type: "project.processing", projectId: 100_000 + i, createdAt: created + i, progress: i % 100,
      extra: { user_id: owner(i) }, bytes: BYTES,
    });
    return postDelivery(handle.base, { body, headers });
  });
  // A connection wrangler's proxy resets under load is retried: the event id makes a
  // redelivery a duplicate, never a second document.
  const deliver = async (send) => {
    for (let attempt = 0; ; attempt++) {
      const answer = await send();
      if (answer.status === 200 || attempt === 4) return answer;
      await sleep(200 * (attempt + 1));
    }
  };
  const t0 = Date.now();
  const answers = await pool(seeds.map((send) => () => deliver(send)), 8);
  const refused = answers.filter((a) => a.status !== 200);
  if (refused.length) {
    await handle.stop();
    throw new Error(`${name}: ${refused.length} seed deliveries refused, e.g. ${JSON.stringify(refused[0])}`);
  }
  log(`${name}: seeded ${DOCS} projects of ${OWNERS} owners in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const tokens = Array.from({ length: OWNERS }, (_, i) => ownerToken(vars.TOKEN_SECRET, owner(i)));
  return { name, handle, tokens };
}

/** One owner-scoped GET /docs/projects, checked: exactly the owner's DOCS / OWNERS documents. */
async function read(edge, i) {
  const res = await fetch(`${edge.handle.base}/docs/projects?token=${edge.tokens[i % OWNERS]}`);
  const { docs } = await res.json();
  const want = owner(i);
  if (res.status !== 200 || docs.length !== Math.ceil((DOCS - (i % OWNERS)) / OWNERS) || docs.some((d) => d.data.user_id !== want)) {
    throw new Error(`${edge.name}: GET /docs/projects as ${want} answered ${res.status} with ${docs?.length} documents`);
  }
}

async function round_(edge, r) {
  const before = cpuSnapshot(edge.handle);
  for (let k = 0; k < READS; k++) await read(edge, r * READS + k);
  const after = cpuSnapshot(edge.handle);
  return { wallMs: (after.at - before.at) / READS, cpuMs: (after.runtime - before.runtime) / READS };
}

const edges = [];
try {
  if (argv.before) edges.push(await start("before", resolve(argv.before)));
  edges.push(await start("after", ROOT));
  // Warm up: the first owner read creates the field index (after) and wakes the feed.
  for (const edge of edges) for (let k = 0; k < 3; k++) await read(edge, k);
  const rounds = Object.fromEntries(edges.map((e) => [e.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const edge of r % 2 ? [...edges].reverse() : edges) rounds[edge.name].push(await round_(edge, r));
  }
  const summary = {};
  for (const edge of edges) {
    const rs = rounds[edge.name];
    summary[edge.name] = {
      cpu_ms_per_read: round(median(rs.map((x) => x.cpuMs)), 2),
      wall_ms_per_read: round(median(rs.map((x) => x.wallMs)), 2),
      rounds: rs.map((x) => ({ cpu_ms: round(x.cpuMs, 2), wall_ms: round(x.wallMs, 2) })),
    };
  }
  if (summary.before) {
    summary.ratio_before_over_after = {
      cpu: round(summary.before.cpu_ms_per_read / summary.after.cpu_ms_per_read, 1),
      wall: round(summary.before.wall_ms_per_read / summary.after.wall_ms_per_read, 1),
    };
  }
  const result = { docs: DOCS, owners: OWNERS, bytes: BYTES, rounds: ROUNDS, reads_per_round: READS, ...summary };
  console.log(JSON.stringify(result, null, 2));
  if (argv.json) writeFileSync(argv.json, JSON.stringify(result, null, 2));
} finally {
  for (const edge of edges) await edge.handle.stop();
}
