// The npm package as an app's bundler sees it: the tarball `npm pack` makes, unpacked as
// node_modules would hold it, then a Vite build and an esbuild bundle of the same small app,
// each served from its own origin and loaded in headless Chromium, get a live snapshot from
// a real wrangler dev.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { build as esbuild } from "esbuild";
import { build as vite } from "vite";

import { launchChromium } from "./support/browser.mjs";
import { startEdge } from "./support/edge.mjs";
import { packedPackage } from "./support/pack.mjs";
import { serve } from "./support/static.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";

// The app imports the package by its name; the bundlers resolve it through package.json,
// as they would from node_modules.
const APP = `
import { initializeFeed, doc, onSnapshot } from "hookfeed";
const params = new URLSearchParams(location.search);
const db = initializeFeed({ url: params.get("url"), token: params.get("token"), persistence: false });
onSnapshot(doc(db, "projects", params.get("project")), (snapshot) => {
  window.status = snapshot.data()?.status ?? "missing";
});
`;

function appDir() {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-app-"));
  writeFileSync(join(dir, "main.js"), APP);
  writeFileSync(join(dir, "index.html"), `<!doctype html><script type="module" src="./main.js"></script>`);
  return dir;
}

describe("the npm package in an app's bundler", () => {
  let edge;
  let browser;
  let pkg;
  const project = String(52000 + Math.floor(Math.random() * 1000));
  before(async () => {
    // What `npm publish` would upload (the browser module is built by then), unpacked.
    pkg = packedPackage(["web/index.js", "web/index.d.ts", "web/pkg/hookfeed_web.js", "web/pkg/hookfeed_web_bg.wasm"]);
    edge = await startEdge();
    browser = await launchChromium();
    const body = twinActorEvent("project.processing", { project_id: Number(project), progress: 40 });
    const res = await deliver(edge, "twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  after(async () => {
    await browser?.close();
    await edge?.stop();
  });

  /** Opens the built app and waits for its first snapshot's status. */
  async function statusFrom(dist) {
    const server = await serve(dist);
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const query = new URLSearchParams({ url: edge.url, token: mintToken({ scopes: ["projects/*"] }), project });
      await page.goto(`${server.origin}/?${query}`);
      await page.waitForFunction(() => typeof window.status === "string" && window.status !== "", null, { timeout: 30_000 });
      assert.deepEqual(errors, []);
      return await page.evaluate(() => window.status);
    } finally {
      server.stop();
    }
  }

  it("loads from a Vite build, which emits the wasm as an asset", async () => {
    const dir = appDir();
    const dist = join(dir, "dist");
    await vite({
      root: dir,
      logLevel: "silent",
      configFile: false,
      resolve: { alias: { hookfeed: pkg } },
      build: { outDir: dist, target: "es2022" },
    });
    assert.equal(await statusFrom(dist), "processing");
  });

  it("loads from an esbuild bundle with the wasm copied beside it", async () => {
    const dir = appDir();
    const dist = join(dir, "dist");
    await esbuild({
      entryPoints: [join(dir, "main.js")],
      bundle: true,
      format: "esm",
      target: "es2022",
      outdir: dist,
      alias: { hookfeed: pkg },
      logLevel: "error",
    });
    // esbuild leaves `new URL("./pkg/…", import.meta.url)` alone: the wasm goes next to the
    // bundle, as the README says.
    mkdirSync(join(dist, "pkg"), { recursive: true });
    copyFileSync(join(pkg, "web/pkg/hookfeed_web_bg.wasm"), join(dist, "pkg/hookfeed_web_bg.wasm"));
    writeFileSync(join(dist, "index.html"), `<!doctype html><script type="module" src="./main.js"></script>`);
    assert.equal(await statusFrom(dist), "processing");
  });
});
