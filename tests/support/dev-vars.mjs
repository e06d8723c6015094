// What the tests and the benchmarks read from the repository's configuration, and how they
// mint subscriber tokens as a backend would: one definition for both.

import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

/** The `KEY="value"` lines of a `.dev.vars` file, by name; `{}` when it is missing. */
export function readDevVars(path) {
  const vars = {};
  if (!existsSync(path)) return vars;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!m) continue;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    vars[m[1]] = v;
  }
  return vars;
}

/**
 * A subscriber token as a customer's backend mints it: a JWT signed with HS256 and
 * `secret` (the edge's TOKEN_SECRET), written out with node:crypto alone.
 */
export function mintToken(secret, { tenant = "demo", scopes = ["*"], ttlSecs = 3600 } = {}) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const claims = { tenant, scopes, exp: Math.floor(Date.now() / 1000) + ttlSecs };
  const signed = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}
