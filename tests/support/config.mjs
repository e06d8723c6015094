// The default configuration of wrangler.toml, for tests that add sources to it.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { ROOT } from "./edge.mjs";

/** The sources wrangler.toml configures. */
export function defaultSources() {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const json = toml.match(/HOOKFEED_SOURCES = '''([\s\S]*?)'''/)?.[1];
  if (!json) throw new Error("wrangler.toml has no HOOKFEED_SOURCES");
  return JSON.parse(json);
}

/** `vars` for startEdge: the default sources plus `extra`, with their secrets. */
export function withSources(extra) {
  const vars = { HOOKFEED_SOURCES: JSON.stringify([...defaultSources(), ...extra.map(({ secret, ...s }) => s)]) };
  for (const source of extra) vars[`SECRET_${source.name.toUpperCase().replaceAll("-", "_")}`] = source.secret;
  return vars;
}
