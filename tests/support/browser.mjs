// Debian's Chromium, driven by playwright-core (which cannot download browsers here).

import { after, before } from "node:test";

import { chromium } from "playwright-core";

import { startEdge } from "./edge.mjs";

const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** Launches headless Chromium with `args` besides the usual; playwright gives it a fresh, empty profile. */
export async function launchChromium({ args = [] } = {}) {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: [...ARGS, ...args] });
}

/**
 * A page of the edge's origin that imports hookfeed as an app would, as `window.hookfeed`,
 * with `window.log` and `window.errors` collecting what the app reports. `owner` is a
 * browser or a context (one browser profile); `init` runs in the page before its scripts.
 */
export async function appPage(owner, edge, { init } = {}) {
  const page = await owner.newPage();
  page.on("pageerror", (e) => console.log(`# page error: ${e.message}`));
  if (init) await page.addInitScript(init);
  await page.goto(`${edge.url}/healthz`);
  await loadHookfeed(page);
  return page;
}

/** Imports hookfeed into `page` again (after a reload), with fresh `log` and `errors`. */
export async function loadHookfeed(page) {
  await page.evaluate(async () => {
    window.log = [];
    window.errors = [];
    window.hookfeed = await import("/hookfeed/index.js");
  });
}

/**
 * A `wrangler dev` edge (started with `edgeOptions`) and headless Chromium for the
 * suite it is called in: started before its tests, stopped after; `suite.edge` and
 * `suite.browser` hold them meanwhile.
 */
export function edgeAndChromium(edgeOptions) {
  const suite = {};
  before(async () => {
    suite.edge = await startEdge(edgeOptions);
    suite.browser = await launchChromium();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.edge?.stop();
  });
  return suite;
}
