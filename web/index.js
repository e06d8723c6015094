// hookfeed's browser module: Firestore's onSnapshot listener API over a hookfeed feed.
// The engine is Rust compiled to wasm (crates/hookfeed-web). Importing this entry loads
// nothing: the wasm is fetched (browsers, bundlers) or read from disk (Node) on first use,
// so the module imports anywhere: in Node scripts, in server rendering and under jsdom.
// What Firestore's API returns at once is built here in JavaScript: the feed handle
// (`initializeFeed`) and references (`doc`, `collection`, `query` and its constraints),
// as the same plain objects the wasm builds. A listener registered before the wasm is
// ready attaches once it is; its unsubscribe works either way.

// Named imports only, so that bundlers leave out the wasm's own builders, which this entry replaces.
import init, {
  clearIndexedDbPersistence as wasmClearPersistence,
  getDoc as wasmGetDoc,
  getDocs as wasmGetDocs,
  initializeFeed as wasmFeed,
  terminate as wasmTerminate,
} from "./pkg/hookfeed_web.js";

export { DocumentChange, DocumentSnapshot, QuerySnapshot } from "./pkg/hookfeed_web.js";

/** Firestore's error: an Error named "FirebaseError" with a `code`. */
function firestoreError(code, message) {
  const error = new Error(message);
  error.name = "FirebaseError";
  error.code = code;
  return error;
}

const invalid = (message) => firestoreError("invalid-argument", message);

/** Where an error goes when a listener has no error callback (as the wasm does). */
const report = (onError, error) => (onError ? onError(error) : console.error(error));

/** The wasm, beside this file: fetched where `fetch` can read its URL, read with `fs` from `file:`. */
async function wasmBytes() {
  const url = new URL("./pkg/hookfeed_web_bg.wasm", import.meta.url);
  if (url.protocol !== "file:") return url;
  // Node (and Deno, Bun): `fetch` cannot read file: URLs. The specifier is a variable so
  // that bundlers for browsers neither follow nor warn about it.
  const fs = "node:fs/promises";
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ fs)).readFile(url);
}

let loading;
let loaded = false;

/** Loads the wasm once; a failed load is tried again by the next use. */
function load() {
  loading ??= wasmBytes()
    .then((module_or_path) => init({ module_or_path }))
    .then(
      () => { loaded = true; },
      (cause) => {
        loading = undefined;
        throw firestoreError("unavailable", `hookfeed could not load its wasm: ${cause?.message ?? cause}`);
      },
    );
  return loading;
}

/** A connection to one hookfeed edge: what Firestore calls `db`. */
export class Feed {
  #options;
  #feed; // the wasm's Feed, made on the first listen after the wasm loaded
  #terminated = false;

  constructor(options) {
    this.#options = options;
  }

  /** Always `"feed"`. */
  get type() {
    return "feed";
  }

  /** Replaces the subscriber token and reconnects with it. */
  updateToken(token) {
    this.#options.token = token;
    this.#feed?.updateToken(token);
  }

