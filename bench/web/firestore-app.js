// The same app on Firebase's own SDK: the baseline of the size benchmark.
import { initializeApp } from "@firebase/app";
import { getFirestore, doc, onSnapshot } from "@firebase/firestore";

const db = getFirestore(initializeApp({ projectId: "demo-project", apiKey: "demo" }));
onSnapshot(doc(db, "projects", "42"), (snapshot) => console.log(snapshot.data()));
