// hookfeed/react: `useDocument` and `useQuery`, hookfeed's listeners as React hooks.
// The main decision: a listen is keyed by what it listens to (the feed, the path and the
// query's shape), never by object identity, so `useQuery(query(collection(db, "projects"),
// where(...)))` written inline in a component listens once, however often it renders. The
// hooks read through `useSyncExternalStore` (React 18 and 19), which also makes StrictMode's
// double mount a clean unsubscribe and subscribe. Only apps that import this entry pay for
// it: `hookfeed` itself never imports React. Server rendering shows the loading state
// (`useSyncExternalStore`'s server snapshot); the listener attaches on hydration.

import { useMemo, useSyncExternalStore } from "react";

import { onSnapshot } from "./index.js";

/** The state of a hook given no reference (`null` or `undefined`): nothing to listen to. */
const IDLE = Object.freeze({ data: undefined, snapshot: undefined, loading: false, error: undefined, fromCache: false });
/** The state before the first snapshot. */
const LOADING = Object.freeze({ ...IDLE, loading: true });

const feedIds = new WeakMap();
let lastFeedId = 0;

/**
 * What makes two references or queries the same listen: their feed (by identity) and their
 * path, filters, order and limit (by value). References are plain objects, so their JSON
 * without the feed and the parent reference is exactly that shape.
 */
function listenKey(target) {
  if (target == null) return "";
  const feed = target.firestore;
  let id = 0;
  if (typeof feed === "object" && feed !== null) {
    id = feedIds.get(feed);
    if (id === undefined) feedIds.set(feed, (id = ++lastFeedId));
  }
  try {
    return `${id} ${JSON.stringify(target, function (name, value) {
      return this === target && (name === "firestore" || name === "parent") ? undefined : value;
    })}`;
  } catch {
    return target; // not serialisable (a BigInt in a filter): fall back to identity
  }
}

/**
 * A store for one listen, read by `useSyncExternalStore`. Each subscription is its own
 * `onSnapshot`, with metadata changes so that `fromCache` turns true as soon as the feed is
 * unreachable; the state survives between subscriptions (StrictMode's remount shows the
 * last data, then the new listener's first snapshot).
 */
function listenStore(target, toState) {
  const initial = target == null ? IDLE : LOADING;
  let state = initial;
  return {
    get: () => state,
    // Server rendering and hydration: loading (nothing listens on the server), so the
    // hydrated page matches the server's HTML; the listener attaches after hydration.
    server: () => initial,
    subscribe(onChange) {
      if (target == null) return () => {};
      let live = true;
      let first = true;
      const failed = (error) => {
        state = { ...state, loading: false, error };
        onChange();
      };
      let stop;
      try {
        stop = onSnapshot(target, { includeMetadataChanges: true }, {
          next(snapshot) {
            if (!live) return;
            state = toState(snapshot, first ? undefined : state);
            first = false;
            onChange();
          },
          error(error) {
            if (live) failed(error);
          },
        });
      } catch (error) {
        failed(error); // the reference is not one onSnapshot takes: invalid-argument
      }
      return () => {
        live = false;
        stop?.();
      };
    },
  };
}

function documentState(snapshot) {
  return {
    data: snapshot.exists() ? snapshot.data() : undefined,
    snapshot,
    loading: false,
    error: undefined,
    fromCache: snapshot.metadata.fromCache,
  };
}

function queryState(snapshot, previous) {
  // A snapshot that only flipped `fromCache` keeps the same `data` array, so effects that
  // depend on it do not run again.
  const same = previous?.data !== undefined && snapshot.docChanges().length === 0;
  return {
    data: same ? previous.data : snapshot.docs.map((d) => ({ ...d.data(), id: d.id })),
    snapshot,
    loading: false,
    error: undefined,
    fromCache: snapshot.metadata.fromCache,
  };
}

function useListen(target, toState) {
  const key = listenKey(target);
  // The store is kept while the key is equal: a new but equal reference reuses it.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const store = useMemo(() => listenStore(target, toState), [key]);
  return useSyncExternalStore(store.subscribe, store.get, store.server);
}

/**
 * `useDocument(doc(db, "projects", id))`: `{ data, snapshot, loading, error, fromCache }`,
 * where `data` is the document's fields, or undefined while loading and when it does not exist.
 */
export function useDocument(reference) {
  return useListen(reference, documentState);
}

/**
 * `useQuery(query(collection(db, "projects"), where(...)))`: `{ data, snapshot, loading,
 * error, fromCache }`, where `data` is the documents in the query's order, each its fields
 * and `id` (the document's id).
 */
export function useQuery(query) {
  return useListen(query, queryState);
}
