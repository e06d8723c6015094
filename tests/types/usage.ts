// Firestore-style code against hookfeed's TypeScript declarations (web/index.d.ts), as a
// user writes it. tests/types.test.mjs compiles it with `tsc --noEmit --strict` and fails
// on any error; nothing here runs. "hookfeed" resolves to this package itself through
// package.json's "exports" → "types", as it does in a user's project.

declare const token: string;
declare const projectId: string;

// README.md, "Watch a document", verbatim (tests/types.test.mjs checks that it still is):
import { initializeFeed, doc, onSnapshot } from "hookfeed";            // was: "firebase/firestore"
const db = initializeFeed({ url: "https://edge.example.com", token });   // was: getFirestore(app)

const unsubscribe = onSnapshot(doc(db, "projects", projectId), (doc) => {
  const data = doc.data();
  if (!data) return;                                                   // no such project yet
  console.log("Status:", data.status, data.progress);
  if (data.status === "completed") { console.log(data.final_video_url); unsubscribe(); }
});
// End of the README's snippet.

import {
  collection,
  query,
  where,
  orderBy,
  limit,
  getDoc,
  getDocs,
  terminate,
  clearIndexedDbPersistence,
  refEqual,
  queryEqual,
  DocumentSnapshot,
  QuerySnapshot,
  Feed,
  type DocumentChange,
  type DocumentData,
  type DocumentReference,
  type CollectionReference,
  type FeedOptions,
  type FirestoreError,
  type FirestoreErrorCode,
  type Query,
  type QueryDocumentSnapshot,
  type SnapshotMetadata,
  type Unsubscribe,
  type WhereFilterOp,
} from "hookfeed";

// initializeFeed: with a token, with getToken (sync or async), and every option.
const withGetToken: Feed = initializeFeed({
  url: "https://edge.example.com",
  getToken: async () => {
    const response = await fetch("/api/hookfeed-token");
    return response.text();
  },
});
const options: FeedOptions = {
  url: "http://127.0.0.1:8787",
  token,
  getToken: () => token,
  tenant: "demo",
  persistence: false,
};
const other = initializeFeed(options);
other.updateToken("eyJhbGciOiJIUzI1NiJ9.e30.fresh");
const feedType: "feed" = withGetToken.type;

// References.
const projects: CollectionReference = collection(db, "projects");
const byPath: DocumentReference = doc(db, "projects/42");
const bySegments = doc(db, "projects", "42");
const inCollection = doc(projects, "42");
const names: string[] = [projects.id, projects.path, byPath.id, byPath.path, bySegments.parent.path, inCollection.id];
const sameFeed: Feed = inCollection.firestore;

// Typed documents.
interface Project {
  status: "created" | "processing" | "completed" | "failed";
  progress: number;
  final_video_url?: string;
}
const typedRef = doc<Project>(db, "projects", projectId);
onSnapshot(typedRef, (snapshot) => {
  const progress: number | undefined = snapshot.data()?.progress;
  if (snapshot.exists()) {
    // exists() narrows to a QueryDocumentSnapshot, whose data() is defined.
    const status: Project["status"] = snapshot.data().status;
    console.log(status, progress);
  }
});

// Queries: every where() operator, orderBy in both directions, limit, and a query of a query.
const ops: WhereFilterOp[] = ["==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains", "array-contains-any"];
const active: Query = query(
  collection(db, "projects"),
  where("status", "==", "processing"),
  where("progress", ">=", 50),
  orderBy("progress", "desc"),
  orderBy("created"),
  limit(10),
);
const narrower = query(active, where("status", "not-in", ["failed"]), where("tags", "array-contains-any", ["a", "b"]));
const firstFive = query(projects, limit(5));
const queryType: "query" | "collection" = narrower.type;

