// Browser-module benchmarks:
//  1. size: a minimal onSnapshot app bundled with esbuild --minify, hookfeed (JS + wasm)
//     beside the same app on @firebase/firestore + @firebase/app, gzip -9, same run;
//  2. time to first snapshot: navigation start → first onSnapshot callback in headless
//     Chromium against wrangler dev, median of 10 fresh page loads.
// Usage: node bench/web/run.mjs [--json out.json]

import { build } from "esbuild";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { launchChromium } from "../../tests/support/browser.mjs";
import { ROOT, startEdge } from "../../tests/support/edge.mjs";
import { mintToken } from "../../tests/support/sign.mjs";

const TARGET_KB = 30;
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1);
const jsonOut = process.argv.includes("--json") ? process.argv[process.argv.indexOf("--json") + 1] : undefined;

async function bundle(entry, alias = {}) {
  const outdir = mkdtempSync(join(tmpdir(), "hookfeed-size-"));
  const result = await build({
    entryPoints: [join(ROOT, "bench/web", entry)],
    bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022",
    outdir, write: true, metafile: true, alias, logLevel: "error",
  });
  const js = Object.keys(result.metafile.outputs).filter((f) => f.endsWith(".js"));
  return js.reduce((sum, f) => sum + gz(readFileSync(f)), 0);
}

console.log("==> size: minimal onSnapshot app, esbuild --minify, gzip -9");
const hookfeedJs = await bundle("hookfeed-app.js", { hookfeed: join(ROOT, "web/index.js") });
const hookfeedWasm = gz(readFileSync(join(ROOT, "web/pkg/hookfeed_web_bg.wasm")));
const firestoreJs = await bundle("firestore-app.js");
const hookfeedTotal = hookfeedJs + hookfeedWasm;

console.log("==> time to first snapshot: Chromium against wrangler dev, 10 fresh loads");
const edge = await startEdge();
const browser = await launchChromium();
const token = mintToken({ scopes: ["projects/*"] });
const times = [];
try {
  for (let i = 0; i < 11; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${edge.url}/healthz`);
    await page.evaluate(() => performance.clearResourceTimings());
    // A real navigation to a page that imports the module, as an app would.
    await page.setContent(`<script type="module">
      const start = performance.now();
      const { initializeFeed, doc, onSnapshot } = await import("${edge.url}/hookfeed/index.js");
      const db = initializeFeed({ url: "${edge.url}", token: "${token}", persistence: false });
      onSnapshot(doc(db, "projects", "42"), () => { window.firstSnapshotMs = performance.now(); });
    </script>`);
    await page.waitForFunction(() => window.firstSnapshotMs !== undefined, null, { timeout: 30_000 });
    const ms = await page.evaluate(() => window.firstSnapshotMs);
    if (i > 0) times.push(ms); // the first load warms wrangler's build cache
    await context.close();
  }
} finally {
  await browser.close();
  await edge.stop();
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];

const rows = [
  ["hookfeed (JS + wasm)", hookfeedTotal, `JS ${kb(hookfeedJs)} KB + wasm ${kb(hookfeedWasm)} KB`],
  ["@firebase/firestore + @firebase/app", firestoreJs, "JS only"],
];
console.log("\n| bundle | gzip KB | parts |\n|---|---:|---|");
for (const [name, bytes, parts] of rows) console.log(`| ${name} | ${kb(bytes)} | ${parts} |`);
console.log(`\nhookfeed is ${(hookfeedTotal / firestoreJs).toFixed(2)}x Firestore's size; target <= ${TARGET_KB} KB: ${hookfeedTotal / 1024 <= TARGET_KB ? "met" : "missed"}`);
console.log(`time to first snapshot (navigation → first callback), median of ${times.length}: ${median.toFixed(0)} ms (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)})`);

if (jsonOut) {
  writeFileSync(jsonOut, JSON.stringify({
    hookfeed_gzip_bytes: hookfeedTotal, hookfeed_js_gzip_bytes: hookfeedJs, hookfeed_wasm_gzip_bytes: hookfeedWasm,
    firestore_gzip_bytes: firestoreJs, first_snapshot_ms_median: median, first_snapshot_ms: times,
  }, null, 2));
}
