// `import "hookfeed"` anywhere, Node first: the packed package installed in a temp app
// imports in Node 22 without reading its wasm, and a Node script watches a document on a
// real wrangler dev through Node's own WebSocket (no IndexedDB there: no cache, no error),
// as does the README's Node example, run verbatim.
// Also: the references this entry builds in JavaScript (before the wasm is loaded, for
// Firestore's synchronous API) are exactly those the wasm builds, by the feed's rules.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";

import { ROOT, startEdge } from "./support/edge.mjs";
import { packedPackage } from "./support/pack.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";

const NODE = join(ROOT, "node_modules/.bin/node");
const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];

/** A user's project: the unpacked package and React in node_modules, `files` beside them. */
function appProject(files) {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-node-app-"));
  const pkg = packedPackage(["web/index.js", "web/react.js", "web/pkg/hookfeed_web.js", "web/pkg/hookfeed_web_bg.wasm"]);
  cpSync(pkg, join(dir, "node_modules/hookfeed"), { recursive: true });
  for (const name of ["react", "scheduler"]) {
    cpSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name), { recursive: true, dereference: true });
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * Runs `node script args…` in `dir` (Node 22, node_modules/.bin/node). Each stdout line is
 * JSON; `next(predicate)` waits for a line that matches; `exit` resolves with the exit code.
 */
function run(dir, script, args = [], env = {}) {
  const child = spawn(NODE, [script, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const lines = [];
  let stderr = "";
  const waiting = new Set();
  child.stderr.on("data", (d) => { stderr += d; });
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line.startsWith("{") ? JSON.parse(line) : line);
    for (const w of waiting) w();
  });
  const exit = new Promise((ok) => child.once("exit", (code) => ok(code)));
  const state = () => `stdout: ${JSON.stringify(lines)}\nstderr: ${stderr}`;
  return {
    lines,
    exit,
    stderr: () => stderr,
    kill: () => child.kill("SIGKILL"),
    /** The first line (from `from` on) matching `predicate`, within `ms`. */
    next(predicate, { from = 0, ms = 20_000 } = {}) {
      return new Promise((ok, fail) => {
        const check = () => {
          const found = lines.slice(from).find(predicate);
          if (found) {
            waiting.delete(check);
            clearTimeout(timer);
            ok(found);
          }
        };
        const timer = setTimeout(() => { waiting.delete(check); fail(new Error(`timed out:\n${state()}`)); }, ms);
        waiting.add(check);
        exit.then(() => setTimeout(() => {
          if (waiting.delete(check)) { clearTimeout(timer); fail(new Error(`exited:\n${state()}`)); }
        }, 50));
        check();
      });
    },
    /** Resolves with the exit code, or fails after `ms`. */
    exited(ms = 10_000) {
      return Promise.race([exit, new Promise((_, fail) => setTimeout(() => fail(new Error(`still running:\n${state()}`)), ms))]);
    },
  };
}

// Imports both entries, with the wasm missing from the installed package: nothing may read
// it at import. Then a listener: the missing wasm reaches its error callback, not a crash.
const IMPORT_ONLY = `
import * as hookfeed from "hookfeed";
import { useDocument, useQuery } from "hookfeed/react";
const out = (o) => console.log(JSON.stringify(o));
out({ imported: Object.keys(hookfeed).sort(), hooks: [typeof useDocument, typeof useQuery] });
const db = hookfeed.initializeFeed({ url: "http://127.0.0.1:9", token: "a.b.c" });
const ref = hookfeed.doc(db, "projects", "42");
out({ ref: { type: ref.type, path: ref.path, id: ref.id, parent: ref.parent.path, feed: ref.firestore === db } });
hookfeed.onSnapshot(ref, () => out({ snapshot: true }), (e) => out({ error: e.code, name: e.name, message: e.message }));
`;

// The README's Node example in substance: watch a document until it completes, then a getDoc.
const WATCH = `
import { initializeFeed, doc, onSnapshot, getDoc } from "hookfeed";
const [url, token, id] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
out({ node: process.version, indexedDB: typeof indexedDB });
// Persistence is left at its default (on): Node has no IndexedDB, so it is simply off.
const db = initializeFeed({ url, token });
const unsubscribe = onSnapshot(doc(db, "projects", id), (snapshot) => {
  out({ exists: snapshot.exists(), status: snapshot.get("status") ?? null, progress: snapshot.get("progress") ?? null, fromCache: snapshot.metadata.fromCache });
  if (snapshot.get("status") === "completed") {
    unsubscribe();
    out({ unsubscribed: true });
    getDoc(doc(db, "projects", id)).then((s) => out({ got: s.data() }));
  }
}, (e) => { out({ error: e.code, message: e.message }); process.exitCode = 1; });
`;