  /**
   * Internal: registers a listener (`onSnapshot`, and the wasm's `getDoc` and `getDocs`
   * with `once`: answered one snapshot, then ended) through a reference's `firestore`;
   * returns its unsubscribe function.
   */
  _listen(reference, includeMetadata, onNext, onError, once = false) {
    if (this.#terminated) throw firestoreError("failed-precondition", "the feed was terminated: initializeFeed() again");
    if (loaded) {
      this.#feed ??= wasmFeed(this.#options);
      return this.#feed._listen(reference, includeMetadata, onNext, onError, once);
    }
    let stop;
    let live = true;
    load().then(
      () => {
        if (!live || this.#terminated) return;
        try {
          stop = this._listen(reference, includeMetadata, onNext, onError, once);
        } catch (error) {
          report(onError, error);
        }
      },
      (error) => live && report(onError, error),
    );
    return () => {
      live = false;
      stop?.();
    };
  }

  /** Internal: `terminate(db)`. Listeners end without a callback; the feed is unusable. */
  _terminate() {
    this.#terminated = true;
    return this.#feed ? wasmTerminate(this.#feed) : Promise.resolve();
  }

  /** Internal: `clearIndexedDbPersistence(db)`, before the feed is used or once terminated. */
  _clearPersistence() {
    if (this.#feed && !this.#terminated) {
      return Promise.reject(firestoreError("failed-precondition", "call terminate(db) before clearIndexedDbPersistence(db)"));
    }
    // A wasm feed that never connects, without a cache of its own open, to delete the cache.
    return load().then(() => wasmClearPersistence(this.#feed ?? wasmFeed({ ...this.#options, persistence: false })));
  }
}

/** `terminate(db)`: closes the connection and ends every listener, as Firestore's does. */
export function terminate(db) {
  return db._terminate();
}

/**
 * `clearIndexedDbPersistence(db)`: deletes the module's IndexedDB cache (every user's), as a
 * sign-out should after `terminate(db)`. `failed-precondition` while the feed runs.
 */
export function clearIndexedDbPersistence(db) {
  return db._clearPersistence();
}

/** `refEqual(a, b)`: the same document or collection of the same feed. */
export function refEqual(a, b) {
  return typeof a === "object" && a !== null && a.type === b?.type && a.path === b?.path && a.firestore === b?.firestore;
}

/**
 * `queryEqual(a, b)`: the same results of the same feed (a collection equals its query
 * without constraints): the same collection, filters, orders and limit.
 */
export function queryEqual(a, b) {
  const text = (q) => JSON.stringify([q?.path, q?.where ?? [], q?.orderBy ?? [], q?.limit]);
  return a?.firestore === b?.firestore && text(a) === text(b);
}

/** `initializeFeed({ url, token, tenant?, getToken?, persistence? })`; starts loading the wasm. */
export function initializeFeed(options) {
  const { url, token, getToken } = options ?? {};
  if (typeof url !== "string") throw invalid("initializeFeed needs { url }: the edge's https:// URL");
  if (!(typeof token === "string" && token) && typeof getToken !== "function") {
    throw invalid("initializeFeed needs { token } (a subscriber token from your backend) or { getToken }");
  }
  // IndexedDB is absent in Node and under jsdom: there the cache is simply off.
  const persistence = options.persistence !== false && typeof indexedDB !== "undefined";
  load().catch(() => {}); // a failure reaches the listeners
  return new Feed({ ...options, persistence });
}

// References are plain objects, as inspectable as Firestore's. Their rules are the feed's
// (hookfeed-wire's); tests/node.test.mjs checks they agree with the wasm's own builders.

const COLLECTION = /^[\w-]{1,64}$/;
const encoder = new TextEncoder();

function reference(type, firestore, path, id) {
  return { type, firestore, path, id };
}

function checkCollection(name) {
  if (!COLLECTION.test(name)) throw invalid("a collection name is 1-64 of A-Z a-z 0-9 _ -");
}

function checkId(id) {
  // Control characters are Unicode's Cc: U+0000-U+001F and U+007F-U+009F.
  if (id === "." || id === ".." || /[/\x00-\x1f\x7f-\x9f]/.test(id) || !id || encoder.encode(id).length > 256) {
    throw invalid("a document id is 1-256 bytes, not `.` or `..`, without `/` or control characters");
  }
}

/** `doc(db, "projects", id)`, `doc(db, "projects/42")` or `doc(collectionRef, id)`. */
export function doc(parent, ...segments) {
  let firestore = parent;
  const parts = [];
  if (parent?.type === "collection") {
    firestore = parent.firestore;
    parts.push(typeof parent.path === "string" ? parent.path : "");
  } else if (parent?.type !== "feed") {
    throw invalid("doc() takes the feed or a collection reference first");
  }
  for (const segment of segments) {
    if (typeof segment !== "string") throw invalid("path segments are strings");
    parts.push(...segment.split("/"));
  }
  if (parts.length !== 2) throw invalid("a document path has two segments, like doc(db, \"projects\", \"42\")");
  const [collection, id] = parts;
  checkCollection(collection);
  checkId(id);
  const r = reference("document", firestore, `${collection}/${id}`, id);
  r.parent = reference("collection", firestore, collection, collection);
  return r;
}

/** `collection(db, "projects")`. */
export function collection(parent, ...segments) {
  if (parent?.type !== "feed") throw invalid("collection() takes the feed first");
  if (segments.length !== 1) throw invalid("collection() takes one collection name, like collection(db, \"projects\")");
  const path = typeof segments[0] === "string" ? segments[0] : "";
  checkCollection(path);
  return reference("collection", parent, path, path);
}

const OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains", "array-contains-any"];

/** `where(field, op, value)`. */
export function where(field, op, value) {
  if (!OPS.includes(op)) {
    throw invalid("invalid where() operator: use ==, !=, <, <=, >, >=, in, not-in, array-contains or array-contains-any");
  }
  return { type: "where", field: String(field), op, value };
}

/** `orderBy(field, "asc" | "desc")`. */
export function orderBy(field, direction = "asc") {
  if (direction !== "asc" && direction !== "desc") throw invalid("orderBy() direction is \"asc\" or \"desc\"");
  return { type: "orderBy", field: String(field), direction };
}

/** `limit(n)`. */
export function limit(n) {
  return { type: "limit", limit: n >>> 0 };
}

/** `query(collectionRef, where(...), orderBy(...), limit(n))`. */
export function query(base, ...constraints) {
  if (base?.type !== "collection" && base?.type !== "query") {
    throw invalid("query() takes a collection reference or a query first");
  }
  const list = (value) => (Array.isArray(value) ? [...value] : []);
  const q = { type: "query", firestore: base.firestore, path: base.path, where: list(base.where), orderBy: list(base.orderBy), limit: base.limit };
  for (const c of constraints) {
    if (c?.type === "limit") q.limit = c.limit;
    else if (c?.type === "where" || c?.type === "orderBy") q[c.type].push(c);
    else throw invalid("query() constraints come from where(), orderBy() and limit()");
  }
  return q;
}

/** `onSnapshot(ref, [options], onNext | observer, [onError], [onCompletion])`: returns the unsubscribe function. */
export function onSnapshot(reference, ...rest) {
  let includeMetadata = false;
  if (typeof rest[0] === "object" && rest[0] !== null && rest[0].next === undefined) {
    includeMetadata = rest.shift().includeMetadataChanges === true;
  }
  const [first, second] = rest;
  let next;
  let error;
  if (typeof first === "function") {
    next = first;
    if (typeof second === "function") error = second;
  } else if (typeof first === "object" && first !== null) {
    // An observer: { next, error, complete }.
    if (typeof first.next !== "function") throw invalid("the observer has no next()");
    next = first.next.bind(first);
    if (typeof first.error === "function") error = first.error.bind(first);
  } else {
    throw invalid("onSnapshot() needs a callback or an observer");
  }
  if (typeof reference?.firestore?._listen !== "function") {
    throw invalid("expected a reference made by doc(), collection() or query() of an initialized feed");
  }
  if (!["document", "collection", "query"].includes(reference.type)) {
    throw invalid("onSnapshot() takes a reference from doc(), collection() or query()");
  }
  return reference.firestore._listen(reference, includeMetadata, next, error);
}

/** `getDoc(docRef)`: the document's current snapshot (the feed's answer, not the cache). */
export function getDoc(reference) {
  return load().then(() => wasmGetDoc(reference));
}

/** `getDocs(query)`: the query's current results. */
export function getDocs(query) {
  return load().then(() => wasmGetDocs(query));
}
