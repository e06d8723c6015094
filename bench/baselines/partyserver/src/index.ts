// Baseline for bench/load: hookfeed's job for the twin-actor source, written the way a
// TypeScript developer would with partyserver (hibernating Durable Object rooms) and
// WebCrypto. Same HTTP contract and the same WebSocket wire protocol as hookfeed, so the
// load driver speaks to both unchanged:
//
//   POST /hooks/twin-actor   X-Webhook-Signature: t=<unix>,v1=<hex>   (+ X-Webhook-ID / -Event)
//     → 200 {"received":true,"duplicate":bool,"seq":n} after the SQLite write
//     → 401 / 400 / 413 {"error":{"code","message"}}
//   GET /feed?token=<JWT>    WebSocket; client frames {"type":"listen","id","target":{"doc"}}
//     and {"type":"unlisten","id"}; server frames snapshot / change / error.
//   GET /healthz             200 once the tenant's room answers from SQLite.
//
// Scope: document targets only (what the benchmark uses); no collection queries, no
// `since` resume, no rate limit. Everything the benchmark exercises is implemented in full:
// signature + tolerance + header/body cross-check, dedup by (source, event id), the
// builtin twin-actor projection with per-field last-writer-wins clocks (terminal status
// wins, then `created_at`, then source and event id, as hookfeed's core does), and a change
// frame to exactly the connections listening to the changed document.

import { routePartykitRequest, Server, type Connection, type ConnectionContext } from "partyserver";

interface Env {
  Feed: DurableObjectNamespace;
  /** Comma-separated during a rotation. */
  SECRET_TWIN_ACTOR: string;
  TOKEN_SECRET: string;
}

const SOURCE = "twin-actor";
const TENANT = "demo";
const TOLERANCE_SECS = 300;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_TOKEN_LEN = 4096;
const MAX_CLIENT_FRAME_BYTES = 16 * 1024;
const MAX_LISTENS_PER_CONNECTION = 64;

// ---------------------------------------------------------------------------------------
// WebCrypto helpers (keys imported once per isolate)

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keyCache = new Map<string, Promise<CryptoKey[]>>();

function hmacKeys(secrets: string): Promise<CryptoKey[]> {
  let keys = keyCache.get(secrets);
  if (!keys) {
    keys = Promise.all(
      secrets
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) =>
          crypto.subtle.importKey("raw", encoder.encode(s), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]),
        ),
    );
    keyCache.set(secrets, keys);
  }
  return keys;
}

async function anyKeyVerifies(keys: CryptoKey[], signatures: Uint8Array[], data: Uint8Array): Promise<boolean> {
  for (const key of keys) {
    for (const sig of signatures) {
      // crypto.subtle.verify compares in constant time.
      if (await crypto.subtle.verify("HMAC", key, sig, data)) return true;
    }
  }
  return false;
}

