// hookfeed's browser module: Firestore's onSnapshot listener API over a hookfeed feed.
// The engine is Rust compiled to wasm (crates/hookfeed-web); this entry only loads it and
// turns JavaScript's rest parameters into arrays.

import init, * as wasm from "./pkg/hookfeed_web.js";

await init({ module_or_path: new URL("./pkg/hookfeed_web_bg.wasm", import.meta.url) });

export const initializeFeed = wasm.initializeFeed;
export const where = wasm.where;
export const orderBy = wasm.orderBy;
export const limit = wasm.limit;
export const getDoc = wasm.getDoc;
export const getDocs = wasm.getDocs;
export const terminate = wasm.terminate;
export const clearIndexedDbPersistence = wasm.clearIndexedDbPersistence;
export const refEqual = wasm.refEqual;
export const queryEqual = wasm.queryEqual;
export const { DocumentSnapshot, QuerySnapshot, DocumentChange, Feed } = wasm;

/** `doc(db, "projects", id)`, `doc(db, "projects/42")` or `doc(collectionRef, id)`. */
export function doc(parent, ...segments) {
  return wasm.doc(parent, segments);
}

/** `collection(db, "projects")`. */
export function collection(parent, ...segments) {
  return wasm.collection(parent, segments);
}

/** `query(collectionRef, where(...), orderBy(...), limit(n))`. */
export function query(base, ...constraints) {
  return wasm.query(base, constraints);
}

/** `onSnapshot(ref, [options], onNext | observer, [onError])`: returns the unsubscribe function. */
export function onSnapshot(...args) {
  return wasm.onSnapshot(args);
}
