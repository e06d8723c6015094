// The demo page in headless Chromium: a newcomer clicks a button and watches a project
// go from a progress bar to a finished video, with no reload, and watches the deliveries
// that made it arrive beside it: stored, duplicate, out of order, refused with the reason.

import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { edgeAndChromium } from "./support/browser.mjs";

describe("the demo page in headless Chromium", () => {
  const suite = edgeAndChromium();

  it("is served by the Worker, connects live and lists the configured sources", async () => {
    const page = await suite.browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(suite.edge.url);
    await page.locator('#connection[data-state="live"]').waitFor();
    const rows = await page.locator("#sources tbody tr td:first-child").allTextContents();
    assert.deepEqual(rows, ["twin-actor", "percify", "hooks"]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("shows a progress bar while a project processes, then its video link, from a button click", async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(suite.edge.url);
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

  it("shows deliveries arriving live beside the documents: stored, duplicate, out of order, and a forgery refused with the reason", async () => {
    const page = await suite.browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(suite.edge.url);
    await page.locator('#connection[data-state="live"]').waitFor();
    const row = (outcome) => page.locator(`#deliveries .delivery[data-outcome="${outcome}"]`).first();

    await page.click("#send-duplicate");
    await row("duplicate").waitFor();
    assert.match(await row("duplicate").locator(".why").textContent(), /already stored at seq \d+/);
    assert.match(await row("stored").locator(".why").textContent(), /applied to projects\/\d+/);

    await page.click("#send-late");
    await row("out_of_order").waitFor();
    assert.match(await row("out_of_order").locator(".why").textContent(), /arrived after a newer event for projects\/\d+/);
    // The document shows the newer event's progress, not the late one's.
    const id = (await row("out_of_order").locator(".why").textContent()).match(/projects\/(\d+)/)[1];
    const card = page.locator(".job", { hasText: `Project ${id}` });
    await card.locator("progress").waitFor();
    assert.equal(await card.locator("progress").getAttribute("value"), "80");

    await page.click("#send-forged");
    await row("rejected").waitFor();
    assert.match(await row("rejected").locator(".why").textContent(), /^signature_mismatch: /);
    assert.equal(await row("rejected").locator(".outcome").textContent(), "refused");
    // Side by side: the log's column sits to the right of the documents'.
    const [docs, log] = await Promise.all([page.locator("#projects").boundingBox(), page.locator("#log").boundingBox()]);
    assert.ok(log.x > docs.x + docs.width - 1, `documents at x=${docs.x}, log at x=${log.x}`);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