function hexToBytes(hex: string): Uint8Array | null {
  if (hex.length !== 64 || !/^[0-9a-fA-F]+$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function base64UrlToBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Worker: verify at the edge, then hand over to the tenant's room

function jsonError(status: number, code: string, message: string): Response {
  if (status !== 404) console.warn(`rejected (${status} ${code}): ${message}`);
  return Response.json({ error: { code, message } }, { status });
}

class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface VerifiedEvent {
  id: string;
  type: string;
  /** Unix seconds the event is ordered by: created_at, else the signed timestamp. */
  orderedAt: number;
  signedAt: number;
}

async function verifyTwinActor(request: Request, body: Uint8Array, env: Env): Promise<VerifiedEvent> {
  const header = request.headers.get("X-Webhook-Signature");
  if (header === null) throw new Rejection(401, "missing_header", "missing header `X-Webhook-Signature`");
  let t: string | undefined;
  const signatures: Uint8Array[] = [];
  for (const item of header.split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new Rejection(401, "malformed_header", "X-Webhook-Signature: expected key=value pairs");
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === "t") {
      if (t !== undefined || !/^\d{1,12}$/.test(value))
        throw new Rejection(401, "malformed_header", "X-Webhook-Signature: bad `t=`");
      t = value;
    } else if (key === "v1") {
      const sig = hexToBytes(value);
      if (!sig) throw new Rejection(401, "bad_encoding", "X-Webhook-Signature: expected 64 hex digits");
      if (signatures.length < 8) signatures.push(sig);
    }
  }
  if (t === undefined) throw new Rejection(401, "malformed_header", "X-Webhook-Signature: no `t=` timestamp");
  if (signatures.length === 0) throw new Rejection(401, "malformed_header", "X-Webhook-Signature: no `v1=` signature");
  const idHeader = request.headers.get("X-Webhook-ID");
  if (idHeader === null) throw new Rejection(401, "missing_header", "missing header `X-Webhook-ID`");
  const eventHeader = request.headers.get("X-Webhook-Event");
  if (eventHeader === null) throw new Rejection(401, "missing_header", "missing header `X-Webhook-Event`");

  const signedAt = Number(t);
  const now = Math.floor(Date.now() / 1000);
  if (now - signedAt > TOLERANCE_SECS)
    throw new Rejection(401, "timestamp_too_old", `timestamp too old: signed ${now - signedAt} s ago`);
  if (signedAt - now > TOLERANCE_SECS)
    throw new Rejection(401, "timestamp_too_new", `timestamp too new: ${signedAt - now} s ahead`);

  const prefix = encoder.encode(`${t}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  if (!(await anyKeyVerifies(await hmacKeys(env.SECRET_TWIN_ACTOR), signatures, signed)))
    throw new Rejection(401, "signature_mismatch", "no signature matched");

  let event: unknown;
  try {
    event = JSON.parse(decoder.decode(body));
  } catch (e) {
    throw new Rejection(400, "invalid_json", `body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof event !== "object" || event === null || Array.isArray(event))
    throw new Rejection(400, "invalid_json", "body is not a JSON object");
  const { id, type, created_at } = event as Record<string, unknown>;
  if (typeof id !== "string" || id === "" || id.length > 255)
    throw new Rejection(400, "missing_field", "missing or non-string field `id`");
  if (typeof type !== "string" || type === "" || type.length > 255)
    throw new Rejection(400, "missing_field", "missing or non-string field `type`");
  if (idHeader !== id) throw new Rejection(401, "header_body_mismatch", "header `X-Webhook-ID` does not match the body's `id`");
  if (eventHeader !== type)
    throw new Rejection(401, "header_body_mismatch", "header `X-Webhook-Event` does not match the body's `type`");
  let orderedAt = signedAt;
  if (created_at !== undefined && created_at !== null) {
    const ms = typeof created_at === "string" ? Date.parse(created_at) : NaN;
    if (Number.isNaN(ms)) throw new Rejection(400, "invalid_field", "invalid field `created_at`: not RFC 3339");
    orderedAt = Math.floor(ms / 1000);
  }
  return { id, type, orderedAt, signedAt };
}

interface TokenClaims {
  tenant: string;
  scopes: string[];
  exp: number;
}

/** hookfeed's token format: a JWT signed with HS256 and TOKEN_SECRET. */
async function verifyToken(token: string, env: Env): Promise<TokenClaims | string> {
  const parts = token.split(".");
  if (token.length > MAX_TOKEN_LEN || parts.length !== 3) return "token is malformed";
  const [headerB64, claimsB64, signatureB64] = parts;
  const signed = `${headerB64}.${claimsB64}`;
  const header = base64UrlToBytes(headerB64);
  const signature = base64UrlToBytes(signatureB64);
  const claimsJson = base64UrlToBytes(claimsB64);
  if (!header || !signature || !claimsJson) return "token is malformed";
  try {
    if (JSON.parse(decoder.decode(header)).alg !== "HS256") return "token algorithm is not accepted";
  } catch {
    return "token is malformed";
  }
  if (!(await anyKeyVerifies(await hmacKeys(env.TOKEN_SECRET), [signature], encoder.encode(signed))))
    return "token signature is invalid";
  let claims: TokenClaims;
  try {
    claims = JSON.parse(decoder.decode(claimsJson));
  } catch {
    return "token is malformed";
  }
  if (typeof claims.tenant !== "string" || !Array.isArray(claims.scopes) || typeof claims.exp !== "number")
    return "token is malformed";
  if (claims.exp <= Math.floor(Date.now() / 1000)) return "token expired";
  return claims;
}

/** Hands `request` to the tenant's room through partyserver's router. */
function toRoom(request: Request, env: Env, tenant: string, init?: RequestInit): Promise<Response | null> {
  const url = new URL(request.url);
  url.pathname = `/parties/feed/${tenant}`;
  return routePartykitRequest(new Request(url, init ?? request), env);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);

    if (request.method === "POST" && url.pathname === `/hooks/${SOURCE}`) {
      const length = Number(request.headers.get("Content-Length") ?? "0");
      if (length > MAX_BODY_BYTES) return jsonError(413, "payload_too_large", "body over 1 MiB");
      const body = new Uint8Array(await request.arrayBuffer());
      if (body.length > MAX_BODY_BYTES) return jsonError(413, "payload_too_large", "body over 1 MiB");
      let event: VerifiedEvent;
      try {
        event = await verifyTwinActor(request, body, env);
      } catch (e) {
        if (e instanceof Rejection) return jsonError(e.status, e.code, e.message);
        throw e;
      }
      const forwarded = await toRoom(request, env, TENANT, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-hookfeed-source": SOURCE,
          "x-hookfeed-event": JSON.stringify(event),
        },
        body,
      });
      return forwarded ?? jsonError(503, "unavailable", "feed unavailable");
    }

    if (url.pathname === "/feed") {
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
        return jsonError(426, "upgrade_required", "GET /feed is a WebSocket");
      const token = url.searchParams.get("token");
      if (!token) return jsonError(401, "unauthenticated", "missing token");
      const claims = await verifyToken(token, env);
      if (typeof claims === "string") return jsonError(401, "unauthenticated", claims);
      const upgrade = new Request(request);
      upgrade.headers.set("x-hookfeed-scopes", JSON.stringify(claims.scopes));
      return (await toRoom(upgrade, env, claims.tenant, upgrade)) ?? jsonError(503, "unavailable", "feed unavailable");
    }

    if (request.method === "GET" && url.pathname === "/healthz") {
      const feed = await toRoom(request, env, TENANT, { method: "GET" });
      if (!feed || !feed.ok) return jsonError(503, "unavailable", "feed unavailable");
      return Response.json({ ok: true, baseline: "partyserver", feed: await feed.json() });
    }

    return jsonError(404, "not_found", "no such route");
  },
} satisfies ExportedHandler<Env>;

