// hookfeed/react in a real React app: tests/fixtures/react-app, built by Vite against the
// packed npm package (resolved through its "exports" like any dependency) with React's
// development build in StrictMode, served from its own origin and run in headless Chromium
// against a real wrangler dev. The test mounts and unmounts the app's panels through
// `window` and reads what each hook returned on every render, and the WebSocket frames
// the page sent.

import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { build as esbuild } from "esbuild";
import { build as vite } from "vite";

import { launchChromium } from "./support/browser.mjs";
import { ROOT, startEdge } from "./support/edge.mjs";
import { packedPackage } from "./support/pack.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";
import { expressTokenRoute, readmeBlock } from "./support/readme.mjs";
import { serve } from "./support/static.mjs";
import { waitUntil } from "./support/wait.mjs";

const FIXTURE = join(ROOT, "tests/fixtures/react-app");
const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];
const unique = (base) => String(base + Math.floor(Math.random() * 1000));

/** Sends a Twin.Actor project event and checks it was stored. */
async function send(edge, type, data) {
  const res = await deliver(edge, ...TWIN, twinActorEvent(type, data));
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

// React comes from this package's devDependencies (19); HOOKFEED_TEST_REACT names another
// node_modules holding react, react-dom and scheduler, e.g. React 18's (npm cannot hold both
// as devDependencies: react-dom 18 requires react 18 as its peer).
const REACT_MODULES = process.env.HOOKFEED_TEST_REACT ?? join(ROOT, "node_modules");

/** The app as a user's project holds it: its sources, the unpacked package and React in node_modules. */
function appProject() {
  const dir = mkdtempSync(join(tmpdir(), "hookfeed-react-app-"));
  cpSync(FIXTURE, dir, { recursive: true });
  const pkg = packedPackage(["web/index.js", "web/react.js", "web/react.d.ts", "web/pkg/hookfeed_web_bg.wasm"]);
  cpSync(pkg, join(dir, "node_modules/hookfeed"), { recursive: true });
  for (const name of ["react", "react-dom", "scheduler"]) {
    cpSync(join(REACT_MODULES, name), join(dir, "node_modules", name), { recursive: true, dereference: true });
  }
  return dir;
}

/** Active listens per target, from the listen and unlisten frames a page sent. */
function activeListens(frames, target) {
  const ids = new Set(frames.filter((f) => f.type === "listen" && JSON.stringify(f.target) === JSON.stringify(target)).map((f) => f.id));
  for (const f of frames) if (f.type === "unlisten") ids.delete(f.id);
  return ids;
}

const listenFrames = (frames, target) =>
  frames.filter((f) => f.type === "listen" && JSON.stringify(f.target) === JSON.stringify(target));

/** Consecutive repeats dropped: the values a panel showed, in order. */
const distinct = (values) => values.filter((v, i) => i === 0 || JSON.stringify(v) !== JSON.stringify(values[i - 1]));

describe("hookfeed/react in a Vite-built React app in headless Chromium", () => {
  let edge;
  let browser;
  let app;
  let appDir;
  before(async () => {
    appDir = appProject();
    await vite({
      root: appDir,
      logLevel: "silent",
      configFile: false,
      // React's development build, so StrictMode mounts every effect twice.
      define: { "process.env.NODE_ENV": JSON.stringify("development") },
      build: { outDir: join(appDir, "dist"), target: "es2022", minify: false },
    });
    app = await serve(join(appDir, "dist"));
    edge = await startEdge();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await edge?.stop();
    app?.stop();
  });

  /**
   * Opens the app with `token` (by default one for projects/*); `mint` becomes the feed's
   * getToken. Returns the page and the frames it sent over its WebSocket.
   */
  async function openApp({ token = mintToken({ scopes: ["projects/*"] }), mint } = {}) {
    const page = await browser.newPage();
    const errors = [];
    const frames = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => frames.push(JSON.parse(payload))));
    if (mint) await page.exposeFunction("mintToken", mint);
    await page.goto(`${app.origin}/?${new URLSearchParams({ url: edge.url, token })}`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
    return { page, frames, errors };
  }

  const renders = (page, name) => page.evaluate((n) => window.renders[n] ?? [], name);
  /** Waits until a render of panel `name` shows `data` (compared as JSON). */
  const waitForData = (page, name, data, timeout = 15_000) =>
    page.waitForFunction(
      ([n, d]) => (window.renders[n] ?? []).some((r) => JSON.stringify(r.data) === d),
      [name, JSON.stringify(data)],
      { timeout },
    );

  it("useDocument renders loading, then the document's data, then each change live", async () => {
    const { page, errors } = await openApp();
    const id = unique(41000);
    await send(edge, "project.processing", { project_id: Number(id), progress: 40 });
    await page.evaluate(({ id }) => {
      window.show("project", "document", { path: `projects/${id}` });
      window.show("missing", "document", { path: `projects/never-${id}` });
    }, { id });
    await page.waitForFunction(() => window.renders.project?.some((r) => r.data?.progress === 40));
    await send(edge, "project.processing", { project_id: Number(id), progress: 70 });
    await page.waitForFunction(() => window.renders.project.some((r) => r.data?.progress === 70));

    const shown = await renders(page, "project");
    assert.deepEqual(shown[0], { loading: true, data: null, error: null, fromCache: false, snapshot: null });
    assert.deepEqual(distinct(shown.filter((r) => !r.loading).map((r) => r.data.progress)), [40, 70]);
    const last = shown.at(-1);
    assert.equal(last.data.status, "processing");
    assert.deepEqual({ loading: last.loading, error: last.error, fromCache: last.fromCache, snapshot: last.snapshot },
      { loading: false, error: null, fromCache: false, snapshot: { id, exists: true } });

    // A document that does not exist: loaded, no data, no error.
    await page.waitForFunction(() => window.renders.missing?.some((r) => !r.loading));
    const missing = (await renders(page, "missing")).at(-1);
    assert.deepEqual(missing, { loading: false, data: null, error: null, fromCache: false, snapshot: { id: `never-${id}`, exists: false } });
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("useQuery gives the documents in the query's order, each with its id, and follows changes", async () => {
    const { page, errors } = await openApp();
    const batch = `react-${Date.now()}`;
    await page.evaluate((batch) => window.show("batch", "query", { path: "projects", field: "batch", value: batch, order: "progress" }), batch);
    await waitForData(page, "batch", []);
    const base = Number(unique(42000)) * 10;
    for (const [id, progress] of [[base + 1, 10], [base + 2, 50], [base + 3, 30]]) {
      await send(edge, "project.processing", { project_id: id, batch, progress });
    }
    const ids = (...ns) => ns.map((n) => String(base + n));
    await page.waitForFunction((want) => window.renders.batch.some((r) => r.data?.map((d) => d.id).join() === want), ids(2, 3, 1).join());
    const rows = (await renders(page, "batch")).at(-1).data;
    assert.deepEqual(rows.map((r) => [r.id, r.project_id, r.progress, r.batch]),
      [[ids(2)[0], base + 2, 50, batch], [ids(3)[0], base + 3, 30, batch], [ids(1)[0], base + 1, 10, batch]]);

    await send(edge, "project.processing", { project_id: base + 1, batch, progress: 90 });
    await page.waitForFunction((want) => window.renders.batch.some((r) => r.data?.map((d) => d.id).join() === want), ids(1, 2, 3).join());
    const shown = await renders(page, "batch");
    assert.equal(shown[0].loading, true);
    assert.ok(shown.every((r) => r.error === null), JSON.stringify(shown));
    assert.deepEqual(shown.at(-1).snapshot, { size: 3 });
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("keeps one listener for an inline reference and query across re-renders, in StrictMode", async (t) => {
    const { page, frames, errors } = await openApp();
    const id = unique(43000);
    const batch = `inline-${Date.now()}`;
    await send(edge, "project.processing", { project_id: Number(id), batch, progress: 5 });
    await page.evaluate(({ id, batch }) => {
      window.show("doc", "document", { path: `projects/${id}` });
      window.show("query", "query", { path: "projects", field: "batch", value: batch });
    }, { id, batch });
    await page.waitForFunction(() => window.renders.doc?.some((r) => r.data) && window.renders.query?.some((r) => r.data?.length === 1));
    assert.equal(await page.evaluate(() => window.appMounts), 2, "StrictMode mounted the app twice (React's development build)");
    t.diagnostic(`React ${await page.evaluate(() => window.reactVersion)}`);

    const docTarget = { doc: `projects/${id}` };
    const queryTarget = { collection: "projects", where: [{ field: "batch", op: "==", value: batch }] };
    const listensBefore = [listenFrames(frames, docTarget).length, listenFrames(frames, queryTarget).length];
    const rendersBefore = (await renders(page, "doc")).length;
    // Ten renders of every panel, each building a new but equal reference and query, and a change.
    for (let i = 0; i < 10; i++) await page.evaluate(() => window.rerender());
    await send(edge, "project.processing", { project_id: Number(id), batch, progress: 6 });
    await page.waitForFunction(() => window.renders.doc.some((r) => r.data?.progress === 6) && window.renders.query.some((r) => r.data?.[0]?.progress === 6));

    assert.ok((await renders(page, "doc")).length >= rendersBefore + 10, "the panels rendered again");
    assert.deepEqual([listenFrames(frames, docTarget).length, listenFrames(frames, queryTarget).length], listensBefore,
      "no listen was sent for the re-renders");
    assert.equal(activeListens(frames, docTarget).size, 1, JSON.stringify(frames));
    assert.equal(activeListens(frames, queryTarget).size, 1, JSON.stringify(frames));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("reports a listen outside the token's scopes as error.code permission-denied", async () => {
    const { page, errors } = await openApp({ token: mintToken({ scopes: ["projects/*"] }) });
    await page.evaluate(() => window.show("users", "query", { path: "users", field: "tier", value: "pro" }));
    await page.waitForFunction(() => window.renders.users?.some((r) => r.error));
    const shown = await renders(page, "users");
    assert.deepEqual(shown[0].loading, true);
    assert.deepEqual(shown.at(-1), {
      loading: false, data: null, error: { code: "permission-denied", name: "FirebaseError" }, fromCache: false, snapshot: null,
    });
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("stops the listener on unmount: the edge gets the unlisten and the panel renders no more", async () => {
    const { page, frames, errors } = await openApp();
    const id = unique(44000);
    await send(edge, "project.processing", { project_id: Number(id), progress: 10 });
    // Two panels on the same document: one to unmount, one that stays and shows later changes.
    await page.evaluate((id) => {
      window.show("gone", "document", { path: `projects/${id}` });
      window.show("stays", "document", { path: `projects/${id}` });
    }, id);
    await page.waitForFunction(() => ["gone", "stays"].every((n) => window.renders[n]?.some((r) => r.data?.progress === 10)));
    const target = { doc: `projects/${id}` };
    await waitUntil(() => activeListens(frames, target).size === 2, () => `frames: ${JSON.stringify(frames)}`);

    await page.evaluate(() => window.hide("gone"));
    const rendered = (await renders(page, "gone")).length;
    await waitUntil(() => activeListens(frames, target).size === 1, () => `frames: ${JSON.stringify(frames)}`);
    assert.ok(frames.some((f) => f.type === "unlisten"), "the page sent an unlisten frame");

    await send(edge, "project.processing", { project_id: Number(id), progress: 20 });
    await page.waitForFunction(() => window.renders.stays.some((r) => r.data?.progress === 20));
    const gone = await renders(page, "gone");
    assert.equal(gone.length, rendered, "no render after unmount");
    assert.equal(gone.at(-1).data.progress, 10);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("keeps data flowing without an error across token expiries, through getToken", async () => {
    let minted = 0;
    const { page, errors } = await openApp({
      token: mintToken({ ttlSecs: 2 }),
      mint: () => { minted++; return mintToken({ ttlSecs: 2 }); },
    });
    const id = unique(45000);
    await page.evaluate((id) => window.show("refresh", "document", { path: `projects/${id}` }), id);
    await page.waitForFunction(() => window.renders.refresh?.some((r) => !r.loading));
    // Forty changes paced over about six seconds: two or more expiries in between.
    const sent = [];
    const start = Date.now();
    for (let progress = 1; progress <= 40; progress++) {
      await new Promise((ok) => setTimeout(ok, Math.max(0, start + progress * 150 - Date.now())));
      await send(edge, "project.processing", { project_id: Number(id), progress });
      sent.push(progress);
      await page.waitForFunction((p) => window.renders.refresh.some((r) => r.data?.progress === p), progress, { timeout: 15_000 });
    }
    const shown = await renders(page, "refresh");
    assert.deepEqual(shown.filter((r) => r.error), [], "no render showed an error");
    assert.deepEqual(distinct(shown.filter((r) => r.data).map((r) => r.data.progress)), sent, "every change, in order");
    assert.ok(minted >= 2, `getToken was asked ${minted} times over several expiries`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("runs the README's React example, which the app holds verbatim, with the README's owner-scoped token", async () => {
    const snippet = readmeBlock("React", "jsx");
    assert.ok(readFileSync(join(FIXTURE, "main.jsx"), "utf8").includes(snippet), `the app does not contain the README's snippet:\n${snippet}`);

    // The token the README's Express route answers its user: their own projects only.
    const uid = `user_${unique(47000)}`;
    const { page, errors } = await openApp({ token: await (await expressTokenRoute(appDir))(uid) });
    const [mine, theirs] = [unique(46000), unique(48000)];
    await send(edge, "project.processing", { project_id: Number(mine), user_id: uid, progress: 35 });
    await send(edge, "project.processing", { project_id: Number(theirs), user_id: "someone-else", progress: 50 });
    await page.evaluate(({ mine, theirs, uid }) => {
      window.show("readme", "readme", { projectId: mine });
      window.show("theirs", "readme", { projectId: theirs });
      window.show("processing", "processing", { uid });
      window.show("others", "processing", { uid: "someone-else" });
    }, { mine, theirs, uid });
    await page.waitForFunction(({ mine }) => document.querySelector("#readme")?.textContent === "processing: 35%"
      && document.querySelector("#processing")?.textContent === `${mine}: 35%`, { mine });
    // Another owner's project reads as missing, and a query for another owner's shows its error.
    await page.waitForFunction(() => document.querySelector("#theirs")?.textContent === "No such project yet"
      && document.querySelector("#others")?.textContent === "Error: permission-denied");
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe("an app that does not import hookfeed/react", () => {
  /**
   * The input files of esbuild's bundle of `source` (as bench/web bundles its minimal app),
   * with "hookfeed" installed as a symlink to this package, so it resolves through "exports".
   */
  async function inputs(source) {
    const project = mkdtempSync(join(tmpdir(), "hookfeed-bundle-"));
    mkdirSync(join(project, "node_modules"));
    symlinkSync(ROOT, join(project, "node_modules/hookfeed"), "dir");
    const result = await esbuild({
      stdin: { contents: source, resolveDir: project, loader: "js" },
      bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022",
      write: false, metafile: true, logLevel: "error",
    });
    return Object.keys(result.metafile.inputs);
  }

  it("bundles neither web/react.js nor React, while one that imports it gets both", async () => {
    const plain = await inputs(readFileSync(join(ROOT, "bench/web/hookfeed-app.js"), "utf8"));
    assert.ok(plain.includes("web/index.js"), plain.join());
    assert.deepEqual(plain.filter((f) => /react/.test(f)), [], "the minimal app pulls in nothing of React");
    assert.doesNotMatch(readFileSync(join(ROOT, "web/index.js"), "utf8"), /react/i, "web/index.js never names React");

    const withHooks = await inputs(`import { useDocument } from "hookfeed/react"; console.log(useDocument);`);
    assert.ok(withHooks.includes("web/react.js"), withHooks.join());
    assert.ok(withHooks.some((f) => f.startsWith("node_modules/react/")), withHooks.join());
  });
});

