// POST /hooks/{source} under a real wrangler dev: every status code of the contract,
// dedup, reordering, and the delivery log.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { withSources } from "./support/config.mjs";
import { ROOT, startEdge } from "./support/edge.mjs";
import { chunkedBody, DEMO, deliver, eventId, mintToken, nowSecs, sign, twinActorEvent } from "./support/sign.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const PERCIFY = ["percify", "percify", DEMO.SECRET_PERCIFY];
const HOOKS = ["hooks", "standard-webhooks", DEMO.SECRET_HOOKS];
const ADMIN = { Authorization: `Bearer ${DEMO.ADMIN_TOKEN}` };

const extraSources = [
  { name: "limited", scheme: "percify", tenant: "limits", rate_limit_per_minute: 3, secret: "limited-secret" },
  { name: "order-a", scheme: "twin-actor", tenant: "order-a", secret: "order-secret" },
  // Another tenant, so a secret of its own (sources of two tenants may not share one).
  { name: "order-b", scheme: "twin-actor", tenant: "order-b", secret: "order-secret-b" },
];

async function documentOf(edge, path, tenant = "demo") {
  const res = await fetch(`${edge.url}/docs/${path}?token=${mintToken({ tenant })}`);
  return { status: res.status, body: await res.json() };
}

describe("ingest: POST /hooks/{source}", () => {
  let edge;
  before(async () => { edge = await startEdge({ vars: withSources(extraSources) }); });
  after(async () => { await edge?.stop(); });

  it("stores a signed delivery of each configured scheme and answers after the commit", async () => {
    const project = String(1000 + Math.floor(Math.random() * 1000));
    const twin = await deliver(edge, ...TWIN, twinActorEvent("project.completed", { project_id: Number(project), video_url: "https://v/x.mp4" }));
    assert.equal(twin.status, 200, JSON.stringify(twin.body));
    assert.deepEqual(Object.keys(twin.body).sort(), ["duplicate", "received", "seq"]);
    assert.equal(twin.body.duplicate, false);
    assert.equal((await documentOf(edge, `projects/${project}`)).body.data.final_video_url, "https://v/x.mp4");

    const percify = await deliver(edge, ...PERCIFY, {
      type: "video.completed", id: eventId(), created: new Date().toISOString(),
      data: { videoId: `video_${project}`, userId: "user_1", status: "completed", videoUrl: "https://cdn/v.mp4" },
    });
    assert.equal(percify.status, 200, JSON.stringify(percify.body));
    assert.equal((await documentOf(edge, `videos/video_${project}`)).body.data.status, "completed");

    const hooks = await deliver(edge, ...HOOKS, { type: "job.completed", timestamp: new Date().toISOString(), data: { job_id: `job_${project}` } }, {
      headers: { "webhook-id": "ignored" },
    });
    // The standard-webhooks id travels in webhook-id, which the signature covers: a
    // header changed after signing is a bad signature.
    assert.equal(hooks.status, 401);
    const body = JSON.stringify({ type: "job.completed", timestamp: new Date().toISOString(), data: { job_id: `job_${project}` } });
    const res = await fetch(`${edge.url}/hooks/hooks`, {
      method: "POST", body, headers: sign("standard-webhooks", DEMO.SECRET_HOOKS, body, { id: eventId() }),
    });
    assert.equal(res.status, 200);
    const job = (await documentOf(edge, `jobs/job_${project}`)).body.data;
    assert.equal(job.status, "completed");
    assert.equal(job.progress, 100);
  });

  it("accepts what the CLI sends for every known event type of both providers", async () => {
    // npm test builds the CLI in its cargo step; the CLI signs with hookfeed-core's Rust signer.
    const cli = join(ROOT, "target/debug/hookfeed");
    assert.ok(existsSync(cli), "target/debug/hookfeed is missing: run cargo build -p hookfeed-cli");
    const run = (...args) => promisify(execFile)(cli, args, { cwd: ROOT });
    for (const source of ["twin-actor", "percify"]) {
      const { stdout } = await run("events", "--scheme", source);
      const types = stdout.trim().split("\n");
      assert.ok(types.length >= 8, `${source}: ${types}`);
      for (const type of types) {
        const { stdout: out } = await run("send", "--source", source, "--event", type, "--url", edge.url, "--json");
        const result = JSON.parse(out);
        assert.equal(result.status, 200, `${source} ${type}: ${out}`);
      }
    }
  });

  it("answers the CLI's resend of one --id duplicate, and its sample URLs follow --set project_id", async () => {
    const cli = join(ROOT, "target/debug/hookfeed");
    const state = mkdtempSync(join(tmpdir(), "hookfeed-cli-state-"));
    const send = async (...args) => {
      const { stdout } = await promisify(execFile)(cli, ["send", "--source", "twin-actor", "--url", edge.url, "--json", ...args], {
        cwd: ROOT, env: { ...process.env, HOOKFEED_STATE_DIR: state },
      });
      return JSON.parse(stdout);
    };
    const project = 5000 + Math.floor(Math.random() * 1000);
    const id = eventId();
    const resend = ["--event", "project.completed", "--id", id, "--set", `project_id=${project}`];
    const first = await send(...resend);
    assert.equal(first.status, 200, JSON.stringify(first));
    assert.equal(first.body.duplicate, false);
    assert.deepEqual((await send(...resend)).body, { received: true, duplicate: true, seq: first.body.seq });
    const changed = await send(...resend, "--set", "credits_used=1");
    assert.equal(changed.status, 200, JSON.stringify(changed));
    const log = await (await fetch(`${edge.url}/deliveries?event_id=${id}`, { headers: ADMIN })).json();
    assert.deepEqual(log.deliveries.map((row) => row.outcome).sort(), ["conflict", "duplicate", "stored"]);
    const doc = (await documentOf(edge, `projects/${project}`)).body.data;
    assert.equal(doc.final_video_url, `https://storage.twin.actor/videos/project_${project}_final.mp4`);
  });

  it("answers a duplicate with duplicate: true and the first seq, and changes nothing", async () => {
    const event = twinActorEvent("project.processing", { project_id: 77, progress: 10 });
    const first = await deliver(edge, ...TWIN, event);
    const again = await deliver(edge, ...TWIN, event);
    assert.equal(first.status, 200);
    assert.deepEqual(again.body, { received: true, duplicate: true, seq: first.body.seq });
  });

  it("refuses a bad signature, a stale timestamp and a garbled header with 401 and a reason", async () => {
    const event = twinActorEvent("project.completed", { project_id: 5 });
    const wrongSecret = await deliver(edge, "twin-actor", "twin-actor", "not-the-secret", event);
    assert.equal(wrongSecret.status, 401);
    assert.equal(wrongSecret.body.error.code, "signature_mismatch");

    const stale = await deliver(edge, ...TWIN, event, { t: nowSecs() - 3600 });
    assert.equal(stale.status, 401);
    assert.equal(stale.body.error.code, "timestamp_too_old");
    assert.match(stale.body.error.message, /tolerance is 300 s/);

    const garbled = await deliver(edge, ...TWIN, event, { headers: { "X-Webhook-Signature": "t=soon,v1=00" } });
    assert.equal(garbled.status, 401);
    assert.equal(garbled.body.error.code, "malformed_header");

    const missing = await fetch(`${edge.url}/hooks/twin-actor`, { method: "POST", body: JSON.stringify(event) });
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).error.code, "missing_header");
    assert.equal((await documentOf(edge, "projects/5")).status, 404, "nothing was stored");
  });

  it("refuses a well-signed body that is not an event with 400", async () => {
    const notJson = await deliver(edge, ...PERCIFY, "{not json");
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, "invalid_json");
    const noId = await deliver(edge, ...PERCIFY, { type: "video.completed", data: {} });
    assert.equal(noId.status, 400);
    assert.equal(noId.body.error.code, "missing_field");
  });

  it("refuses a Percify delivery without `created` with 400: it would have no replay window", async () => {
    // Percify signs no timestamp; the body's `created` is the only clock to hold a replay
    // to. Every event Percify documents carries one, its test events too.
    const res = await deliver(edge, ...PERCIFY, { id: eventId(), type: "video.completed", data: { videoId: "video_nocreated" } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "missing_field");
    assert.match(res.body.error.message, /created/);
    assert.equal((await documentOf(edge, "videos/video_nocreated")).status, 404, "nothing was stored");
  });

  it("answers an unknown source with 404", async () => {
    const res = await deliver(edge, "nope", "percify", "x", { id: "evt_1", type: "t" });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, "unknown_source");
  });

  it("refuses a body over 1 MiB with 413, by its Content-Length or while streaming", async () => {
    const huge = JSON.stringify({ id: eventId(), type: "video.completed", data: { pad: "x".repeat(1024 * 1024) } });
    const declared = await deliver(edge, ...PERCIFY, huge);
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error.code, "body_too_large");

    // No Content-Length: a stream that never ends would be read forever without the cap.
    const endless = chunkedBody(64 * 1024 * 1024);
    try {
      const streamed = await fetch(`${edge.url}/hooks/percify`, { method: "POST", body: endless.stream, duplex: "half", headers: { "X-Percify-Signature": "00".repeat(32) } });
      assert.equal(streamed.status, 413);
    } catch (e) {
      // The edge may answer and close while the client is still sending: the client then
      // sees the connection end instead of the 413. Either way it stopped reading.
      assert.match(String(e.cause ?? e), /other side closed|socket|ECONNRESET|EPIPE|terminated/i);
    }
    assert.ok(endless.pulled() < 64 * 1024 * 1024, "the edge stopped reading early");
  });

  it("answers 429 with Retry-After once a source's rate limit is spent", async () => {
    const statuses = [];
    let limited;
    for (let i = 0; i < 5; i++) {
      const res = await deliver(edge, "limited", "percify", "limited-secret", { id: eventId(), type: "video.completed", created: new Date().toISOString(), data: { videoId: "v" } });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(limited.body.error.code, "rate_limited");
  });

  it("turns the same deliveries, reordered and duplicated, into the same documents", async () => {
    const t0 = nowSecs() - 120;
    const events = [
      twinActorEvent("project.created", { project_id: 9 }, { createdSecs: t0 }),
      twinActorEvent("project.processing", { project_id: 9, progress: 30 }, { createdSecs: t0 + 10 }),
      twinActorEvent("project.processing", { project_id: 9, progress: 70 }, { createdSecs: t0 + 20 }),
      twinActorEvent("project.completed", { project_id: 9, video_url: "https://v/9.mp4" }, { createdSecs: t0 + 30 }),
      twinActorEvent("project.created", { project_id: 10 }, { createdSecs: t0 }),
      twinActorEvent("project.failed", { project_id: 10, error_message: "boom" }, { createdSecs: t0 + 5 }),
    ];
    for (const e of events) assert.equal((await deliver(edge, "order-a", "twin-actor", "order-secret", e)).status, 200);
    const shuffled = [events[3], events[5], events[1], events[3], events[0], events[2], events[4], events[1], events[5]];
    for (const e of shuffled) assert.equal((await deliver(edge, "order-b", "twin-actor", "order-secret-b", e)).status, 200);
    for (const path of ["projects/9", "projects/10"]) {
      const a = await documentOf(edge, path, "order-a");
      const b = await documentOf(edge, path, "order-b");
      assert.deepEqual(b.body.data, a.body.data, path);
    }
    const nine = (await documentOf(edge, "projects/9", "order-b")).body.data;
    assert.equal(nine.status, "completed");
    assert.equal(nine.progress, 100);
    assert.equal((await documentOf(edge, "projects/10", "order-b")).body.data.status, "failed");
  });

  it("lists deliveries with their outcome, and rejected ones with the reason, for the admin", async () => {
    const unauthorized = await fetch(`${edge.url}/deliveries`);
    assert.equal(unauthorized.status, 401);
    const wrong = await fetch(`${edge.url}/deliveries`, { headers: { Authorization: "Bearer guess" } });
    assert.equal(wrong.status, 401);

    const res = await fetch(`${edge.url}/deliveries?limit=200`, { headers: ADMIN });
    assert.equal(res.status, 200);
    const { deliveries } = await res.json();
    const rejected = deliveries.filter((d) => d.outcome === "rejected");
    const codes = new Set(rejected.map((d) => d.code));
    for (const code of ["signature_mismatch", "timestamp_too_old", "malformed_header", "missing_header", "invalid_json"]) {
      assert.ok(codes.has(code), `the log lacks a ${code} rejection: ${[...codes]}`);
    }
    assert.ok(rejected.every((d) => d.message && d.status >= 400));
    const duplicate = deliveries.find((d) => d.outcome === "duplicate");
    assert.equal(duplicate.event_type, "project.processing");
    const stored = deliveries.find((d) => d.outcome === "stored" && d.event_type === "project.completed");
    assert.match(stored.message, /applied to projects\//);

    const limited = await (await fetch(`${edge.url}/deliveries?tenant=limits&outcome=rejected`, { headers: ADMIN })).json();
    assert.ok(limited.deliveries.some((d) => d.code === "rate_limited" && d.status === 429));
  });

  it("never lets a secret reach a response or the log", async () => {
    const res = await fetch(`${edge.url}/deliveries?limit=500`, { headers: ADMIN });
    const text = await res.text() + edge.log();
    for (const name of ["SECRET_TWIN_ACTOR", "SECRET_PERCIFY", "SECRET_HOOKS", "TOKEN_SECRET"]) {
      assert.ok(!text.includes(DEMO[name]), `${name} leaked`);
    }
  });

  // Issue 20's attack review: renames followed into a sample's URLs one after another fed
  // each rename's output to the next, so a 1.6 KB /dev/sign ran the Worker out of memory.
  it("follows chained id renames into a dev sample's URLs in one pass: the answer stays small and the Worker keeps serving", async () => {
    const rep = (word) => `${word} `.repeat(40);
    const set = {
      avatarId: rep("48"), creditCost: rep("8"), durationSeconds: rep("720p"), resolution: rep("completed"),
      status: rep("x"), thumbnailUrl: `https://cdn.example/${rep("avatar_def456")}`,
    };
    const request = JSON.stringify({ source: "percify", event: "video.completed", set });
    const signed = fetch(`${edge.url}/dev/sign`, { method: "POST", headers: { "Content-Type": "application/json" }, body: request })
      .then(async (res) => ({ status: res.status, size: (await res.arrayBuffer()).byteLength }));
    const genuine = deliver(edge, ...TWIN, twinActorEvent("project.created", { project_id: 4243 }));
    const [dev, delivered] = await Promise.all([signed, genuine]);
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
    assert.equal(dev.status, 200);
    assert.ok(dev.size < 64 * 1024, `a ${request.length}-byte request signed a ${dev.size}-byte delivery`);
  });
});
