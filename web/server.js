// hookfeed/server: mint subscriber tokens in your backend. WebCrypto only (no Node
// built-ins), so the same code runs in Node >= 20, Cloudflare Workers, Deno and Bun.
//
// A token is a standard JWT (RFC 7519) signed with HS256 and the edge's TOKEN_SECRET:
// any JWT library mints the same thing; this is the shortest way.

const encoder = new TextEncoder();

/** Seconds in each unit `expiresIn` may use: `30s`, `15m`, `2h`, `7d`. */
const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

/** Tokens live this long unless told otherwise: short, as a subscriber's session refreshes them. */
const DEFAULT_EXPIRES_IN = 15 * 60;

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function seconds(expiresIn) {
  if (typeof expiresIn === "number" && Number.isFinite(expiresIn) && expiresIn > 0) return Math.floor(expiresIn);
  const m = typeof expiresIn === "string" && expiresIn.trim().match(/^(\d+)\s*([smhd])$/);
  if (m && Number(m[1]) > 0) return Number(m[1]) * UNITS[m[2]];
  throw new TypeError(`createToken: expiresIn must be a positive number of seconds or a duration like "15m", "2h", not ${JSON.stringify(expiresIn)}`);
}

/**
 * Mints a subscriber token: `tenant` (the feed), `scopes` (`projects/42`, `projects/*`, `*`),
 * an expiry `expiresIn` from now (seconds, or "30s", "15m", "2h", "7d"; default 15 minutes),
 * and optionally `sub` (your user's id) and `owner` scopes (`{ projects: "user_id" }`: the
 * documents of `projects` whose `user_id` is `sub`). `secret` is the edge's TOKEN_SECRET;
 * during a rotation (`new,old`) the first is used.
 */
export async function createToken({ tenant, scopes = [], sub, owner, expiresIn = DEFAULT_EXPIRES_IN, secret, now = Date.now() } = {}) {
  if (typeof tenant !== "string" || tenant === "") throw new TypeError("createToken: tenant must be the feed's name, a non-empty string");
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string" && s !== "")) {
    throw new TypeError('createToken: scopes must be an array of paths, like ["projects/42"] or ["projects/*"]');
  }
  if (sub !== undefined && (typeof sub !== "string" || sub === "")) throw new TypeError("createToken: sub, when given, must be a non-empty string");
  const owned = owner === undefined ? [] : Object.entries(owner ?? {});
  if (owner !== undefined && (owner === null || typeof owner !== "object" || Array.isArray(owner) || owned.length === 0
      || !owned.every(([c, f]) => c !== "" && typeof f === "string" && f !== ""))) {
    throw new TypeError('createToken: owner must map collections to their owner field, like { projects: "user_id" }');
  }
  if (owned.length > 0 && sub === undefined) throw new TypeError("createToken: owner scopes need sub, the id the owner field must equal");
  if (scopes.length === 0 && owned.length === 0) {
    throw new TypeError('createToken: the token would grant nothing: give scopes (["projects/42"]) or owner ({ projects: "user_id" })');
  }
  const key = typeof secret === "string" ? secret.split(",")[0].trim() : "";
  if (key === "") throw new TypeError("createToken: secret must be the edge's TOKEN_SECRET");
  const iat = Math.floor(now / 1000);
  const claims = { tenant, scopes, exp: iat + seconds(expiresIn), iat, ...(sub === undefined ? {} : { sub }), ...(owned.length === 0 ? {} : { owner }) };
  const signingInput = `${base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })))}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  const hmac = await crypto.subtle.importKey("raw", encoder.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, encoder.encode(signingInput)));
  return `${signingInput}.${base64url(signature)}`;
}
