// Waiting on what a test can see, never on a fixed sleep.

import assert from "node:assert/strict";

/** Polls `condition` until it holds, or fails after `ms` with `describeState()`: what was seen instead. */
export async function waitUntil(condition, describeState, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${describeState()}`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}
