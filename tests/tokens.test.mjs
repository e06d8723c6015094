// Subscriber tokens are standard JWTs (HS256 with TOKEN_SECRET): minted by jose, by
// Python's standard library and by hookfeed/server, each listens under a real wrangler
// dev; `alg: none`, other algorithms and malformed parts are refused with 401.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { SignJWT } from "jose";

import { createToken } from "hookfeed/server";

import { startEdge } from "./support/edge.mjs";
import { DEMO, deliver, twinActorEvent } from "./support/sign.mjs";
import { Subscriber } from "./support/subscriber.mjs";

const TWIN = ["twin-actor", "twin-actor", DEMO.SECRET_TWIN_ACTOR];

/** A JWT from parts as given, signed with HS256 over them (or unsigned). */
function handMade(header, claims, { sign = true, secret = DEMO.TOKEN_SECRET } = {}) {
  const part = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${sign ? createHmac("sha256", secret).update(input).digest("base64url") : ""}`;
}

/** Python's standard library minting the same JWT a backend without a JWT library would. */
async function pythonToken(claims) {
  const script = `
import base64, hashlib, hmac, json, sys
b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
payload = b64(json.dumps(json.loads(sys.argv[2])).encode())
signature = b64(hmac.new(sys.argv[1].encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
print(f"{header}.{payload}.{signature}")
`;
  const { stdout } = await promisify(execFile)("python3", ["-c", script, DEMO.TOKEN_SECRET, JSON.stringify(claims)]);
  return stdout.trim();
}

/** Listens to `projects/{id}` with `token` and sees a delivery arrive. */
async function listensWith(edge, token, id) {
  const sub = await Subscriber.connect(edge, token);
  sub.listen(1, { doc: `projects/${id}` });
  await sub.next((f) => f.type === "snapshot");
  assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: id, progress: 5 }))).status, 200);
  const change = await sub.next((f) => f.type === "change");
  assert.equal(change.data.progress, 5);
  await sub.close();
}

const nowSecs = () => Math.floor(Date.now() / 1000);

describe("subscriber tokens are JWTs any backend can mint", () => {
  let edge;
  before(async () => { edge = await startEdge(); });
  after(async () => { await edge?.stop(); });

  it("accepts a token minted with jose", async () => {
    const token = await new SignJWT({ tenant: "demo", scopes: ["projects/*"] })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject("user_1")
      .setIssuedAt()
      .setExpirationTime("15m")
      .sign(new TextEncoder().encode(DEMO.TOKEN_SECRET));
    await listensWith(edge, token, 9101);
  });

  it("accepts a token minted with Python's standard library", async () => {
    await listensWith(edge, await pythonToken({ tenant: "demo", scopes: ["projects/9102"], exp: nowSecs() + 600 }), 9102);
  });

  it("accepts a token minted with hookfeed/server's createToken", async () => {
    const token = await createToken({ tenant: "demo", scopes: ["projects/9103"], sub: "user_3", expiresIn: "15m", secret: DEMO.TOKEN_SECRET });
    await listensWith(edge, token, 9103);
    const res = await fetch(`${edge.url}/docs/projects/9103?token=${token}`);
    assert.equal(res.status, 200);
  });

  it("refuses alg none, other algorithms and malformed parts with 401, one identical answer for all; an expired one says so", async () => {
    const claims = { tenant: "demo", scopes: ["*"], exp: nowSecs() + 600 };
    const refused = {
      "alg none, unsigned": handMade({ alg: "none", typ: "JWT" }, claims, { sign: false }),
      "alg none, with a MAC": handMade({ alg: "none" }, claims),
      "HS512 header": handMade({ alg: "HS512" }, claims),
      "RS256 header over an HMAC": handMade({ alg: "RS256" }, claims),
      "no alg": handMade({ typ: "JWT" }, claims),
      "another secret": handMade({ alg: "HS256" }, claims, { secret: "not-the-token-secret" }),
      "two parts": "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIn0",
      "four parts": `${handMade({ alg: "HS256" }, claims)}.extra`,
      "header not JSON": `bm90IGpzb24.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`,
      "no exp": handMade({ alg: "HS256" }, { tenant: "demo", scopes: ["*"] }),
      "expired, with another secret": handMade({ alg: "HS256" }, { ...claims, exp: nowSecs() - 60 }, { secret: "not-the-token-secret" }),
      "another tenant, with another secret": handMade({ alg: "HS256" }, { ...claims, tenant: "globex" }, { secret: "not-the-token-secret" }),
    };
    // Nothing was verified: what was wrong is the service log's to say, not the answer's.
    const bodies = new Set();
    for (const [name, token] of Object.entries(refused)) {
      const res = await fetch(`${edge.url}/docs/projects/1?token=${encodeURIComponent(token)}`);
      assert.equal(res.status, 401, name);
      const text = await res.text();
      assert.equal(JSON.parse(text).error.code, "invalid_token", name);
      bodies.add(text);
    }
    assert.equal(bodies.size, 1, [...bodies].join("\n"));
    // A token whose signature verified may be told it expired: the browser module refreshes on it.
    const expired = handMade({ alg: "HS256" }, { ...claims, exp: nowSecs() - 60 });
    const res = await fetch(`${edge.url}/docs/projects/1?token=${encodeURIComponent(expired)}`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "token_expired");
  });

  it("an owner's GET /docs and query of a collection with many owners answer exactly that owner's documents", async () => {
    // Forty owners' projects in one collection: the feed reads an owner's in SQL (over an
    // index on user_id), and what it answers must be exactly theirs, no more, no fewer.
    const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const owners = Array.from({ length: 40 }, (_, i) => `owner${i}_${tag}`);
    const base = 300_000 + Math.floor(Math.random() * 600_000);
    const expected = new Map(owners.map((o) => [o, []]));
    const sends = Array.from({ length: 200 }, (_, i) => {
      const owner = owners[(i * 7) % owners.length];
      expected.get(owner).push(`projects/${base + i}`);
      return twinActorEvent("project.processing", { project_id: base + i, user_id: owner, progress: i % 100 });
    });
    // A project whose user_id is no string, and one without a user_id: nobody's.
    sends.push(twinActorEvent("project.processing", { project_id: base + 500, user_id: 7, progress: 1 }));
    sends.push(twinActorEvent("project.processing", { project_id: base + 501, progress: 1 }));
    for (let i = 0; i < sends.length; i += 16) {
      const statuses = await Promise.all(sends.slice(i, i + 16).map(async (event) => (await deliver(edge, ...TWIN, event)).status));
      assert.deepEqual(statuses, statuses.map(() => 200));
    }
    for (const owner of [owners[0], owners[13], owners[39]]) {
      const token = await createToken({ tenant: "demo", sub: owner, owner: { projects: "user_id" }, secret: DEMO.TOKEN_SECRET });
      const res = await fetch(`${edge.url}/docs/projects?token=${token}`);
      assert.equal(res.status, 200);
      const { docs } = await res.json();
      assert.deepEqual(docs.map((d) => d.path).sort(), [...expected.get(owner)].sort(), owner);
      assert.ok(docs.every((d) => d.data.user_id === owner), owner);

      const sub = await Subscriber.connect(edge, token);
      sub.listen(1, { collection: "projects", where: [{ field: "user_id", op: "==", value: owner }] });
      const snapshot = await sub.next((f) => f.type === "snapshot" && f.id === 1);
      assert.deepEqual(snapshot.docs.map((d) => d.path).sort(), [...expected.get(owner)].sort(), `${owner}, query`);
      // Narrower than the owner filter: still only theirs, and only what the query holds.
      sub.listen(2, { collection: "projects", where: [{ field: "user_id", op: "==", value: owner }, { field: "progress", op: ">=", value: 50 }] });
      const narrower = await sub.next((f) => f.type === "snapshot" && f.id === 2);
      assert.ok(narrower.docs.every((d) => d.data.user_id === owner && d.data.progress >= 50), JSON.stringify(narrower.docs));
      assert.deepEqual(narrower.docs.map((d) => d.path).sort(),
        docs.filter((d) => d.data.progress >= 50).map((d) => d.path).sort(), `${owner}, narrower query`);
      await sub.close();
    }
    // A token that reads the whole collection still reads every owner's.
    const all = await createToken({ tenant: "demo", scopes: ["projects/*"], secret: DEMO.TOKEN_SECRET });
    const { docs } = await (await fetch(`${edge.url}/docs/projects?token=${all}`)).json();
    const paths = new Set(docs.map((d) => d.path));
    for (const id of [base, base + 199, base + 500, base + 501]) assert.ok(paths.has(`projects/${id}`), String(id));
  });

  it("createToken explains what it needs", async () => {
    await assert.rejects(createToken({ tenant: "demo", scopes: [], secret: "s" }), /would grant nothing/);
    await assert.rejects(createToken({ tenant: "demo", owner: { projects: "user_id" }, secret: "s" }), /owner scopes need sub/);
    await assert.rejects(createToken({ tenant: "demo", owner: { projects: "" }, sub: "u", secret: "s" }), /owner must map/);
    await assert.rejects(createToken({ tenant: "demo", scopes: ["*"], secret: "" }), /TOKEN_SECRET/);
    await assert.rejects(createToken({ tenant: "demo", scopes: ["*"], secret: "s", expiresIn: "soon" }), /expiresIn/);
    const token = await createToken({ tenant: "demo", scopes: ["*"], secret: "new,old", now: 1_700_000_000_000, expiresIn: 60 });
    const [, payload] = token.split(".");
    assert.deepEqual(JSON.parse(Buffer.from(payload, "base64url")), { tenant: "demo", scopes: ["*"], exp: 1_700_000_060, iat: 1_700_000_000 });
    const input = token.slice(0, token.lastIndexOf("."));
    assert.equal(token.split(".")[2], createHmac("sha256", "new").update(input).digest("base64url"), "the first secret of a rotation signs");
    const owned = await createToken({ tenant: "demo", sub: "alice", owner: { projects: "user_id" }, secret: "s", now: 1_700_000_000_000 });
    assert.deepEqual(JSON.parse(Buffer.from(owned.split(".")[1], "base64url")),
      { tenant: "demo", scopes: [], sub: "alice", owner: { projects: "user_id" }, exp: 1_700_000_900, iat: 1_700_000_000 });
  });

  it("an owner-scoped token from createToken reads its owner's documents and nothing of anyone else's", async () => {
    const id = () => String(9200 + Math.floor(Math.random() * 700));
    const [mine, theirs] = [id(), id()];
    for (const [projectId, user] of [[mine, "alice"], [theirs, "bob"]]) {
      assert.equal((await deliver(edge, ...TWIN, twinActorEvent("project.processing", { project_id: projectId, user_id: user, progress: 5 }))).status, 200);
    }
    const token = await createToken({ tenant: "demo", sub: "alice", owner: { projects: "user_id" }, secret: DEMO.TOKEN_SECRET });
    const get = (path) => fetch(`${edge.url}/docs/${path}?token=${token}`);
    assert.equal((await get(`projects/${mine}`)).status, 200);
    const other = await get(`projects/${theirs}`);
    assert.equal(other.status, 404, "another owner's document is not found, as if it did not exist");
    assert.doesNotMatch(await other.text(), /bob/);
    const { docs } = await (await get("projects")).json();
    assert.ok(docs.length > 0 && docs.every((d) => d.data.user_id === "alice"), JSON.stringify(docs));
    assert.equal((await get("voice_clones")).status, 403);

    const sub = await Subscriber.connect(edge, token);
    sub.listen(1, { collection: "projects", where: [{ field: "user_id", op: "==", value: "alice" }] });
    const snapshot = await sub.next((f) => f.type === "snapshot" && f.id === 1);
    assert.ok(snapshot.docs.some((d) => d.path === `projects/${mine}`) && snapshot.docs.every((d) => d.data.user_id === "alice"));
    sub.listen(2, { collection: "projects" });
    const denied = await sub.next((f) => f.type === "error" && f.id === 2);
    assert.equal(denied.code, "permission-denied");
    assert.match(denied.message, /where\("user_id", "==", <uid>\)/);
    await sub.close();
  });
});
