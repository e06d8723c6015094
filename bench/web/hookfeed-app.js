// The minimal onSnapshot app on hookfeed (what the size benchmark bundles).
import { initializeFeed, doc, onSnapshot } from "hookfeed";

const db = initializeFeed({ url: "https://edge.example.com", token: "header.claims.signature" });
onSnapshot(doc(db, "projects", "42"), (snapshot) => console.log(snapshot.data()));