// ---------------------------------------------------------------------------------------
// The room: one per tenant. SQLite log + documents, hibernating WebSockets.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Fields = Record<string, Json>;
/** [terminal, at, source, event id]: compared in that order. */
type Version = [number, number, string, string];

interface Rule {
  prefix: string[];
  exact: string[];
  collection: string;
  /** `=credits` names a fixed document. */
  idField: string;
  statusFromType: boolean;
  progress: boolean;
  rename: Record<string, string>;
}

/** hookfeed-core's builtin twin-actor rules (projection.rs). */
const RULES: Rule[] = [
  {
    prefix: ["project."],
    exact: [],
    collection: "projects",
    idField: "project_id",
    statusFromType: true,
    progress: true,
    rename: { video_url: "final_video_url" },
  },
  {
    prefix: ["voice_clone."],
    exact: [],
    collection: "voice_clones",
    idField: "person_id",
    statusFromType: true,
    progress: false,
    rename: {},
  },
  {
    prefix: [],
    exact: ["credits.low", "credits.depleted"],
    collection: "account",
    idField: "=credits",
    statusFromType: true,
    progress: false,
    rename: {},
  },
];

function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 4; i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

function project(type: string, data: Fields): { path: string; fields: Fields; terminal: boolean } | null {
  const rule = RULES.find((r) => r.exact.includes(type) || r.prefix.some((p) => type.startsWith(p)));
  if (!rule) return null;
  let id: string | undefined;
  if (rule.idField.startsWith("=")) id = rule.idField.slice(1);
  else {
    const raw = data[rule.idField];
    if (typeof raw === "string" || typeof raw === "number") id = String(raw);
  }
  if (!id || id.includes("/")) return null;
  const fields: Fields = { ...data };
  for (const [from, to] of Object.entries(rule.rename)) if (from in fields) fields[to] = fields[from];
  if (rule.statusFromType) fields.status = type.slice(type.lastIndexOf(".") + 1);
  const status = typeof fields.status === "string" ? fields.status : undefined;
  if (rule.progress) {
    if (status === "completed") fields.progress = 100;
    else if (status === "created") fields.progress = 0;
    else if (typeof fields.progress === "number") fields.progress = Math.min(100, Math.max(0, fields.progress));
  }
  return { path: `${rule.collection}/${id}`, fields, terminal: status === "completed" || status === "failed" };
}