// onSnapshot on a document: callback, error callback, options, observer, options + observer.
const onError = (error: FirestoreError) => {
  const code: FirestoreErrorCode = error.code;
  const name: "FirebaseError" = error.name;
  if (error.code === "permission-denied" || error.code === "unauthenticated") console.error(name, code, error.message);
};
const stops: Unsubscribe[] = [
  onSnapshot(bySegments, (snapshot) => console.log(snapshot.id), onError),
  onSnapshot(bySegments, (snapshot) => console.log(snapshot.id), onError, () => console.log("done")),
  onSnapshot(bySegments, { includeMetadataChanges: true }, (snapshot) => {
    const metadata: SnapshotMetadata = snapshot.metadata;
    console.log(metadata.fromCache, metadata.hasPendingWrites);
  }),
  onSnapshot(bySegments, { includeMetadataChanges: true }, (snapshot) => console.log(snapshot.id), onError),
  onSnapshot(bySegments, {
    next: (snapshot) => console.log(snapshot.get("status"), snapshot.get("result.url")),
    error: (error) => console.error(error.code),
    complete: () => console.log("done"),
  }),
  onSnapshot(bySegments, { includeMetadataChanges: false }, { next: (snapshot) => console.log(snapshot.ref.path) }),
];

// onSnapshot on a query: the same forms.
const stopsForQueries: Unsubscribe[] = [
  onSnapshot(active, (snapshot) => console.log(snapshot.size)),
  onSnapshot(active, (snapshot) => console.log(snapshot.size), onError),
  onSnapshot(projects, { includeMetadataChanges: true }, (snapshot) => console.log(snapshot.metadata.fromCache), onError),
  onSnapshot(firstFive, { next: (snapshot) => console.log(snapshot.empty), error: onError }),
  onSnapshot(narrower, { includeMetadataChanges: true }, { next: (snapshot) => console.log(snapshot.docs.length) }),
];
for (const stop of [...stops, ...stopsForQueries]) stop();

// DocumentSnapshot and QuerySnapshot members.
function describeDocument(snapshot: DocumentSnapshot<Project>): string {
  const ref: DocumentReference<Project> = snapshot.ref;
  const data: Project | undefined = snapshot.data();
  const status: unknown = snapshot.get("status");
  return `${snapshot.id} ${ref.path} ${snapshot.exists()} ${data?.progress} ${String(status)} ${snapshot.metadata.fromCache}`;
}
function describeResults(snapshot: QuerySnapshot): string[] {
  const docs: QueryDocumentSnapshot[] = snapshot.docs;
  const lines = docs.map((d) => `${d.id}: ${JSON.stringify(d.data())}`);
  snapshot.forEach((result) => lines.push(result.ref.path));
  const source: Query = snapshot.query;
  lines.push(`${snapshot.size} ${snapshot.empty} ${snapshot.metadata.hasPendingWrites} ${source.type}`);
  return lines;
}

// docChanges() with Firestore's splice pattern: a local array kept in query order.
const items: DocumentData[] = [];
onSnapshot(active, (snapshot) => {
  const changes: DocumentChange[] = snapshot.docChanges();
  for (const change of changes) {
    if (change.type === "removed") {
      items.splice(change.oldIndex, 1);
    } else if (change.type === "added") {
      items.splice(change.newIndex, 0, change.doc.data());
    } else {
      items.splice(change.oldIndex, 1);
      items.splice(change.newIndex, 0, change.doc.data());
    }
  }
});

// getDoc and getDocs.
async function readOnce(): Promise<void> {
  const snapshot = await getDoc(typedRef);
  if (snapshot instanceof DocumentSnapshot && snapshot.exists()) console.log(snapshot.data().final_video_url);
  console.log(describeDocument(snapshot));
  const results = await getDocs(active);
  if (results instanceof QuerySnapshot) console.log(describeResults(results));
  const all = await getDocs(projects);
  console.log(all.docs.map((d) => d.id));
}

// Equality, and a sign-out: end the feed, then delete the cache.
const sameRef: boolean = refEqual(byPath, bySegments) && refEqual(projects, inCollection.parent);
const sameQuery: boolean = queryEqual(active, narrower) || queryEqual(projects, firstFive);
async function signOut(): Promise<void> {
  await terminate(db);
  await clearIndexedDbPersistence(db);
}
const getTokenOnly: Feed = initializeFeed({ url: "wss://edge.example.com", getToken: () => fetch("/t").then((r) => r.text()) });

export { feedType, names, sameFeed, ops, queryType, readOnce, sameRef, sameQuery, signOut, getTokenOnly };
