// Deliberate type errors for hookfeed/react: tests/types.test.mjs expects tsc to report
// exactly the error named at the end of each marked line, and no other.
import { initializeFeed, collection, doc, where } from "hookfeed";
import { useDocument, useQuery } from "hookfeed/react";

const db = initializeFeed({ url: "https://edge.example.com", token: "header.claims.signature" });
useDocument(collection(db, "projects")); // error TS2741: a collection is not a document reference
useQuery(where("status", "==", "completed")); // error TS2345: a constraint is not a query
useDocument(doc(db, "projects", "42")).data.status; // error TS2532: data is undefined while loading
useQuery(collection(db, "projects")).data?.map((row) => row.id.toFixed()); // error TS2551: id is the document's id, a string
useDocument(doc(db, "projects", "42")).error?.code === "not-found"; // error TS2367: not a code hookfeed raises
