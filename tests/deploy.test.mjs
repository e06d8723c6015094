// `wrangler deploy --dry-run` builds the bundle that would be uploaded; it must fit the
// Workers free plan's 3 MB compressed limit.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

import { ROOT } from "./support/edge.mjs";

const FREE_PLAN_LIMIT = 3 * 1024 * 1024;

it("builds a deployable bundle under the free plan's 3 MB compressed limit", async () => {
  const outdir = mkdtempSync(join(tmpdir(), "hookfeed-deploy-"));
  const { stdout } = await promisify(execFile)(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
  });
  const files = readdirSync(outdir, { recursive: true }).map((f) => join(outdir, f)).filter((f) => statSync(f).isFile());
  assert.ok(files.some((f) => f.endsWith(".wasm")), `no wasm in the bundle: ${files}`);
  const raw = files.reduce((n, f) => n + statSync(f).size, 0);
  const gzipped = files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  console.log(`# deploy bundle: ${(raw / 1024).toFixed(0)} KiB raw, ${(gzipped / 1024).toFixed(0)} KiB gzip`);
  assert.ok(gzipped < FREE_PLAN_LIMIT, `bundle is ${gzipped} bytes gzipped`);

  // The README quotes what `npm run deploy -- --dry-run` prints; it must still be about right.
  const printed = stdout.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  assert.ok(printed, `wrangler printed no "Total Upload" line:\n${stdout}`);
  const quoted = readFileSync(join(ROOT, "README.md"), "utf8").match(/`Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB`/);
  assert.ok(quoted, "README.md quotes no `Total Upload: … KiB / gzip: … KiB` line");
  const printedGzip = Number(printed[2]);
  const quotedGzip = Number(quoted[2]);
  console.log(`# wrangler: ${printed[0]}; README: ${quoted[0]}`);
  assert.ok(Math.abs(printedGzip - quotedGzip) <= 0.15 * printedGzip,
    `README.md says ${quotedGzip} KiB gzip, wrangler prints ${printedGzip} KiB: update the Benchmarks figure`);
});
