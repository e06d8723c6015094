// Deliberate type errors: tests/types.test.mjs expects tsc to report exactly the error
// named at the end of each marked line, and no other, which shows that tsc really checks
// usage.ts against web/index.d.ts under --strict.
import { initializeFeed, doc, collection, where, onSnapshot, getDoc, terminate } from "hookfeed";

const db = initializeFeed({ url: "https://edge.example.com", token: "header.claims.signature" });
initializeFeed({ token: "header.claims.signature" }); // error TS2741: no url
where("status", "===", "completed"); // error TS2345: not a WhereFilterOp
onSnapshot(doc(db, "projects", "42"), (snapshot) => snapshot.docs); // error TS2339: a DocumentSnapshot has no docs
onSnapshot(collection(db, "projects"), { includeMetadataChanges: "yes" }, () => {}); // error TS2769: not a boolean
getDoc(doc(db, "projects", "42")).then((snapshot) => snapshot.data().status); // error TS2532: only --strict sees this
terminate(doc(db, "projects", "42")); // error TS2741: terminate takes the feed
