// The README's code blocks, run as written: each is taken from its section by language
// (and how it starts), and the few names a block leaves to the app around it (an Express
// `app`, your session check) are supplied beside it, never inside it.

import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { ROOT } from "./edge.mjs";
import { packedPackage } from "./pack.mjs";
import { DEMO } from "./sign.mjs";

/** The first ```lang block of the README section titled `heading` (## or ###) that starts with `start`. */
export function readmeBlock(heading, lang, start = "") {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^#{2,3} /m).find((s) => s.startsWith(heading));
  assert.ok(section, `README.md has no "${heading}" section`);
  const block = [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]).find((b) => b.startsWith(start));
  assert.ok(block, `the "${heading}" section has no \`\`\`${lang} block starting ${JSON.stringify(start)}`);
  return block;
}

/** A project directory with the packed package as node_modules/hookfeed, as `npm install` leaves it. */
export function projectWithPackage() {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-readme-"));
  cpSync(packedPackage(["web/server.js"]), join(dir, "node_modules/hookfeed"), { recursive: true });
  return dir;
}

/** Writes `source` to `dir/name` and imports it (so "hookfeed" resolves from `dir`). */
async function importFrom(dir, name, source) {
  const file = join(dir, name);
  writeFileSync(file, source);
  return import(pathToFileURL(file).href);
}

// The Express app around the README's route: `app.get` records the route's handlers, and
// `requireUser` signs in the user an `x-user` header names.
const EXPRESS_APP = `
export const routes = {};
const app = { get: (path, ...handlers) => { routes[path] = handlers; } };
const requireUser = (req, res, next) => { req.user = { id: req.headers["x-user"] }; next(); };
`;

/**
 * The README's Express token route (with the edge's TOKEN_SECRET in the environment, as
 * the README deploys it), run in `dir`: resolves to `(uid) => token`, what the route
 * answers the signed-in user `uid`.
 */
export async function expressTokenRoute(dir) {
  process.env.TOKEN_SECRET = DEMO.TOKEN_SECRET;
  const { routes } = await importFrom(dir, "express-route.mjs", EXPRESS_APP + readmeBlock("Mint subscriber tokens", "js", "// Express"));
  const handlers = routes["/hookfeed-token"];
  assert.ok(handlers, "the Express block routes GET /hookfeed-token");
  return async (uid) => {
    const req = { headers: { "x-user": uid } };
    let answer;
    const res = { json: (body) => { answer = body; } };
    for (const handler of handlers) {
      let next = false;
      await handler(req, res, () => { next = true; });
      if (!next) break;
    }
    assert.ok(answer?.token, `the route answered ${JSON.stringify(answer)}`);
    return answer.token;
  };
}

/**
 * The README's Cloudflare Worker token route, run in `dir` with the edge's TOKEN_SECRET as
 * its env and `authenticate` signing in the user an `x-user` header names: resolves to
 * `(uid) => token`.
 */
export async function workerTokenRoute(dir) {
  const session = "const authenticate = async (req) => ({ id: req.headers.get(\"x-user\") });\n";
  const { default: worker } = await importFrom(dir, "worker-route.mjs", session + readmeBlock("Mint subscriber tokens", "js", "// A Cloudflare Worker route"));
  return async (uid) => {
    const res = await worker.fetch(new Request("https://app.example.com/hookfeed-token", { headers: { "x-user": uid } }), { TOKEN_SECRET: DEMO.TOKEN_SECRET });
    assert.equal(res.status, 200);
    return (await res.json()).token;
  };
}
