// Signs deliveries the way each provider documents it, independently of hookfeed-core's
// Rust signing: the end-to-end tests then prove both sides agree.

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";

import { readDevVars, mintToken as mintWith } from "./dev-vars.mjs";
import { ROOT } from "./edge.mjs";

/** The demo secrets of .dev.vars.example, by variable name. */
export const DEMO = readDevVars(join(ROOT, ".dev.vars.example"));

const hmac = (key, ...parts) => {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};

/** A fresh event id. */
export const eventId = () => `evt_${randomBytes(12).toString("hex")}`;

/** Unix seconds now. */
export const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * Headers for `body` (a string) under `scheme`, as its provider sends them.
 * @param {"percify"|"twin-actor"|"standard-webhooks"|"stripe"|"github"} scheme
 */
export function sign(scheme, secret, body, { id = "evt_test", type = "test", t = nowSecs() } = {}) {
  switch (scheme) {
    case "percify":
      return { "X-Percify-Signature": hmac(secret, body).toString("hex") };
    case "twin-actor":
      return {
        "X-Webhook-Signature": `t=${t},v1=${hmac(secret, `${t}.`, body).toString("hex")}`,
        "X-Webhook-ID": id,
        "X-Webhook-Event": type,
      };
    case "standard-webhooks": {
      const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
      return {
        "webhook-id": id,
        "webhook-timestamp": String(t),
        "webhook-signature": `v1,${hmac(key, `${id}.${t}.`, body).toString("base64")}`,
      };
    }
    case "stripe":
      return { "Stripe-Signature": `t=${t},v1=${hmac(secret, `${t}.`, body).toString("hex")}` };
    case "github":
      return {
        "X-Hub-Signature-256": `sha256=${hmac(secret, body).toString("hex")}`,
        "X-GitHub-Delivery": id,
        "X-GitHub-Event": type,
      };
    default:
      throw new Error(`unknown scheme ${scheme}`);
  }
}

/** A Twin.Actor project event body (as its docs show), created `createdSecs`. */
export function twinActorEvent(type, data, { id = eventId(), createdSecs = nowSecs() } = {}) {
  return { id, type, created_at: new Date(createdSecs * 1000).toISOString(), data };
}

/**
 * POSTs a signed delivery to `edge`'s `/hooks/{source}`. Returns status, headers and JSON.
 * `body` may be an object (serialised once) or a string sent byte for byte.
 */
export async function deliver(edge, source, scheme, secret, body, { headers = {}, t } = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const parsed = typeof body === "string" ? {} : body;
  const signed = sign(scheme, secret, text, { id: parsed.id ?? "evt_test", type: parsed.type ?? "test", t });
  const res = await fetch(`${edge.url}/hooks/${source}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...signed, ...headers },
    body: text,
  });
  const raw = await res.text();
  let json;
  try { json = JSON.parse(raw); } catch { json = raw; }
  return { status: res.status, headers: res.headers, body: json };
}

/**
 * Delivers a Twin.Actor event of `type` with `data` to `edge` with the demo's secret and
 * checks it was stored; resolves with the answer's body. `createdSecs` back-dates it.
 */
export async function sendTwin(edge, type, data, { createdSecs } = {}) {
  const res = await deliver(edge, "twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR, twinActorEvent(type, data, { createdSecs }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Twin.Actor's `project.processing` for project `id` of `user_id` at `progress`, stored (`createdSecs` back-dates it). */
export const sendOwnedProject = (edge, id, user_id, progress, createdSecs) =>
  sendTwin(edge, "project.processing", { project_id: id, user_id, progress }, { createdSecs });

/** A subscriber token for the demo's TOKEN_SECRET (or `secret`), minted like a backend would. */
export function mintToken({ tenant = "demo", scopes = ["*"], ttlSecs = 3600, secret = DEMO.TOKEN_SECRET } = {}) {
  return mintWith(secret, { tenant, scopes, ttlSecs });
}

/**
 * A request body of `totalBytes` spaces, streamed in 64 KiB chunks without a declared
 * length; `pulled()` says how much the server made the client send.
 */
export function chunkedBody(totalBytes) {
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      sent += 64 * 1024;
      if (sent > totalBytes) controller.close();
      else controller.enqueue(new Uint8Array(64 * 1024).fill(32));
    },
  });
  return { stream, pulled: () => sent };
}
