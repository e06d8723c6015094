// A customer's own identity provider, for tests: signing keys, a JWKS endpoint on
// 127.0.0.1 whose keys can be swapped and whose requests are counted, and ID tokens minted
// as an IdP (or Firebase Auth) mints them. Written with jose and node:crypto, independently
// of hookfeed-core's verification, so the end-to-end tests prove both sides agree.

import { createHmac, randomBytes, webcrypto } from "node:crypto";
import { createServer } from "node:http";

import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";

/** The generic provider of the tests: issuer and audience. */
export const IDP = { issuer: "https://idp.test/", audience: "hookfeed-tests" };

/** The Firebase project whose Auth signs the Firebase-shaped tokens. */
export const FIREBASE_PROJECT = "demo-project";
export const FIREBASE = { issuer: `https://securetoken.google.com/${FIREBASE_PROJECT}`, audience: FIREBASE_PROJECT };

const nowSecs = () => Math.floor(Date.now() / 1000);
const part = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/**
 * A key pair an identity provider signs with: `alg` is the JWS algorithm jose generates it
 * for (RS256: RSA 2048; ES256: EC P-256; ES384: EC P-384), `jwk` its public half as the
 * provider publishes it in its JWKS, named by `kid`. `jwkAlg: false` leaves the optional
 * `alg` member out of the JWK (RFC 7517 §4.4), as many providers do.
 */
export async function signingKey(alg, { kid = randomBytes(20).toString("hex"), jwkAlg = true } = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, use: "sig", ...(jwkAlg ? { alg } : {}) };
  return { alg, kid, privateKey, publicKey, jwk };
}

/**
 * Serves `GET /jwks.json` on 127.0.0.1 with the public keys of `keys`; `serve(keys)`
 * swaps them (a key rotation), `requests` counts the fetches of the JWKS.
 */
export async function startJwksServer(keys) {
  let served = keys;
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.method !== "GET" || new URL(req.url, "http://jwks").pathname !== "/jwks.json") {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
      return;
    }
    requests++;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ keys: served.map((key) => key.jwk) }));
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    /** How many times the JWKS was fetched so far. */
    get requests() { return requests; },
    /** Publishes `keys` from now on. */
    serve(keys) { served = keys; },
    close() {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** The claims of an ID token of the generic provider for `sub`, valid for an hour; `extra` overrides. */
export function idpClaims(sub, extra = {}) {
  const now = nowSecs();
  return { iss: IDP.issuer, aud: IDP.audience, sub, iat: now, exp: now + 3600, ...extra };
}

/** `claims` signed by `key` with jose: header `{alg, kid, typ: "JWT"}`. */
export function idToken(key, claims) {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(key.privateKey);
}

/**
 * The claims of a Firebase Auth ID token for `uid` (email and password sign-in), as
 * `auth.currentUser.getIdToken()` returns them. `issuedSecs` back-dates it (an hour or more
 * ago: an expired token).
 */
export function firebaseClaims(uid, { projectId = FIREBASE_PROJECT, email = `${uid}@example.com`, issuedSecs = nowSecs() } = {}) {
  return {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    auth_time: issuedSecs - 30,
    user_id: uid,
    sub: uid,
    iat: issuedSecs,
    exp: issuedSecs + 3600,
    email,
    email_verified: false,
    firebase: { identities: { email: [email] }, sign_in_provider: "password" },
  };
}

/** A Firebase Auth ID token for `uid`, signed by `key`: header `{alg: "RS256", kid, typ: "JWT"}`. */
export function firebaseIdToken(key, uid, options) {
  return idToken(key, firebaseClaims(uid, options));
}

/**
 * A JWT from a header and claims as given, signed the way `signer` says, whatever the
 * header claims: a key from `signingKey` (its private key signs with the hash the header's
 * `alg` names, SHA-256 by default), `{ hmac: bytes }` for HMAC-SHA256 with those bytes as
 * the secret, or `null` for an empty signature.
 */
export async function handMadeJwt(header, claims, signer) {
  const input = `${part(header)}.${part(claims)}`;
  if (!signer) return `${input}.`;
  if (signer.hmac) return `${input}.${createHmac("sha256", signer.hmac).update(input).digest("base64url")}`;
  const bits = /^[A-Z]{2}(256|384|512)$/.exec(header.alg ?? "")?.[1] ?? "256";
  const { privateKey } = signer;
  const params = privateKey.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: `SHA-${bits}` } : { name: privateKey.algorithm.name };
  const signature = await webcrypto.subtle.sign(params, privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString("base64url")}`;
}

/** `token` with its claims replaced by `claims` and its header and signature kept. */
export function withClaims(token, claims) {
  const [header, , signature] = token.split(".");
  return `${header}.${part(claims)}.${signature}`;
}

/**
 * The public key of `key` as the bytes an algorithm-confusion attack uses as an HMAC
 * secret: its SPKI PEM (with and without the final newline), its DER, its JWK as published.
 */
export async function publicKeySecrets(key) {
  const pem = await exportSPKI(key.publicKey);
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return {
    "SPKI PEM": Buffer.from(pem.endsWith("\n") ? pem : `${pem}\n`),
    "SPKI PEM without its final newline": Buffer.from(pem.trimEnd()),
    "SPKI DER": der,
    "JWK JSON": Buffer.from(JSON.stringify(key.jwk)),
  };
}