interface Listen {
  id: number;
  doc: string;
}

interface ConnState {
  scopes: string[];
  listens: Listen[];
}

function allows(scopes: string[], path: string): boolean {
  const collection = path.slice(0, path.indexOf("/"));
  return scopes.some((s) => s === "*" || s === path || (s.endsWith("/*") && s.slice(0, -2) === collection));
}

export class Feed extends Server<Env> {
  static options = { hibernate: true };

  #seq = 0;

  onStart(): void {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      source TEXT NOT NULL,
      event_id TEXT NOT NULL,
      type TEXT NOT NULL,
      created INTEGER NOT NULL,
      received INTEGER NOT NULL,
      body TEXT NOT NULL,
      UNIQUE (source, event_id)
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS docs (
      path TEXT PRIMARY KEY,
      data TEXT NOT NULL,
      clocks TEXT NOT NULL,
      seq INTEGER NOT NULL
    )`);
    const row = sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM events").one();
    this.#seq = row.seq ?? 0;
  }

  async onRequest(request: Request): Promise<Response> {
    if (request.method === "GET") return Response.json({ ok: true, seq: this.#seq, connections: this.#count() });
    if (request.method !== "POST") return jsonError(405, "method_not_allowed", "POST or GET");
    const meta = request.headers.get("x-hookfeed-event");
    const source = request.headers.get("x-hookfeed-source");
    if (!meta || !source) return jsonError(400, "bad_request", "internal ingest call without metadata");
    return this.#ingest(source, JSON.parse(meta) as VerifiedEvent, await request.text());
  }

  #count(): number {
    let n = 0;
    for (const _ of this.getConnections()) n++;
    return n;
  }

  #ingest(source: string, event: VerifiedEvent, body: string): Response {
    const sql = this.ctx.storage.sql;
    let change: { seq: number; path: string; kind: "added" | "modified"; data: Fields } | null = null;
    let result: { duplicate: boolean; seq: number };
    try {
      result = this.ctx.storage.transactionSync(() => {
        const inserted = sql
          .exec<{ seq: number }>(
            "INSERT INTO events (source, event_id, type, created, received, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING RETURNING seq",
            source,
            event.id,
            event.type,
            event.orderedAt,
            Math.floor(Date.now() / 1000),
            body,
          )
          .toArray();
        if (inserted.length === 0) {
          const prior = sql
            .exec<{ seq: number }>("SELECT seq FROM events WHERE source = ? AND event_id = ?", source, event.id)
            .one();
          return { duplicate: true, seq: prior.seq };
        }
        const seq = inserted[0].seq;
        const parsed = JSON.parse(body) as { data?: Json };
        const data = parsed.data && typeof parsed.data === "object" && !Array.isArray(parsed.data) ? parsed.data : {};
        const update = project(event.type, data);
        if (update) {
          const version: Version = [update.terminal ? 1 : 0, event.orderedAt, source, event.id];
          const row = sql
            .exec<{ data: string; clocks: string }>("SELECT data, clocks FROM docs WHERE path = ?", update.path)
            .toArray()[0];
          const docData: Fields = row ? JSON.parse(row.data) : {};
          const clocks: Record<string, Version> = row ? JSON.parse(row.clocks) : {};
          let changed = !row;
          let won = false;
          for (const [field, value] of Object.entries(update.fields)) {
            const current = clocks[field];
            if (current && compareVersions(version, current) <= 0) continue;
            if (JSON.stringify(docData[field]) !== JSON.stringify(value)) {
              docData[field] = value;
              changed = true;
            }
            clocks[field] = version;
            won = true;
          }
          // A late event that wins no field is only logged.
          if (won) sql.exec(
            "INSERT INTO docs (path, data, clocks, seq) VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET data = excluded.data, clocks = excluded.clocks, seq = excluded.seq",
            update.path,
            JSON.stringify(docData),
            JSON.stringify(clocks),
            seq,
          );
          if (changed) change = { seq, path: update.path, kind: row ? "modified" : "added", data: docData };
        }
        return { duplicate: false, seq };
      });
    } catch (e) {
      console.error("storage failure", e);
      return jsonError(503, "storage_unavailable", "storage failure: retry");
    }
    if (!result.duplicate) this.#seq = Math.max(this.#seq, result.seq);
    // The output gate holds these frames and the response until the write is durable.
    if (change) this.#broadcastChange(change.seq, change.path, change.kind, change.data);
    return Response.json({ received: true, duplicate: result.duplicate, seq: result.seq });
  }

  /** One change frame to each listen on `path`; other connections are not touched. */
  #broadcastChange(seq: number, path: string, kind: string, data: Fields): void {
    // Frames differ only in the listen id: serialise the rest once.
    const tail = JSON.stringify({ seq, path, kind, data }).slice(1);
    for (const connection of this.getConnections<ConnState>()) {
      const state = connection.state;
      if (!state) continue;
      for (const listen of state.listens) {
        if (listen.doc !== path) continue;
        try {
          connection.send(`{"type":"change","id":${listen.id},${tail}`);
        } catch {
          // closed meanwhile
        }
      }
    }
  }

  onConnect(connection: Connection<ConnState>, ctx: ConnectionContext): void {
    let scopes: string[] = [];
    try {
      scopes = JSON.parse(ctx.request.headers.get("x-hookfeed-scopes") ?? "[]");
    } catch {
      // no scopes: every listen is refused
    }
    connection.setState({ scopes, listens: [] });
  }

  onMessage(connection: Connection<ConnState>, message: string | ArrayBuffer | ArrayBufferView): void {
    const error = (id: number | undefined, code: string, text: string) =>
      connection.send(JSON.stringify(id === undefined ? { type: "error", code, message: text } : { type: "error", id, code, message: text }));
    if (typeof message !== "string") return error(undefined, "invalid-argument", "text frames only");
    if (message.length > MAX_CLIENT_FRAME_BYTES) return error(undefined, "invalid-argument", "frame over 16 KiB");
    let frame: { type?: unknown; id?: unknown; target?: { doc?: unknown } };
    try {
      frame = JSON.parse(message);
    } catch {
      return error(undefined, "invalid-argument", "invalid message: not JSON");
    }
    const id = frame.id;
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0)
      return error(undefined, "invalid-argument", "invalid message: `id` must be an unsigned integer");
    const state = connection.state ?? { scopes: [], listens: [] };

    if (frame.type === "unlisten") {
      connection.setState({ ...state, listens: state.listens.filter((l) => l.id !== id) });
      return;
    }
    if (frame.type !== "listen") return error(id, "invalid-argument", "invalid message: unknown type");
    const doc = frame.target?.doc;
    if (typeof doc !== "string" || !/^[^/]+\/[^/]+$/.test(doc))
      return error(id, "invalid-argument", "the baseline serves document targets `collection/id` only");
    if (!allows(state.scopes, doc)) return error(id, "permission-denied", `token does not grant \`${doc}\``);
    const listens = state.listens.filter((l) => l.id !== id);
    if (listens.length >= MAX_LISTENS_PER_CONNECTION) return error(id, "resource-exhausted", "too many listens");
    listens.push({ id, doc });
    connection.setState({ ...state, listens });

    const row = this.ctx.storage.sql.exec<{ data: string }>("SELECT data FROM docs WHERE path = ?", doc).toArray()[0];
    const docs = row ? `[{"path":${JSON.stringify(doc)},"data":${row.data}}]` : "[]";
    connection.send(`{"type":"snapshot","id":${id},"seq":${this.#seq},"docs":${docs}}`);
  }
}
