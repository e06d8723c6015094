// A unit test of a component that uses useDocument, as an app's test runner runs it under
// jsdom (Vitest's `environment: "jsdom"`, or global-jsdom): the DOM's globals on Node's
// global object, no IndexedDB, React's act(). Importing hookfeed must not fail there, the
// first render shows loading, and the component then shows the document from a real
// wrangler dev, follows a signed delivery's change, and stops listening on unmount.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { JSDOM } from "jsdom";

import { startEdge } from "./support/edge.mjs";
import { DEMO, deliver, mintToken, twinActorEvent } from "./support/sign.mjs";

// The environment first, as the test runner sets it up before it imports the test's modules.
const dom = new JSDOM("<!doctype html><html><body><div id='root'></div></body></html>", {
  url: "http://localhost:3000/",
  pretendToBeVisual: true,
});
for (const key of Object.getOwnPropertyNames(dom.window)) {
  if (!(key in globalThis)) Object.defineProperty(globalThis, key, { configurable: true, get: () => dom.window[key] });
}
for (const key of ["window", "document", "navigator"]) {
  Object.defineProperty(globalThis, key, { configurable: true, value: dom.window[key] });
}
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const { act, createElement: h } = await import("react");
const { createRoot } = await import("react-dom/client");
const { initializeFeed, doc } = await import("hookfeed"); // this package, through its "exports"
const { useDocument } = await import("hookfeed/react");

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];

/** The component under test: a project's status and progress. */
function Project({ db, projectId }) {
  const { data, loading, error } = useDocument(doc(db, "projects", projectId));
  if (error) return h("p", null, `error: ${error.code}`);
  if (loading) return h("p", null, "loading…");
  return h("p", null, data ? `${data.status}: ${data.progress}%` : "no such project");
}

/** Lets React and the listener run inside act() until `condition` holds (as Testing Library's waitFor). */
async function waitFor(condition, describeState, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${describeState()}`);
    await act(() => new Promise((ok) => setTimeout(ok, 20)));
  }
}

describe("a component using useDocument, unit-tested under jsdom", () => {
  let edge;
  const consoleErrors = [];
  const consoleError = console.error;
  before(async () => {
    console.error = (...args) => { consoleErrors.push(args.map(String).join(" ")); consoleError(...args); };
    edge = await startEdge();
  });
  after(async () => {
    console.error = consoleError;
    await edge?.stop();
  });

  it("runs with jsdom's globals and no IndexedDB", () => {
    assert.equal(typeof window.document.createElement, "function");
    assert.equal(typeof indexedDB, "undefined", "jsdom has no IndexedDB: hookfeed's cache is simply off");
  });

  it("renders loading, then the document, then its change; unmounting stops the listener", async () => {
    const projectId = String(49000 + Math.floor(Math.random() * 1000));
    const send = async (data) => {
      const res = await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: Number(projectId), ...data }));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await send({ progress: 40 });

    const container = document.getElementById("root");
    const text = () => container.textContent;
    const db = initializeFeed({ url: edge.url, token: mintToken({ scopes: ["projects/*"] }) });
    const root = createRoot(container);
    act(() => root.render(h(Project, { db, projectId })));
    assert.equal(text(), "loading…", "the first render shows loading");

    await waitFor(() => text() === "processing: 40%", text);
    // The edge pushes the change before it answers the delivery: act() around it, as around any event.
    await act(() => send({ progress: 70 }));
    await waitFor(() => text() === "processing: 70%", text);

    act(() => root.unmount());
    assert.equal(text(), "");
    await send({ progress: 90 }); // nothing listens any more: no update outside act, no error
    await act(() => new Promise((ok) => setTimeout(ok, 300)));
    assert.deepEqual(consoleErrors, []);
  });
});
