// TypeScript declarations for hookfeed/react: `useDocument` and `useQuery`.
// React is a peer dependency (18 or later); these types name none of its own.
// Server rendering (react-dom/server, Next.js, Remix) renders each hook's loading state;
// the listener attaches when the page hydrates.

import type {
  CollectionReference, DocumentData, DocumentReference, DocumentSnapshot, FirestoreError, Query, QuerySnapshot,
} from "./index.js";

/** A document's fields with its id: `id` is the document's id, in place of any field called `id`. */
export type WithId<T> = Omit<T, "id"> & { readonly id: string };

/** What a listener hook returns on every render. */
export interface ListenState<Data, Snapshot> {
  /** The latest snapshot's data; undefined while loading (and, for a document, when it does not exist). */
  readonly data: Data | undefined;
  /** The latest snapshot itself, for `docChanges()`, `metadata` and the rest. */
  readonly snapshot: Snapshot | undefined;
  /** True until the first snapshot or error (and always on the server); false when given no reference. */
  readonly loading: boolean;
  /** Why the listener stopped, with Firestore's `code` (`permission-denied`, …); `data` keeps the last snapshot's. */
  readonly error: FirestoreError | undefined;
  /** `snapshot.metadata.fromCache`: the data is what the page last knew, not yet confirmed by the feed. */
  readonly fromCache: boolean;
}

export type DocumentState<T = DocumentData> = ListenState<T, DocumentSnapshot<T>>;
export type QueryState<T = DocumentData> = ListenState<Array<WithId<T>>, QuerySnapshot<T>>;

/**
 * Listens to one document while the component is mounted. An equal reference (same feed and
 * path) keeps the same listener across renders; `null` or `undefined` listens to nothing.
 */
export declare function useDocument<T = DocumentData>(reference: DocumentReference<T> | null | undefined): DocumentState<T>;

/**
 * Listens to a collection or query while the component is mounted. An equal query (same feed,
 * collection, filters, order and limit) keeps the same listener across renders; `null` or
 * `undefined` listens to nothing.
 */
export declare function useQuery<T = DocumentData>(query: Query<T> | CollectionReference<T> | null | undefined): QueryState<T>;
