// TypeScript declarations for hookfeed's browser module: Firestore's listener API.
// Code written against `firebase/firestore`'s onSnapshot types compiles with only its
// imports and initialisation changed. The module imports anywhere (browsers, Node, server
// rendering, jsdom): its wasm loads on first use, and every function below returns at once.

/** The fields of a document. */
export type DocumentData = { [field: string]: any };

/** Firestore's error codes that hookfeed raises. */
export type FirestoreErrorCode =
  | "invalid-argument" | "permission-denied" | "unauthenticated" | "resource-exhausted"
  | "unavailable" | "failed-precondition" | "internal" | "unknown";

/** An error with Firestore's `code`. */
export interface FirestoreError extends Error {
  readonly name: "FirebaseError";
  readonly code: FirestoreErrorCode;
}

export interface FeedOptions {
  /**
   * The edge's URL, e.g. `https://edge.example.com` (http://127.0.0.1:8787 under `npm run dev`);
   * `http(s)://` and `ws(s)://` alike.
   */
  url: string;
  /** A subscriber token minted by your backend (or `hookfeed token` in development). Optional with `getToken`. */
  token?: string;
  /**
   * Called for a token when there is none yet, when it has expired or is unreadable, when the
   * feed refuses it, and once when a connection is refused before it opens. Tried up to 5
   * times in a row with backoff (each may take 10 s); then listeners end with `unauthenticated`.
   */
  getToken?: () => string | Promise<string>;
  /** The feed (tenant) to read; defaults to the token's. */
  tenant?: string;
  /**
   * Keep the last known documents in IndexedDB (default true), per user (feed URL, tenant, and
   * the token's subject and scopes): at most 100 views and 10,000 documents, least recently
   * written first out. Without IndexedDB (as in Node), memory only.
   */
  persistence?: boolean;
}

/** A connection to one hookfeed edge: what Firestore calls `db`. */
export declare class Feed {
  private constructor();
  readonly type: "feed";
  /** Replaces the subscriber token and reconnects with it. */
  updateToken(token: string): void;
}

export interface DocumentReference<T = DocumentData> {
  readonly type: "document";
  readonly id: string;
  readonly path: string;
  readonly parent: CollectionReference<T>;
  readonly firestore: Feed;
}

export interface CollectionReference<T = DocumentData> {
  readonly type: "collection";
  readonly id: string;
  readonly path: string;
  readonly firestore: Feed;
}

export interface Query<T = DocumentData> {
  readonly type: "query" | "collection";
  readonly firestore: Feed;
}

export type WhereFilterOp =
  | "<" | "<=" | "==" | "!=" | ">=" | ">" | "array-contains" | "in" | "not-in" | "array-contains-any";
export type OrderByDirection = "asc" | "desc";

export interface QueryConstraint {
  readonly type: "where" | "orderBy" | "limit";
}

export interface SnapshotMetadata {
  /** True while offline, or before the feed answered (documents from IndexedDB). */
  readonly fromCache: boolean;
  /** Always false: hookfeed documents are written by webhooks, not by the page. */
  readonly hasPendingWrites: boolean;
}

export declare class DocumentSnapshot<T = DocumentData> {
  private constructor();
  readonly id: string;
  readonly ref: DocumentReference<T>;
  readonly metadata: SnapshotMetadata;
  exists(): this is QueryDocumentSnapshot<T>;
  data(): T | undefined;
  get(fieldPath: string): any;
}

export interface QueryDocumentSnapshot<T = DocumentData> extends DocumentSnapshot<T> {
  data(): T;
}

export declare class DocumentChange<T = DocumentData> {
  private constructor();
  readonly type: "added" | "modified" | "removed";
  readonly doc: QueryDocumentSnapshot<T>;
  readonly oldIndex: number;
  readonly newIndex: number;
}

export declare class QuerySnapshot<T = DocumentData> {
  private constructor();
  readonly docs: Array<QueryDocumentSnapshot<T>>;
  readonly size: number;
  readonly empty: boolean;
  readonly metadata: SnapshotMetadata;
  readonly query: Query<T>;
  forEach(callback: (result: QueryDocumentSnapshot<T>) => void): void;
  docChanges(): Array<DocumentChange<T>>;
}

