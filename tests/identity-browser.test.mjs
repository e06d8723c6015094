// The browser module in headless Chromium with a page signed in with Firebase Auth: the
// page hands its ID token to initializeFeed unchanged (as `token`, or through `getToken`
// as auth.currentUser.getIdToken() would give it), and Firestore's owner query
// `where("user_id", "==", uid)` streams the user's projects, while a query of the whole
// collection fails with permission-denied, as Firestore's security rules would answer it.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { appPage, launchChromium } from "./support/browser.mjs";
import { startEdge } from "./support/edge.mjs";
import { FIREBASE, firebaseIdToken, signingKey, startJwksServer } from "./support/identity.mjs";
import { nowSecs, sendOwnedProject } from "./support/sign.mjs";

let nextProject = 40000 + Math.floor(Math.random() * 50000);
const projectIds = (n) => Array.from({ length: n }, () => nextProject++);
/** A Firebase Auth uid: 28 characters. */
const newUid = () => randomBytes(14).toString("hex");

describe("the browser module with a Firebase Auth ID token", () => {
  let edge;
  let jwks;
  let key;
  let browser;

  const sendProject = (...args) => sendOwnedProject(edge, ...args);

  before(async () => {
    key = await signingKey("RS256");
    jwks = await startJwksServer([key]);
    edge = await startEdge({
      vars: {
        HOOKFEED_IDENTITY: JSON.stringify([
          { tenant: "demo", issuer: FIREBASE.issuer, audience: FIREBASE.audience, jwks_url: jwks.url, owner: { projects: "user_id" } },
        ]),
      },
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await edge?.stop();
    await jwks?.close();
  });

  it("streams the signed-in user's projects to a where(user_id == uid) listener, and refuses the whole collection with permission-denied", async () => {
    const page = await appPage(browser, edge);
    const uid = newUid();
    const other = newUid();
    const [first, second, theirs] = projectIds(3);
    await sendProject(first, uid, 10, nowSecs() - 120);
    await sendProject(second, uid, 20, nowSecs() - 120);
    await sendProject(theirs, other, 30, nowSecs() - 120);

    // What `await auth.currentUser.getIdToken()` gives the page, handed over unchanged.
    const idToken = await firebaseIdToken(key, uid);
    await page.evaluate(({ url, token, uid }) => {
      const { initializeFeed, collection, query, where, onSnapshot } = window.hookfeed;
      const db = initializeFeed({ url, token, persistence: false });
      onSnapshot(query(collection(db, "projects"), where("user_id", "==", uid)), (snap) => {
        window.log.push({
          docs: snap.docs.map((d) => ({ id: d.id, user: d.get("user_id"), progress: d.get("progress") })),
          changes: snap.docChanges().map((c) => `${c.type}:${c.doc.id}`),
        });
      }, (e) => window.errors.push(e.code));
      window.denied = new Promise((ok) => {
        onSnapshot(collection(db, "projects"), () => ok({ unexpected: "snapshot" }), (e) => ok({ code: e.code, name: e.name }));
      });
    }, { url: edge.url, token: idToken, uid });

    assert.deepEqual(await page.evaluate(() => window.denied), { code: "permission-denied", name: "FirebaseError" });
    await page.waitForFunction(() => window.log.length >= 1);
    const initial = (await page.evaluate(() => window.log))[0];
    assert.deepEqual(
      initial.docs.sort((a, b) => a.id.localeCompare(b.id)),
      [{ id: String(first), user: uid, progress: 10 }, { id: String(second), user: uid, progress: 20 }],
    );

    // The other user's change is committed first: it would arrive first if it leaked.
    await sendProject(theirs, other, 35);
    await sendProject(first, uid, 70);
    await page.waitForFunction((id) => window.log.some((s) => s.docs.some((d) => d.id === id && d.progress === 70)), String(first));
    const { log, errors } = await page.evaluate(() => ({ log: window.log, errors: window.errors }));
    assert.deepEqual(log.at(-1).changes, [`modified:${first}`]);
    assert.ok(log.every((s) => s.docs.every((d) => d.user === uid)), `only the user's projects: ${JSON.stringify(log)}`);
    assert.ok(!JSON.stringify(log).includes(String(theirs)), "the other user's project never appeared");
    assert.deepEqual(errors, [], "the owner query itself saw no error");
    await page.close();
  });

  it("refreshes an expired Firebase ID token through getToken, as auth.currentUser.getIdToken() would", async () => {
    const page = await appPage(browser, edge);
    const uid = newUid();
    const other = newUid();
    const [mine, theirs] = projectIds(2);
    await sendProject(mine, uid, 40, nowSecs() - 120);
    await sendProject(theirs, other, 50, nowSecs() - 120);
    // Firebase ID tokens live an hour; this one was issued two hours ago.
    const expired = await firebaseIdToken(key, uid, { issuedSecs: nowSecs() - 7200 });
    await page.exposeFunction("getIdToken", () => firebaseIdToken(key, uid));
    const seen = await page.evaluate(({ url, token, mine, theirs }) => {
      const { initializeFeed, doc, onSnapshot } = window.hookfeed;
      let asked = 0;
      const db = initializeFeed({ url, token, persistence: false, getToken: async () => { asked++; return window.getIdToken(); } });
      const first = (ref) => new Promise((ok) => {
        const stop = onSnapshot(ref, (snap) => {
          stop();
          ok({ exists: snap.exists(), user: snap.get("user_id") ?? null, fromCache: snap.metadata.fromCache });
        }, (e) => ok({ error: e.code }));
      });
      return Promise.all([first(doc(db, "projects", mine)), first(doc(db, "projects", theirs))]).then(([own, other]) => ({ own, other, asked }));
    }, { url: edge.url, token: expired, mine: String(mine), theirs: String(theirs) });
    assert.deepEqual(seen.own, { exists: true, user: uid, fromCache: false });
    assert.deepEqual(seen.other, { exists: false, user: null, fromCache: false }, "another user's project looks like one that does not exist");
    assert.ok(seen.asked >= 1, "getToken was asked for a fresh token");
    await page.close();
  });
});
