import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { launchChromium } from "./support/browser.mjs";
import { startEdge } from "./support/edge.mjs";

describe("the demo page in headless Chromium", () => {
  let edge;
  let browser;
  before(async () => {
    edge = await startEdge();
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await edge?.stop(); });

  it("is served by the Worker's assets and shows the edge healthy with its sources", async () => {
    const page = await browser.newPage();
    await page.goto(edge.url);
    await page.locator("#health.ok").waitFor();
    assert.match(await page.locator("#health-text").textContent(), /edge healthy/);
    const rows = await page.locator("#sources tbody tr td:first-child").allTextContents();
    assert.deepEqual(rows, ["twin-actor", "percify", "hooks"]);
  });
});
