// Stopping and restarting wrangler dev (as every deploy restarts the Worker) keeps the
// documents, the event log (so dedup) and the delivery log.

import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { startEdge } from "./support/edge.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];

describe("persistence across a restart of wrangler dev", () => {
  const persistTo = mkdtempSync(join(tmpdir(), "hookfeed-restart-"));
  let edge;
  after(async () => { await edge?.stop(); });

  it("keeps documents, dedup memory and the delivery log, and resumes subscribers", async () => {
    edge = await startEdge({ persistTo });
    const completed = twinActorEvent("project.completed", { project_id: 4242, video_url: "https://v/4242.mp4" });
    const first = await deliver(edge, ...TWIN, completed);
    assert.equal(first.status, 200);
    const token = mintToken({ scopes: ["projects/*"] });
    const sub = await Subscriber.connect(edge, token);
    sub.listen(1, { doc: "projects/4243" });
    const before = await sub.next((f) => f.type === "snapshot");
    await edge.stop();
    await sub.closed; // the restart drops every socket, as a deploy does

    edge = await startEdge({ persistTo });
    const doc = await (await fetch(`${edge.url}/docs/projects/4242?token=${token}`)).json();
    assert.equal(doc.data.final_video_url, "https://v/4242.mp4");

    const again = await deliver(edge, ...TWIN, completed);
    assert.deepEqual(again.body, { received: true, duplicate: true, seq: first.body.seq });

    const log = await (await fetch(`${edge.url}/deliveries`, { headers: { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` } })).json();
    assert.ok(log.deliveries.some((d) => d.event_id === completed.id && d.outcome === "stored"));
    assert.ok(log.deliveries.some((d) => d.event_id === completed.id && d.outcome === "duplicate"));

    // A change made while the subscriber was away reaches it on resume, exactly once.
    await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: 4243, progress: 12 }));
    const resumed = await Subscriber.connect(edge, token);
    resumed.listen(1, { doc: "projects/4243" }, before.seq);
    const delta = await resumed.next((f) => f.type === "snapshot");
    assert.equal(delta.docs.length, 1);
    assert.equal(delta.docs[0].data.progress, 12);
    await resumed.close();
  });
});