export interface SnapshotListenOptions {
  readonly includeMetadataChanges?: boolean;
}

/** Stops a listener: at once, or before it attached if the wasm was still loading. */
export type Unsubscribe = () => void;

export interface Observer<T> {
  next?: (value: T) => void;
  error?: (error: FirestoreError) => void;
  complete?: () => void;
}

/**
 * The feed at `options.url`. Starts loading the wasm (fetched beside the module in browsers,
 * read from disk in Node); listeners registered before it is ready attach once it is.
 */
export declare function initializeFeed(options: FeedOptions): Feed;
export declare function doc<T = DocumentData>(db: Feed, path: string, ...pathSegments: string[]): DocumentReference<T>;
export declare function doc<T = DocumentData>(parent: CollectionReference<T>, id: string): DocumentReference<T>;
export declare function collection<T = DocumentData>(db: Feed, path: string): CollectionReference<T>;
export declare function query<T = DocumentData>(query: Query<T> | CollectionReference<T>, ...constraints: QueryConstraint[]): Query<T>;
declare function where_(fieldPath: string, opStr: WhereFilterOp, value: unknown): QueryConstraint;
export { where_ as where };
export declare function orderBy(fieldPath: string, directionStr?: OrderByDirection): QueryConstraint;
export declare function limit(limit: number): QueryConstraint;

export declare function onSnapshot<T = DocumentData>(
  reference: DocumentReference<T>,
  onNext: (snapshot: DocumentSnapshot<T>) => void,
  onError?: (error: FirestoreError) => void,
  onCompletion?: () => void,
): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(
  reference: DocumentReference<T>,
  options: SnapshotListenOptions,
  onNext: (snapshot: DocumentSnapshot<T>) => void,
  onError?: (error: FirestoreError) => void,
  onCompletion?: () => void,
): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(reference: DocumentReference<T>, observer: Observer<DocumentSnapshot<T>>): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(
  reference: DocumentReference<T>,
  options: SnapshotListenOptions,
  observer: Observer<DocumentSnapshot<T>>,
): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(
  query: Query<T> | CollectionReference<T>,
  onNext: (snapshot: QuerySnapshot<T>) => void,
  onError?: (error: FirestoreError) => void,
  onCompletion?: () => void,
): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(
  query: Query<T> | CollectionReference<T>,
  options: SnapshotListenOptions,
  onNext: (snapshot: QuerySnapshot<T>) => void,
  onError?: (error: FirestoreError) => void,
  onCompletion?: () => void,
): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(query: Query<T> | CollectionReference<T>, observer: Observer<QuerySnapshot<T>>): Unsubscribe;
export declare function onSnapshot<T = DocumentData>(
  query: Query<T> | CollectionReference<T>,
  options: SnapshotListenOptions,
  observer: Observer<QuerySnapshot<T>>,
): Unsubscribe;

/**
 * Ends the feed: closes its socket, ends every listener without a callback, writes pending cache
 * records. On sign-out: `await terminate(db); await clearIndexedDbPersistence(db);`.
 */
export declare function terminate(db: Feed): Promise<void>;
/** Deletes the IndexedDB cache (every user's). Only before `db` is used or after `terminate(db)`; else `failed-precondition`. */
export declare function clearIndexedDbPersistence(db: Feed): Promise<void>;
/** Whether two references are the same document or collection of the same feed. */
export declare function refEqual<T>(
  left: DocumentReference<T> | CollectionReference<T>,
  right: DocumentReference<T> | CollectionReference<T>,
): boolean;
/** Whether two queries ask the same of the same feed. */
export declare function queryEqual<T>(left: Query<T> | CollectionReference<T>, right: Query<T> | CollectionReference<T>): boolean;

/**
 * The document as the feed has it now; offline (or no answer within 10 s), as cached, and
 * rejected with `unavailable` when it was never cached.
 */
export declare function getDoc<T = DocumentData>(reference: DocumentReference<T>): Promise<DocumentSnapshot<T>>;
/** The query's results as the feed has them now; offline, as cached (possibly none). */
export declare function getDocs<T = DocumentData>(query: Query<T> | CollectionReference<T>): Promise<QuerySnapshot<T>>;
