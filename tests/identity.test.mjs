// Bring your own identity, under a real wrangler dev: subscriber tokens may be RS256 or
// ES256 ID tokens of a provider HOOKFEED_IDENTITY names (a Firebase Auth ID token passes
// unchanged), verified against the provider's JWKS. Every forged, altered, misaddressed or
// algorithm-confused token is refused with 401; the JWKS is fetched on first use and
// refetched for an unknown kid at most once per 10 s, so a rotated key is picked up and a
// flood of forged kids costs the provider next to nothing. Owner scopes: a user's token
// reads the projects whose user_id is its subject, and learns nothing of anyone else's,
// not even that they exist.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";

import { startEdge } from "./support/edge.mjs";
import {
  FIREBASE, IDP, firebaseClaims, firebaseIdToken, handMadeJwt, idToken, idpClaims, publicKeySecrets, signingKey,
  startJwksServer, withClaims,
} from "./support/identity.mjs";
import { nowSecs, sendOwnedProject } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";


// Project ids of this run: random, so reruns against a kept state do not collide.
let nextProject = 40000 + Math.floor(Math.random() * 50000);
const projectIds = (n) => Array.from({ length: n }, () => nextProject++);
const path = (id) => `projects/${id}`;
/** Two users of this test only: their names appear in no other test's documents. */
const users = () => {
  const tag = randomBytes(4).toString("hex");
  return { alice: `alice_${tag}`, bob: `bob_${tag}` };
};
/** The query a user's app makes: their own projects. */
const ownProjects = (user) => ({ collection: "projects", where: [{ field: "user_id", op: "==", value: user }] });

/** Every text frame `sub` receives from now on, as sent (whatever `next` takes). */
function tap(sub) {
  const raw = [];
  sub.ws.addEventListener("message", (event) => raw.push(String(event.data)));
  return raw;
}

/** A subscriber socket with the token in `Authorization: Bearer` (Node can set headers; browsers cannot). */
async function connectWithBearer(edge, token) {
  const ws = new WebSocket(`${edge.url.replace("http", "ws")}/feed`, { protocols: [], headers: { Authorization: `Bearer ${token}` } });
  const sub = new Subscriber(ws);
  await new Promise((ok, fail) => {
    ws.addEventListener("open", ok, { once: true });
    ws.addEventListener("error", () => fail(new Error("WebSocket failed to open")), { once: true });
  });
  return sub;
}

/** `GET /docs/{docPath}` with `token` in the query string (or as a Bearer header), `tenant` as ?tenant=: status, JSON and text. */
async function read(edge, docPath, token, { bearer = false, tenant } = {}) {
  const search = tenant ? `tenant=${encodeURIComponent(tenant)}` : "";
  const res = bearer
    ? await fetch(`${edge.url}/docs/${docPath}?${search}`, { headers: { Authorization: `Bearer ${token}` } })
    : await fetch(`${edge.url}/docs/${docPath}?token=${encodeURIComponent(token)}&${search}`);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, body, text };
}

/** A browser's WebSocket upgrade of GET /feed, the token in Sec-WebSocket-Protocol: the answer's status, error code and body. */
function upgrade(edge, token, { search = "" } = {}) {
  return new Promise((ok, fail) => {
    const req = request(`${edge.url}/feed${search}`, {
      headers: {
        Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": `hookfeed, ${token}`,
      },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => { text += d; });
      res.on("end", () => {
        let code;
        try { code = JSON.parse(text).error?.code; } catch {}
        ok({ status: res.statusCode, code, text });
      });
    });
    req.on("upgrade", (res, socket) => { socket.destroy(); ok({ status: res.statusCode }); });
    req.on("error", fail);
    req.end();
  });
}

