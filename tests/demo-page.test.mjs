// The demo page in headless Chromium: a newcomer clicks a button and watches a project
// go from a progress bar to a finished video, with no reload.

import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  after(async () => {
    await browser?.close();
    await edge?.stop();
  });

  it("is served by the Worker, connects live and lists the configured sources", async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(edge.url);
    await page.locator('#connection[data-state="live"]').waitFor();
    const rows = await page.locator("#sources tbody tr td:first-child").allTextContents();
    assert.deepEqual(rows, ["twin-actor", "percify", "hooks"]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("shows a progress bar while a project processes, then its video link, from a button click", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(edge.url);
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.click("#run-project");
    const processing = page.locator('.job[data-status="processing"] progress');
    await processing.first().waitFor();
    const value = Number(await processing.first().getAttribute("value"));
    assert.ok(value > 0 && value < 100, `progress ${value}`);

    const link = page.locator('.job[data-status="completed"] a.video-link').first();
    await link.waitFor({ timeout: 20_000 });
    assert.match(await link.getAttribute("href"), /^https:\/\/storage\.twin\.actor\/videos\/project_\d+_final\.mp4$/);

    await page.click("#fail-project");
    await page.locator('.job[data-status="failed"] .error').first().waitFor({ timeout: 20_000 });

    const screenshot = join(tmpdir(), `hookfeed-demo-${process.pid}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok(statSync(screenshot).size > 10_000, "the screenshot has content");
    console.log(`# demo page screenshot: ${screenshot}`);
    // The screenshot shows what the DOM says: the completed card has its link and no bar.
    const card = page.locator('.job[data-status="completed"]').first();
    assert.equal(await card.locator("progress").count(), 0);
    assert.equal(await card.locator(".badge").textContent(), "completed");
    await page.close();
  });
});
