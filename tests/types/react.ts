// hookfeed/react's hooks against their declarations (web/react.d.ts), as a component's body
// uses them. tests/types.test.mjs compiles it with `tsc --noEmit --strict`; nothing here
// runs, so it needs no React types. "hookfeed/react" resolves through package.json's
// "exports" → "./react" → "types".

import { initializeFeed, collection, doc, query, where, orderBy, limit, type FirestoreErrorCode } from "hookfeed";
import { useDocument, useQuery, type DocumentState, type QueryState, type WithId } from "hookfeed/react";

declare const token: string;
declare const projectId: string;
declare const signedIn: boolean;

const db = initializeFeed({ url: "https://edge.example.com", token });

// A document: data is its fields, or undefined (loading, or no such document).
const project = useDocument(doc(db, "projects", projectId));
const status: string | undefined = project.data?.status;
const loading: boolean = project.loading;
const fromCache: boolean = project.fromCache;
const code: FirestoreErrorCode | undefined = project.error?.code;
const exists: boolean | undefined = project.snapshot?.exists();
console.log(status, loading, fromCache, code, exists);

// Typed documents: the type parameter flows from the reference to data.
interface Project { status: "processing" | "completed" | "failed"; progress: number; final_video_url?: string }
const typed: DocumentState<Project> = useDocument(doc<Project>(db, "projects", projectId));
const progress: number | undefined = typed.data?.progress;
console.log(progress);

// A query: data is an array of the documents' fields, each with its id.
const recent = useQuery(query(collection(db, "projects"), where("status", "==", "processing"), orderBy("progress", "desc"), limit(10)));
for (const row of recent.data ?? []) {
  const id: string = row.id;
  console.log(id, row.progress);
}
const changes = recent.snapshot?.docChanges().map((c) => c.type);
console.log(changes);

// A whole collection, typed, and its rows' `id` replacing a field called `id`.
interface Row { id: number; title: string }
const rows: QueryState<Row> = useQuery(collection<Row>(db, "rows"));
const first: WithId<Row> | undefined = rows.data?.[0];
const rowId: string | undefined = first?.id;
const title: string | undefined = first?.title;
console.log(rowId, title);

// Nothing to listen to yet: null or undefined.
const maybe = useDocument(signedIn ? doc(db, "users", "u1") : null);
const none = useQuery(undefined);
console.log(maybe.loading, none.data);