describe("subscriber tokens from the customer's own identity provider", () => {
  let edge;
  let idp;
  let firebase;
  let keys;

  const sendProject = (...args) => sendOwnedProject(edge, ...args);
  /** Projects as they stand before a test's changes: created two minutes ago, so every later event wins. */
  const seedProject = (id, user_id, progress) => sendProject(id, user_id, progress, nowSecs() - 120);
  /** Four project ids: alice's two (progress 10 and 20) and bob's one, seeded, then one not sent. */
  async function seedTwoOfAliceAndOneOfBob(alice, bob) {
    const ids = projectIds(4);
    for (const [id, user, progress] of [[ids[0], alice, 10], [ids[1], alice, 20], [ids[2], bob, 30]]) await seedProject(id, user, progress);
    return ids;
  }

  before(async () => {
    const [rsa, ec, p384, rotated, firebaseKey, stranger, strangerEc] = await Promise.all([
      signingKey("RS256"),
      // EC keys without the optional `alg` member: the key type and curve say what they verify.
      signingKey("ES256", { jwkAlg: false }),
      signingKey("ES384", { jwkAlg: false }),
      signingKey("ES256"),
      signingKey("RS256"),
      signingKey("RS256"),
      signingKey("ES256"),
    ]);
    keys = { rsa, ec, p384, rotated, firebase: firebaseKey, stranger, strangerEc };
    idp = await startJwksServer([rsa, ec, p384]);
    firebase = await startJwksServer([firebaseKey]);
    edge = await startEdge({
      vars: {
        HOOKFEED_IDENTITY: JSON.stringify([
          {
            tenant: "demo", issuer: IDP.issuer, audience: IDP.audience, jwks_url: idp.url,
            scopes: ["announcements/*"], owner: { projects: "user_id" },
          },
          { tenant: "demo", issuer: FIREBASE.issuer, audience: FIREBASE.audience, jwks_url: firebase.url, owner: { projects: "user_id" } },
        ]),
      },
    });
  });
  after(async () => {
    await edge?.stop();
    await idp?.close();
    await firebase?.close();
  });

  it("accepts RS256 and ES256 tokens of the configured issuer in ?token=, Authorization: Bearer and Sec-WebSocket-Protocol", async () => {
    const { alice } = users();
    const [mine] = projectIds(1);
    await seedProject(mine, alice, 10);
    for (const key of [keys.rsa, keys.ec]) {
      const token = await idToken(key, idpClaims(alice));
      for (const bearer of [false, true]) {
        const doc = await read(edge, path(mine), token, { bearer });
        assert.equal(doc.status, 200, `${key.alg} on GET /docs (bearer: ${bearer}): ${JSON.stringify(doc.body)}`);
        assert.equal(doc.body.data.user_id, alice);
      }
      const carriers = {
        "Sec-WebSocket-Protocol": () => Subscriber.connect(edge, token),
        "?token=": () => Subscriber.connect(edge, token, { via: "query" }),
        "Authorization: Bearer": () => connectWithBearer(edge, token),
      };
      for (const [carrier, connect] of Object.entries(carriers)) {
        const sub = await connect();
        sub.listen(1, { doc: path(mine) });
        const snapshot = await sub.next();
        assert.equal(snapshot.type, "snapshot", `${key.alg} in ${carrier}: ${JSON.stringify(snapshot)}`);
        assert.deepEqual(snapshot.docs.map((d) => [d.path, d.data.user_id]), [[path(mine), alice]]);
        await sub.close();
      }
    }
  });

  it("accepts an audience list that holds the audience, and a not-before within the 30 seconds of leeway", async () => {
    const { alice } = users();
    const [mine] = projectIds(1);
    await seedProject(mine, alice, 10);
    const accepted = {
      "aud is a list holding the audience": idpClaims(alice, { aud: ["another-api", IDP.audience] }),
      "nbf ten seconds ahead (a provider clock ahead of ours)": idpClaims(alice, { nbf: nowSecs() + 10 }),
      "nbf a minute ago": idpClaims(alice, { nbf: nowSecs() - 60 }),
    };
    for (const [name, claims] of Object.entries(accepted)) {
      const doc = await read(edge, path(mine), await idToken(keys.ec, claims));
      assert.equal(doc.status, 200, `${name}: ${JSON.stringify(doc.body)}`);
    }
  });

  it("grants the provider's configured scopes, and none a token claims for itself", async () => {
    const { alice } = users();
    // Claims an HS256 token would carry: an ID token's say nothing, the configuration does.
    const token = await idToken(keys.rsa, idpClaims(alice, { tenant: "demo", scopes: ["*"] }));
    const sub = await Subscriber.connect(edge, token);
    sub.listen(1, { doc: "announcements/welcome" });
    assert.equal((await sub.next((f) => f.id === 1)).type, "snapshot", "announcements/* is the provider's scope");
    sub.listen(2, { collection: "announcements" });
    assert.equal((await sub.next((f) => f.id === 2)).type, "snapshot");
    for (const [id, target] of [[3, { doc: "users/user_abc123" }], [4, { collection: "videos" }], [5, { doc: "account/credits" }]]) {
      sub.listen(id, target);
      const denied = await sub.next((f) => f.id === id);
      assert.deepEqual([denied.type, denied.code], ["error", "permission-denied"], JSON.stringify(target));
    }
    await sub.close();
    const rest = await read(edge, "users/user_abc123", token);
    assert.equal(rest.status, 403, JSON.stringify(rest.body));
  });

  it("refuses forged, altered, misaddressed, expired and algorithm-confused tokens with 401, one identical answer for every unverified token", async () => {
    const { alice, bob } = users();
    const claims = idpClaims(alice);
    const good = await idToken(keys.rsa, claims);
    const header = { alg: "RS256", kid: keys.rsa.kid, typ: "JWT" };
    const without = (name) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name));
    const uid = `fb${randomBytes(12).toString("hex")}`;
    // name → [token, expected code, options]; `unsigned` ones have an empty third part, which
    // the Sec-WebSocket-Protocol carrier does not take for a token at all; `tenant` is the
    // tenant the request asks for (?tenant=). Every unverified token gets the same body,
    // whatever was wrong with it: which issuers, audiences and tenants exist is no one's
    // to learn by probing. Only a token whose signature verified may be told it expired.
    const cases = {
      "garbage": ["garbage.garbage.garbage"],
      "a tenant the issuer does not serve": [good, "invalid_token", { tenant: "globex" }],
      "an issuer no provider names": [await idToken(keys.rsa, { ...claims, iss: "https://evil.test/" })],
      "the issuer without its trailing slash": [await idToken(keys.rsa, { ...claims, iss: "https://idp.test" })],
      "another audience": [await idToken(keys.rsa, { ...claims, aud: "someone-else" })],
      "an audience list without the audience": [await idToken(keys.rsa, { ...claims, aud: ["someone-else", "another-api"] })],
      "no audience": [await idToken(keys.rsa, without("aud"))],
      "the other provider's audience": [await idToken(keys.rsa, { ...claims, aud: FIREBASE.audience })],
      "a kid the JWKS does not have": [await idToken(keys.stranger, claims)],
      "a key not in the JWKS, under a kid that is": [await handMadeJwt(header, claims, keys.stranger)],
      "an EC key not in the JWKS, under the EC key's kid": [await handMadeJwt({ alg: "ES256", kid: keys.ec.kid }, claims, keys.strangerEc)],
      "no kid, signed by a key not in the JWKS": [await handMadeJwt({ alg: "RS256", typ: "JWT" }, claims, keys.stranger)],
      "the other provider's key": [await idToken(keys.firebase, claims)],
      "altered claims: another subject": [withClaims(good, { ...claims, sub: bob })],
      "altered claims: a later expiry": [withClaims(good, { ...claims, exp: claims.exp + 86_400 })],
      "altered claims: scopes added": [withClaims(good, { ...claims, scopes: ["*"] })],
      "a truncated signature": [good.slice(0, -6)],
      "alg none, unsigned": [await handMadeJwt({ alg: "none", typ: "JWT" }, claims, null), "invalid_token", { unsigned: true }],
      "alg none, with the RSA key's signature": [await handMadeJwt({ alg: "none", kid: keys.rsa.kid, typ: "JWT" }, claims, keys.rsa)],
      "RS256 header on the EC key": [await handMadeJwt({ alg: "RS256", kid: keys.ec.kid, typ: "JWT" }, claims, keys.ec)],
      "ES256 header on the RSA key": [await handMadeJwt({ alg: "ES256", kid: keys.rsa.kid, typ: "JWT" }, claims, keys.rsa)],
      "ES256 header on a P-384 key": [await handMadeJwt({ alg: "ES256", kid: keys.p384.kid, typ: "JWT" }, claims, keys.p384)],
      "ES384 header on a P-384 key": [await handMadeJwt({ alg: "ES384", kid: keys.p384.kid, typ: "JWT" }, claims, keys.p384)],
      "RS512 header on the RSA key": [await handMadeJwt({ alg: "RS512", kid: keys.rsa.kid, typ: "JWT" }, claims, keys.rsa)],
      "no subject": [await idToken(keys.rsa, without("sub"))],
      "an empty subject": [await idToken(keys.rsa, { ...claims, sub: "" })],
      "a numeric subject": [await idToken(keys.rsa, { ...claims, sub: 42 })],
      "not valid before two minutes from now": [await idToken(keys.rsa, { ...claims, nbf: nowSecs() + 120 })],
      "no expiry": [await idToken(keys.rsa, without("exp"))],
      "expired two minutes ago": [await idToken(keys.rsa, { ...claims, iat: nowSecs() - 3720, exp: nowSecs() - 120 }), "token_expired"],
      "expired two minutes ago, signed by a key not in the JWKS": [await idToken(keys.stranger, { ...claims, iat: nowSecs() - 3720, exp: nowSecs() - 120 })],
      "expired, under a kid that is, signed by a key not in the JWKS": [await handMadeJwt(header, { ...claims, iat: nowSecs() - 3720, exp: nowSecs() - 120 }, keys.stranger)],
      "altered claims: expired": [withClaims(good, { ...claims, exp: nowSecs() - 120 })],
      "expired, of an issuer no provider names": [await idToken(keys.rsa, { ...claims, iss: "https://evil.test/", exp: nowSecs() - 120 })],
      "expired, of another audience": [await idToken(keys.rsa, { ...claims, aud: "someone-else", exp: nowSecs() - 120 })],
      "a Firebase token of another project": [await firebaseIdToken(keys.firebase, uid, { projectId: "other-project" })],
      "a Firebase token with another project's audience": [await idToken(keys.firebase, { ...firebaseClaims(uid), aud: "other-project" })],
      "a Firebase token signed by a key Google did not publish": [await firebaseIdToken(keys.stranger, uid)],
      "an expired Firebase token": [await firebaseIdToken(keys.firebase, uid, { issuedSecs: nowSecs() - 7200 }), "token_expired"],
    };
    // Algorithm confusion: HS256 tokens are checked against TOKEN_SECRET only, never against
    // a provider's public key, whatever bytes of it an attacker uses as the HMAC secret.
    for (const [form, secret] of Object.entries(await publicKeySecrets(keys.rsa))) {
      cases[`HS256 signed with the RSA public key's ${form}`] = [await handMadeJwt({ alg: "HS256", kid: keys.rsa.kid, typ: "JWT" }, claims, { hmac: secret })];
      cases[`HS256 signed with the RSA public key's ${form}, no kid`] = [await handMadeJwt({ alg: "HS256", typ: "JWT" }, claims, { hmac: secret })];
    }
    for (const [form, secret] of Object.entries(await publicKeySecrets(keys.firebase))) {
      cases[`HS256 Firebase token signed with Google's public key's ${form}`] = [
        await handMadeJwt({ alg: "HS256", kid: keys.firebase.kid, typ: "JWT" }, firebaseClaims(uid), { hmac: secret }),
      ];
    }

    const expected = {};
    const got = {};
    const invalid = new Set();
    for (const [name, [token, code = "invalid_token", { unsigned = false, tenant } = {}]] of Object.entries(cases)) {
      expected[`${name}, GET /docs`] = `401 ${code}`;
      const rest = await read(edge, path(1), token, { tenant });
      got[`${name}, GET /docs`] = `${rest.status} ${rest.body?.error?.code}`;
      if (rest.status === 401) assert.equal(typeof rest.body.error.message, "string", name);
      if (code === "invalid_token") invalid.add(rest.text);
      if (unsigned) continue;
      expected[`${name}, GET /feed`] = `401 ${code}`;
      const feed = await upgrade(edge, token, { search: tenant ? `?tenant=${tenant}` : "" });
      got[`${name}, GET /feed`] = `${feed.status} ${feed.code}`;
      if (code === "invalid_token") invalid.add(feed.text);
    }
    assert.deepEqual(got, expected);
    // One body, byte for byte, for every unverified token on both routes.
    assert.equal(invalid.size, 1, [...invalid].join("\n"));
    const [body] = invalid;
    assert.deepEqual(JSON.parse(body), {
      error: { code: "invalid_token", message: "token is not valid here: mint a fresh one for this service (the reason is in the service's log)" },
    });
    // The same token, unaltered, is good: each refusal is for what the case changed.
    assert.notEqual((await read(edge, path(1), good)).status, 401);
  });

  it("picks up a key added to the provider's JWKS within seconds of the first token it signs", async () => {
    const { alice } = users();
    const [mine] = projectIds(1);
    await seedProject(mine, alice, 10);
    assert.equal((await read(edge, path(mine), await idToken(keys.rsa, idpClaims(alice)))).status, 200);

    // The provider rotates: the new key is published beside the old ones.
    idp.serve([keys.rsa, keys.ec, keys.p384, keys.rotated]);
    const token = await idToken(keys.rotated, idpClaims(alice));
    // A kid the cache lacks triggers a refetch, but at most one per 10 s: the first tries
    // may fall in the wait after the previous fetch. Poll every second for up to 20 s.
    const deadline = Date.now() + 20_000;
    let doc = await read(edge, path(mine), token);
    while (doc.status !== 200 && Date.now() < deadline) {
      assert.deepEqual([doc.status, doc.body?.error?.code], [401, "invalid_token"], "refused until the new key is known");
      await new Promise((ok) => setTimeout(ok, 1000));
      doc = await read(edge, path(mine), token);
    }
    assert.equal(doc.status, 200, `the added key was not accepted within 20 s: ${JSON.stringify(doc.body)}`);
    assert.equal(doc.body.data.user_id, alice);

    const sub = await Subscriber.connect(edge, token);
    sub.listen(1, { doc: path(mine) });
    assert.equal((await sub.next()).type, "snapshot");
    await sub.close();
    // The keys published before still verify.
    assert.equal((await read(edge, path(mine), await idToken(keys.ec, idpClaims(alice)))).status, 200);
  });

  it("fetches the JWKS at most about once per 10 seconds however many unknown kids arrive", async () => {
    const { alice } = users();
    const [mine] = projectIds(1);
    await seedProject(mine, alice, 10);
    const known = await idToken(keys.rsa, idpClaims(alice));
    assert.equal((await read(edge, path(mine), known)).status, 200);

    // Known kids are verified from the isolate's cache.
    const warm = idp.requests;
    for (let i = 0; i < 3; i++) assert.equal((await read(edge, path(mine), known)).status, 200);
    assert.equal(idp.requests, warm, "a token with a known kid fetched the JWKS");

    // Forty tokens at once, each under a random kid, signed by keys the provider never had.
    const forged = await Promise.all(Array.from({ length: 40 }, (_, i) => {
      const key = i % 2 ? keys.stranger : keys.strangerEc;
      return handMadeJwt({ alg: key.alg, kid: randomBytes(16).toString("hex"), typ: "JWT" }, idpClaims(alice), key);
    }));
    const before = idp.requests;
    const answers = await Promise.all(forged.map(async (token, i) => {
      if (i % 2) return upgrade(edge, token);
      const rest = await read(edge, path(mine), token);
      return { status: rest.status, code: rest.body?.error?.code };
    }));
    const fetched = idp.requests - before;
    assert.deepEqual(answers.map((a) => `${a.status} ${a.code}`), forged.map(() => "401 invalid_token"));
    assert.ok(fetched <= 2, `40 unknown kids made the edge fetch the JWKS ${fetched} times`);

    // The flood evicted nothing: the known key still verifies.
    assert.equal((await read(edge, path(mine), known)).status, 200);
  });

  it("lets a user's token listen to the projects whose user_id is its subject, through that where filter", async () => {
    const { alice, bob } = users();
    const [a1, a2, b1, a3] = await seedTwoOfAliceAndOneOfBob(alice, bob);
    const sub = await Subscriber.connect(edge, await idToken(keys.rsa, idpClaims(alice)));
    const raw = tap(sub);
    sub.listen(1, ownProjects(alice));
    const snapshot = await sub.next((f) => f.id === 1);
    assert.equal(snapshot.type, "snapshot", JSON.stringify(snapshot));
    assert.deepEqual(snapshot.docs.map((d) => d.path).sort(), [path(a1), path(a2)].sort());
    assert.ok(snapshot.docs.every((d) => d.data.user_id === alice), JSON.stringify(snapshot.docs));

    // Bob's change is committed first, so it would arrive first if it leaked.
    await sendProject(b1, bob, 35);
    await sendProject(a1, alice, 50);
    const modified = await sub.next((f) => f.type === "change" && f.id === 1);
    assert.deepEqual([modified.kind, modified.path, modified.data.progress], ["modified", path(a1), 50]);
    await sendProject(a3, alice, 5);
    const added = await sub.next((f) => f.type === "change" && f.id === 1);
    assert.deepEqual([added.kind, added.path, added.data.user_id], ["added", path(a3), alice]);

    assert.deepEqual(sub.frames, [], "nothing else was sent");
    assert.ok(!raw.some((text) => text.includes(bob)), `a frame carried bob's data: ${raw.join("\n")}`);
    await sub.close();
  });

  it("refuses a projects listen not narrowed to the token's own user_id with permission-denied, and keeps the socket", async () => {
    const { alice, bob } = users();
    const sub = await Subscriber.connect(edge, await idToken(keys.ec, idpClaims(alice)));
    const denied = [
      { collection: "projects" },
      { collection: "projects", where: [{ field: "user_id", op: "==", value: bob }] },
      { collection: "projects", where: [{ field: "owner", op: "==", value: alice }] },
      { collection: "projects", where: [{ field: "status", op: "==", value: "processing" }] },
      { collection: "projects", where: [{ field: "user_id", op: "!=", value: alice }] },
      { collection: "projects", where: [{ field: "user_id", op: "in", value: [alice, bob] }] },
      { collection: "projects", orderBy: [{ field: "user_id" }] },
    ];
    for (const [i, target] of denied.entries()) {
      sub.listen(i + 1, target);
      const frame = await sub.next((f) => f.id === i + 1);
      assert.deepEqual([frame.type, frame.code], ["error", "permission-denied"], `${JSON.stringify(target)}: ${JSON.stringify(frame)}`);
    }
    // Narrower than the owner filter is still the user's own: granted, on the same socket.
    sub.listen(20, { collection: "projects", where: [{ field: "user_id", op: "==", value: alice }, { field: "status", op: "==", value: "processing" }] });
    assert.equal((await sub.next((f) => f.id === 20)).type, "snapshot");
    sub.listen(21, ownProjects(alice));
    assert.equal((await sub.next((f) => f.id === 21)).type, "snapshot");
    await sub.close();
  });

  it("answers a listen on another user's project as a document that does not exist, and never sends its changes", async () => {
    const { alice, bob } = users();
    const [a1, b1, missing] = projectIds(3);
    await seedProject(a1, alice, 10);
    await seedProject(b1, bob, 20);
    const sub = await Subscriber.connect(edge, await idToken(keys.rsa, idpClaims(alice)));
    const raw = tap(sub);
    sub.listen(1, { doc: path(b1) });
    const theirs = await sub.next((f) => f.id === 1);
    sub.listen(2, { doc: path(missing) });
    const none = await sub.next((f) => f.id === 2);
    sub.listen(3, { doc: path(a1) });
    const own = await sub.next((f) => f.id === 3);

    assert.deepEqual([theirs.type, theirs.docs], ["snapshot", []], JSON.stringify(theirs));
    assert.deepEqual({ ...theirs, id: 0, seq: 0 }, { ...none, id: 0, seq: 0 }, "the same answer as for a document that does not exist");
    assert.deepEqual(own.docs.map((d) => [d.path, d.data.user_id]), [[path(a1), alice]]);

    await sendProject(b1, bob, 60);
    await sendProject(a1, alice, 70);
    const change = await sub.next((f) => f.type === "change");
    assert.deepEqual([change.id, change.path, change.data.progress], [3, path(a1), 70]);
    assert.deepEqual(sub.frames, [], "nothing reached the listen on bob's project");
    assert.ok(!raw.some((text) => text.includes(bob)), `a frame carried bob's data: ${raw.join("\n")}`);
    await sub.close();
  });

  it("answers GET /docs with the user's own projects only: another user's is a 404, as a missing one is", async () => {
    const { alice, bob } = users();
    const [a1, a2, b1, missing] = await seedTwoOfAliceAndOneOfBob(alice, bob);
    const token = await idToken(keys.ec, idpClaims(alice));

    const own = await read(edge, path(a1), token);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual([own.body.path, own.body.data.user_id, own.body.data.progress], [path(a1), alice, 10]);

    const theirs = await read(edge, path(b1), token);
    const none = await read(edge, path(missing), token);
    assert.equal(none.status, 404);
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
    assert.equal(theirs.body.error.code, none.body.error.code);
    assert.ok(!JSON.stringify(theirs.body).includes(bob), JSON.stringify(theirs.body));

    for (const bearer of [false, true]) {
      const list = await read(edge, "projects", token, { bearer });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.deepEqual(list.body.docs.map((d) => d.path).sort(), [path(a1), path(a2)].sort(), `bearer: ${bearer}`);
      assert.ok(list.body.docs.every((d) => d.data.user_id === alice));
      assert.ok(!JSON.stringify(list.body).includes(bob));
    }
  });

  it("removes a project from its former owner's listeners when its user_id changes, and sends them nothing of it afterwards", async () => {
    const { alice, bob } = users();
    const [moved, kept] = projectIds(2);
    await seedProject(moved, alice, 10);
    await seedProject(kept, alice, 20);
    const aliceSub = await Subscriber.connect(edge, await idToken(keys.rsa, idpClaims(alice)));
    const raw = tap(aliceSub);
    aliceSub.listen(1, ownProjects(alice));
    aliceSub.listen(2, { doc: path(moved) });
    const query = await aliceSub.next((f) => f.id === 1);
    const doc = await aliceSub.next((f) => f.id === 2);
    assert.deepEqual(query.docs.map((d) => d.path).sort(), [path(moved), path(kept)].sort());
    assert.deepEqual(doc.docs.map((d) => d.path), [path(moved)]);
    const bobSub = await Subscriber.connect(edge, await idToken(keys.ec, idpClaims(bob)));
    bobSub.listen(1, ownProjects(bob));
    assert.deepEqual((await bobSub.next((f) => f.id === 1)).docs, []);

    // The project changes hands: a later event sets its user_id to bob.
    await sendProject(moved, bob, 40);
    const leftQuery = await aliceSub.next((f) => f.type === "change" && f.id === 1);
    const leftDoc = await aliceSub.next((f) => f.type === "change" && f.id === 2);
    assert.deepEqual([leftQuery.kind, leftQuery.path], ["removed", path(moved)], JSON.stringify(leftQuery));
    assert.deepEqual([leftDoc.kind, leftDoc.path], ["removed", path(moved)], JSON.stringify(leftDoc));
    const arrived = await bobSub.next((f) => f.type === "change" && f.id === 1);
    assert.deepEqual([arrived.kind, arrived.path, arrived.data.user_id, arrived.data.progress], ["added", path(moved), bob, 40]);

    // Its later changes reach bob and never alice, whose other project still streams.
    await sendProject(moved, bob, 60);
    await sendProject(kept, alice, 30);
    const next = await aliceSub.next((f) => f.type === "change");
    assert.deepEqual([next.id, next.path, next.data.progress], [1, path(kept), 30]);
    assert.deepEqual(aliceSub.frames, [], "nothing more about the moved project");
    assert.equal((await bobSub.next((f) => f.type === "change" && f.id === 1)).data.progress, 60);
    assert.ok(!raw.some((text) => text.includes(bob)), `a frame to alice carried the project's new data: ${raw.join("\n")}`);

    assert.equal((await read(edge, path(moved), await idToken(keys.rsa, idpClaims(alice)))).status, 404);
    assert.equal((await read(edge, path(moved), await idToken(keys.ec, idpClaims(bob)))).status, 200);
    await Promise.all([aliceSub.close(), bobSub.close()]);
  });

  it("accepts a Firebase Auth ID token unchanged: its uid reads the user's own projects and nothing else", async () => {
    const uid = randomBytes(14).toString("hex");
    const other = randomBytes(14).toString("hex");
    const [mine, theirs] = projectIds(2);
    await seedProject(mine, uid, 10);
    await seedProject(theirs, other, 20);
    const token = await firebaseIdToken(keys.firebase, uid);

    const own = await read(edge, path(mine), token);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.data.user_id, uid);
    assert.equal((await read(edge, path(theirs), token)).status, 404);
    const list = await read(edge, "projects", token);
    assert.deepEqual(list.body.docs?.map((d) => d.path), [path(mine)], JSON.stringify(list.body));

    const sub = await Subscriber.connect(edge, token);
    const raw = tap(sub);
    sub.listen(1, ownProjects(uid));
    const snapshot = await sub.next((f) => f.id === 1);
    assert.deepEqual(snapshot.docs?.map((d) => [d.path, d.data.user_id]), [[path(mine), uid]], JSON.stringify(snapshot));
    sub.listen(2, { collection: "projects" });
    assert.equal((await sub.next((f) => f.id === 2)).code, "permission-denied");
    // This provider is configured with owner scopes only: no announcements.
    sub.listen(3, { doc: "announcements/welcome" });
    assert.equal((await sub.next((f) => f.id === 3)).code, "permission-denied");

    await sendProject(theirs, other, 50);
    await sendProject(mine, uid, 60);
    const change = await sub.next((f) => f.type === "change");
    assert.deepEqual([change.id, change.kind, change.path, change.data.progress], [1, "modified", path(mine), 60]);
    assert.ok(!raw.some((text) => text.includes(other)));
    await sub.close();
  });
});