describe("hookfeed in a Node 22 script, from the packed package", () => {
  let edge;
  let dir;
  before(async () => {
    dir = appProject({ "import-only.mjs": IMPORT_ONLY, "watch.mjs": WATCH });
    edge = await startEdge();
  });
  after(async () => {
    await edge?.stop();
  });

  /** Delivers a Twin.Actor project event for project `id`. */
  const send = async (id, type, data) => {
    const res = await deliver(edge, ...TWIN, twinActorEvent(type, { project_id: Number(id), ...data }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  it("imports hookfeed and hookfeed/react without reading the wasm; a listener then gets the load's error", async () => {
    const bare = mkdtempSync(join(tmpdir(), "hookfeed-no-wasm-"));
    cpSync(dir, bare, { recursive: true });
    rmSync(join(bare, "node_modules/hookfeed/web/pkg/hookfeed_web_bg.wasm"));
    const script = run(bare, "import-only.mjs");
    const { imported, hooks } = await script.next((l) => l.imported);
    for (const name of ["initializeFeed", "doc", "collection", "query", "where", "orderBy", "limit", "onSnapshot", "getDoc", "getDocs", "DocumentSnapshot", "QuerySnapshot", "Feed"]) {
      assert.ok(imported.includes(name), `hookfeed exports ${name}: ${imported}`);
    }
    assert.deepEqual(hooks, ["function", "function"]);
    assert.deepEqual((await script.next((l) => l.ref)).ref,
      { type: "document", path: "projects/42", id: "42", parent: "projects", feed: true }, "references are built before the wasm");
    const failed = await script.next((l) => l.error);
    assert.equal(failed.error, "unavailable");
    assert.equal(failed.name, "FirebaseError");
    assert.match(failed.message, /could not load its wasm.*hookfeed_web_bg\.wasm/);
    assert.equal(await script.exited(), 0, script.stderr());
    assert.equal(script.lines.filter((l) => l.snapshot).length, 0);
  });

  it("watches a document on wrangler dev: the first snapshot, each signed delivery's change, then exits once unsubscribed", async () => {
    const id = String(47000 + Math.floor(Math.random() * 1000));
    const script = run(dir, "watch.mjs", [edge.url, mintToken({ scopes: ["projects/*"] }), id]);
    const header = await script.next((l) => l.node);
    assert.match(header.node, /^v22\./);
    assert.equal(header.indexedDB, "undefined");
    // As in Firestore, the first callback comes for a document that does not exist yet.
    assert.deepEqual(await script.next((l) => "exists" in l),
      { exists: false, status: null, progress: null, fromCache: false });

    await send(id, "project.processing", { progress: 40 });
    await script.next((l) => l.progress === 40);
    await send(id, "project.completed", {});
    await script.next((l) => l.unsubscribed);
    const { got } = await script.next((l) => l.got);
    assert.equal(got.status, "completed");

    const seen = script.lines.filter((l) => "exists" in l);
    assert.deepEqual(seen.map((l) => l.status), [null, "processing", "completed"], JSON.stringify(seen));
    assert.ok(seen.every((l) => l.fromCache === false));
    // Unsubscribed and answered: no socket or timer keeps Node alive.
    assert.equal(await script.exited(), 0, script.stderr());
    assert.equal(script.stderr(), "");
  });

  it("runs the README's Node example verbatim until the project completes, then exits", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.split(/^## /m).find((s) => s.startsWith("Watch a document"));
    const snippet = section?.match(/```js\n(\/\/ watch\.mjs[\s\S]*?)```/)?.[1];
    assert.ok(snippet, "the \"Watch a document\" section has no ```js block starting // watch.mjs");
    writeFileSync(join(dir, "watch-readme.mjs"), snippet);
    const id = String(46000 + Math.floor(Math.random() * 1000));
    const script = run(dir, "watch-readme.mjs", [id], { HOOKFEED_URL: edge.url, HOOKFEED_TOKEN: mintToken({ scopes: ["projects/*"] }) });
    await script.next((l) => l === "undefined undefined"); // the first snapshot: no such project yet
    await send(id, "project.processing", { progress: 60 });
    await script.next((l) => l === "processing 60");
    await send(id, "project.completed", {});
    await script.next((l) => typeof l === "string" && l.startsWith("completed"));
    assert.equal(await script.exited(), 0, script.stderr());
  });
});

describe("the references hookfeed builds in JavaScript", () => {
  it("are exactly the wasm's, and refused exactly where the wasm refuses them", async () => {
    const hookfeed = await import("hookfeed"); // this package, through its "exports"
    const glue = await import(join(ROOT, "web/pkg/hookfeed_web.js"));
    await glue.default({ module_or_path: readFileSync(join(ROOT, "web/pkg/hookfeed_web_bg.wasm")) });
    const db = hookfeed.initializeFeed({ url: "http://127.0.0.1:9", token: "a.b.c" });

    /** What a call gives: its JSON (the feed as "<feed>"), or its error's name, code and message. */
    const outcome = (f) => {
      try {
        return JSON.stringify(f(), (k, v) => (v === db ? "<feed>" : v));
      } catch (e) {
        return `${e.name} ${e.code}: ${e.message}`;
      }
    };
    const col = hookfeed.collection(db, "projects");
    const docs = [
      [db, "projects", "42"], [db, "projects/42"], [db, "projects"], [db, "projects", "42", "x"], [db, "projects/42/x"],
      [db], [db, "", "1"], [db, "a".repeat(64), "1"], [db, "a".repeat(65), "1"], [db, "bad name", "1"], [db, "p.q", "1"],
      [db, "Aa_9-", "1"], [db, "p", "."], [db, "p", ".."], [db, "p", "..."], [db, "p", ""], [db, "p", "x".repeat(256)],
      [db, "p", "x".repeat(257)], [db, "p", "é".repeat(128)], [db, "p", "é".repeat(129)], [db, "p", "\u0000"],
      [db, "p", "a\u001fb"], [db, "p", "\u007f"], [db, "p", "\u009f"], [db, "p", "\u00a0"], [db, "p", "tab\there"],
      [db, "p", "😀".repeat(64)], [db, "p", "😀".repeat(65)], [db, "p", "a b:c?d#e"], [db, "p", 42], [db, "p\n", "1"],
      [col, "7"], [col, "7/8"], [col], [null, "p", "1"], [undefined], ["feed", "p", "1"], [{ type: "query" }, "p", "1"],
    ];
    const cases = [];
    for (const args of docs) cases.push(["doc", args, () => hookfeed.doc(...args), () => glue.doc(args[0], args.slice(1))]);
    for (const args of [[db, "p"], [db], [db, "p", "q"], [db, "p/q"], [db, ""], [db, 42], [db, "a-b_C9"], [col, "p"], [null, "p"]]) {
      cases.push(["collection", args, () => hookfeed.collection(...args), () => glue.collection(args[0], args.slice(1))]);
    }
    for (const args of [["a", "==", 1], ["a.b", "~=", 1], ["a", "array-contains-any", [1]], ["a", "IN", [1]], ["a", "not-in", ["x"]], ["a", "<=", null]]) {
      cases.push(["where", args, () => hookfeed.where(...args), () => glue.where(...args)]);
    }
    for (const args of [["a"], ["a", "desc"], ["a", "asc"], ["a", "DESC"], ["a", "up"]]) {
      cases.push(["orderBy", args, () => hookfeed.orderBy(...args), () => glue.orderBy(...args)]);
    }
    for (const args of [[3], [0], [2.7], [1000]]) cases.push(["limit", args, () => hookfeed.limit(...args), () => glue.limit(...args)]);
    const w = hookfeed.where("batch", "==", "b1");
    const o = hookfeed.orderBy("progress", "desc");
    const q = hookfeed.query(col, w);
    for (const args of [[col], [col, w, o, hookfeed.limit(5)], [q, o], [q, hookfeed.limit(2), hookfeed.limit(3)],
      [hookfeed.doc(db, "p", "1"), w], [col, { type: "nope" }], [col, null], [null]]) {
      cases.push(["query", args, () => hookfeed.query(...args), () => glue.query(args[0], args.slice(1))]);
    }
    let refused = 0;
    for (const [name, args, ours, theirs] of cases) {
      const want = outcome(theirs);
      assert.equal(outcome(ours), want, `${name}(${outcome(() => args)})`);
      if (want.startsWith("FirebaseError")) refused++;
    }
    assert.ok(refused >= 30, `only ${refused} refusals among ${cases.length} cases`);
  });
});
