//! The identity check end to end: configuration, keys and claims as a Worker meets them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::strategy::Just;
use serde_json::{json, Value};

use super::*;
use crate::source::ConfigError;
use crate::token::INVALID_TOKEN_MESSAGE;

const NOW: i64 = 1_800_000_000;

fn providers() -> Vec<IdentityProvider> {
    load_identity(
        &json!([
            {"tenant": "demo", "issuer": "https://securetoken.google.com/demo-project", "audience": "demo-project",
             "jwks_url": "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
             "owner": {"projects": "user_id"}},
            {"tenant": "acme", "issuer": "https://acme.eu.auth0.com/", "audience": "https://api.acme.test",
             "jwks_url": "https://acme.eu.auth0.com/.well-known/jwks.json", "scopes": ["announcements/*"],
             "scopes_claim": "permissions"}
        ])
        .to_string(),
    )
    .expect("valid configuration")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token of `alg` with `claims`, signed with `signature_len` bytes of nothing: the
/// claim checks come before (and without) the signature's.
fn token(alg: &str, kid: Option<&str>, claims: Value, signature_len: usize) -> String {
    let header = match kid {
        Some(kid) => json!({"alg": alg, "kid": kid, "typ": "JWT"}),
        None => json!({"alg": alg, "typ": "JWT"}),
    };
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(&vec![7; signature_len])
    )
}

/// The claims of a Firebase Auth ID token, as Firebase writes them.
fn firebase_claims(uid: &str) -> Value {
    json!({
        "iss": "https://securetoken.google.com/demo-project", "aud": "demo-project",
        "auth_time": NOW - 100, "user_id": uid, "sub": uid, "iat": NOW - 100, "exp": NOW + 3500,
        "email": "ada@example.com", "email_verified": false,
        "firebase": {"identities": {"email": ["ada@example.com"]}, "sign_in_provider": "password"}
    })
}

fn begin(token: &str, tenant: Option<&str>) -> Result<TokenClaims, TokenError> {
    let providers = providers();
    let jwt = Jwt::parse(token)?;
    begin_identity(jwt, &providers, tenant, UnixTime::from_secs(NOW)).and_then(|t| t.accept(true))
}

#[test]
fn a_firebase_id_token_maps_to_its_tenant_with_owner_scopes_for_its_uid() {
    let claims = begin(&token("RS256", Some("k1"), firebase_claims("uid_ada"), 256), None).expect("valid");
    assert_eq!(claims.tenant, "demo");
    assert_eq!(claims.sub.as_deref(), Some("uid_ada"));
    assert_eq!(claims.exp, NOW + 3500);
    assert!(claims.scopes.is_empty());
    assert_eq!(claims.owner_guard("projects").map(|g| g.value), Some(json!("uid_ada")));
    assert_eq!(claims.owner_guard("voices"), None);
}

#[test]
fn an_unverified_signature_gives_no_claims() {
    let providers = providers();
    let t = token("RS256", Some("k1"), firebase_claims("uid_ada"), 256);
    let pending =
        begin_identity(Jwt::parse(&t).expect("jwt"), &providers, None, UnixTime::from_secs(NOW)).expect("claims hold");
    assert_eq!(pending.accept(false), Err(TokenError::Forged));
}

#[test]
fn every_claim_that_does_not_hold_is_refused_before_any_key_is_fetched() {
    let refused = |change: Value| {
        let mut claims = firebase_claims("uid_ada");
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        begin(&token("RS256", Some("k1"), claims, 256), None).expect_err("refused")
    };
    assert!(matches!(refused(json!({"iss": "https://securetoken.google.com/other"})), TokenError::UnknownIssuer(_)));
    assert!(matches!(refused(json!({"iss": null})), TokenError::Claim { claim: "iss", .. }));
    assert!(matches!(refused(json!({"aud": "other-project"})), TokenError::Claim { claim: "aud", .. }));
    assert!(matches!(refused(json!({"aud": null})), TokenError::Claim { claim: "aud", .. }));
    assert_eq!(refused(json!({"exp": NOW - 5})), TokenError::Expired(5));
    assert!(matches!(refused(json!({"exp": null})), TokenError::Claim { claim: "exp", .. }));
    assert!(matches!(refused(json!({"exp": "soon"})), TokenError::Claim { claim: "exp", .. }));
    assert!(matches!(refused(json!({"nbf": NOW + 120})), TokenError::Claim { claim: "nbf", .. }));
    assert!(matches!(refused(json!({"iat": NOW + 120})), TokenError::Claim { claim: "iat", .. }));
    assert!(matches!(refused(json!({"sub": null})), TokenError::Claim { claim: "sub", .. }));
    assert!(matches!(refused(json!({"sub": ""})), TokenError::Claim { claim: "sub", .. }));
    assert!(matches!(refused(json!({"sub": 42})), TokenError::Claim { claim: "sub", .. }));
    assert!(matches!(refused(json!({"sub": "x".repeat(300)})), TokenError::Claim { claim: "sub", .. }));
    // Within the leeway, a clock a little ahead is no reason to refuse.
    let mut claims = firebase_claims("uid_ada");
    claims["nbf"] = json!(NOW + 10);
    claims["iat"] = json!(NOW + 10);
    assert!(begin(&token("RS256", Some("k1"), claims, 256), None).is_ok());
}

#[test]
fn an_expired_token_is_answered_as_expired_only_once_its_signature_verifies() {
    let providers = providers();
    let now = UnixTime::from_secs(NOW);
    let mut claims = firebase_claims("uid_ada");
    claims["exp"] = json!(NOW - 5);
    let t = token("RS256", Some("made-up"), claims.clone(), 256);
    let pending = || begin_identity(Jwt::parse(&t).expect("jwt"), &providers, None, now).expect("claims hold");
    assert!(!pending().may_refetch_keys(), "an expired token's kid prompts no refetch of the keys");
    assert_eq!(pending().accept(false), Err(TokenError::Forged));
    assert_eq!(pending().accept(false).map_err(|e| e.public()), Err(TokenError::Invalid));
    assert_eq!(pending().accept(true), Err(TokenError::Expired(5)));
    // Expired and another claim wrong: refused before the signature, as unverified.
    for (claim, value) in [("aud", json!("other-project")), ("sub", json!("")), ("nbf", json!(NOW + 120))] {
        let mut wrong = claims.clone();
        wrong[claim] = value;
        let refused = begin(&token("RS256", Some("k1"), wrong, 256), None).expect_err("refused");
        assert!(refused.is_unverified(), "{claim}: {refused:?}");
    }
    let live = token("RS256", Some("k1"), firebase_claims("uid_ada"), 256);
    assert!(begin_identity(Jwt::parse(&live).expect("jwt"), &providers, None, now)
        .expect("claims hold")
        .may_refetch_keys());
}

#[test]
fn every_refusal_before_the_signature_is_one_public_answer() {
    let claims = |change: Value| {
        let mut claims = firebase_claims("uid_ada");
        for (k, v) in change.as_object().expect("object") {
            claims[k] = v.clone();
        }
        claims
    };
    let unknown_issuer = claims(json!({"iss": "https://evil.test/"}));
    let refusals = [
        begin(&token("RS256", Some("k1"), unknown_issuer, 256), None),
        // An issuer that does not serve the tenant asked for.
        begin(&token("RS256", Some("k1"), claims(json!({})), 256), Some("acme")),
        begin(&token("RS256", Some("k1"), claims(json!({"aud": "other-project"})), 256), None),
        begin(&token("RS256", Some("k1"), claims(json!({"sub": 42})), 256), None),
        begin(&token("PS256", Some("k1"), claims(json!({})), 256), None),
        begin("not.a.token", None),
    ];
    let answers: Vec<_> = refusals.iter().map(|r| r.as_ref().map_err(TokenError::public)).collect();
    for (answer, refusal) in answers.iter().zip(&refusals) {
        assert_eq!(*answer, Err(TokenError::Invalid), "{refusal:?}");
    }
    // The precise reasons stay apart, for the log.
    let reasons: std::collections::BTreeSet<_> =
        refusals.iter().map(|r| r.as_ref().expect_err("refused").to_string()).collect();
    assert_eq!(reasons.len(), refusals.len());
}

/// The public answer to a token the platform could not verify: what `check_token`
/// refuses, or what a pending token's failed signature check gives.
fn unverified_answer(token: &str, tenant: Option<&str>, now: i64) -> Result<(), TokenError> {
    let providers = providers();
    let secrets = [Secret::from_bytes("token-secret")];
    match check_token(token, &secrets, &providers, tenant, UnixTime::from_secs(now)) {
        Ok(CheckedToken::Verified(claims)) => panic!("a random token verified: {claims:?}"),
        Ok(CheckedToken::Pending(pending)) => pending.accept(false).map(drop),
        Err(e) => Err(e),
    }
    .map_err(|e| e.public())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// Whatever failed before a signature was verified (shape, algorithm, issuer,
    /// tenant, audience, expiry, subject, key, signature), the answer is one and the same.
    #[test]
    fn every_unverified_token_gets_the_one_public_answer(
        alg in proptest::sample::select(vec!["RS256", "ES256", "HS256", "none", "PS256", "HS512", ""]),
        kid in proptest::option::of("[a-z0-9]{0,8}"),
        iss in proptest::sample::select(vec![
            "https://securetoken.google.com/demo-project", "https://acme.eu.auth0.com/", "https://evil.test/", "",
        ]),
        aud in proptest::sample::select(vec!["demo-project", "https://api.acme.test", "other", ""]),
        exp in proptest::prop_oneof![Just(NOW + 3600), Just(NOW - 5), Just(NOW), -(1i64 << 40)..(1i64 << 40)],
        sub in proptest::prop_oneof!["[a-z_0-9]{0,12}", Just("x".repeat(300))],
        tenant_claim in "[a-z]{0,6}",
        tenant in proptest::option::of(proptest::sample::select(vec!["demo", "acme", "globex"])),
        signature_len in proptest::prop_oneof![Just(0usize), Just(32), Just(64), Just(256), 0usize..600],
        garbage in proptest::prop_oneof![".{0,80}", "[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}"],
        shaped in proptest::bool::ANY,
    ) {
        use proptest::prelude::*;
        let claims = json!({"iss": iss, "aud": aud, "exp": exp, "sub": sub, "tenant": tenant_claim,
                            "scopes": ["*"], "iat": NOW - 10});
        let token = if shaped { token(alg, kid.as_deref(), claims, signature_len) } else { garbage };
        let answer = unverified_answer(&token, tenant, NOW);
        prop_assert_eq!(&answer, &Err(TokenError::Invalid));
        prop_assert_eq!(answer.expect_err("refused").to_string(), INVALID_TOKEN_MESSAGE);
    }
}

#[test]
fn check_token_sends_identity_tokens_to_the_providers_and_the_rest_to_token_secret() {
    let providers = providers();
    let secrets = [Secret::from_bytes("token-secret")];
    let now = UnixTime::from_secs(NOW);
    let id_token = token("RS256", Some("k1"), firebase_claims("uid_ada"), 256);
    assert!(matches!(check_token(&id_token, &secrets, &providers, None, now), Ok(CheckedToken::Pending(_))));
    // Without providers, an RS256 token is an algorithm TOKEN_SECRET does not sign with.
    assert!(matches!(check_token(&id_token, &secrets, &[], None, now), Err(TokenError::Algorithm(_))));
    let hs = crate::token::mint_token(&TokenClaims::new("demo", vec!["*".into()], NOW + 60), &secrets[0]);
    assert!(matches!(check_token(&hs, &secrets, &providers, None, now), Ok(CheckedToken::Verified(_))));
    assert_eq!(check_token("junk", &secrets, &providers, None, now).map(drop), Err(TokenError::Malformed));
}

#[test]
fn only_rs256_and_es256_with_a_whole_signature_are_identity_tokens() {
    let claims = firebase_claims("uid_ada");
    assert!(begin(&token("ES256", Some("k1"), claims.clone(), 64), None).is_ok());
    assert_eq!(begin(&token("ES256", Some("k1"), claims.clone(), 65), None), Err(TokenError::Malformed));
    assert_eq!(begin(&token("RS256", Some("k1"), claims.clone(), 64), None), Err(TokenError::Malformed));
    for alg in ["HS256", "none", "RS512", "PS256", "EdDSA"] {
        assert!(!is_identity_token(&Jwt::parse(&token(alg, None, claims.clone(), 32)).expect("jwt")), "{alg}");
        assert!(matches!(begin(&token(alg, None, claims.clone(), 256), None), Err(TokenError::Algorithm(_))), "{alg}");
    }
}

#[test]
fn audiences_as_lists_and_scopes_from_a_claim_are_read() {
    let claims = json!({"iss": "https://acme.eu.auth0.com/", "aud": ["https://api.acme.test", "https://acme.eu.auth0.com/userinfo"],
                        "sub": "auth0|42", "exp": NOW + 60, "permissions": ["projects/42", "../../etc", "users/*"]});
    let got = begin(&token("RS256", Some("a"), claims.clone(), 256), Some("acme")).expect("valid");
    assert_eq!(got.tenant, "acme");
    assert_eq!(got.scopes, ["announcements/*", "projects/42", "users/*"], "a claimed scope that is no path is dropped");
    assert!(got.owner.is_empty());
    // The tenant the request asks for must be one this issuer's tokens read.
    assert!(matches!(
        begin(&token("RS256", Some("a"), claims, 256), Some("demo")),
        Err(TokenError::Claim { claim: "iss", .. })
    ));
}

fn rsa_key(kid: &str) -> Value {
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(&[0xc1; 256]), "e": "AQAB"})
}

fn ec_key(kid: &str) -> Value {
    json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])})
}

#[test]
fn a_token_gets_the_key_its_kid_names_only_if_that_key_fits_its_algorithm() {
    let set = JwkSet::parse(
        json!({"keys": [rsa_key("r1"), ec_key("e1"), {"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "o1"}, "stray",
                        {"kty": "RSA", "kid": "small", "n": b64(&[0xc1; 128]), "e": "AQAB"},
                        {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(&[0xc1; 256]), "e": "AQAB"}]})
        .to_string()
        .as_bytes(),
    )
    .expect("jwks");
    assert_eq!(set.key_for(Some("r1"), KeyAlgorithm::Rs256).and_then(|k| k.kid.as_deref()), Some("r1"));
    assert_eq!(set.key_for(Some("e1"), KeyAlgorithm::Es256).and_then(|k| k.kid.as_deref()), Some("e1"));
    // An RSA key never verifies an ES256 token, nor an EC key an RS256 one.
    assert_eq!(set.key_for(Some("r1"), KeyAlgorithm::Es256), None);
    assert_eq!(set.key_for(Some("e1"), KeyAlgorithm::Rs256), None);
    assert_eq!(set.key_for(Some("small"), KeyAlgorithm::Rs256), None, "RSA under 2048 bits");
    assert_eq!(set.key_for(Some("enc"), KeyAlgorithm::Rs256), None, "an encryption key");
    assert_eq!(set.key_for(Some("gone"), KeyAlgorithm::Rs256), None);
    // Without a kid, only a single fitting key is used.
    assert!(set.key_for(None, KeyAlgorithm::Es256).is_some());
    let two = JwkSet::parse(json!({"keys": [rsa_key("a"), rsa_key("b")]}).to_string().as_bytes()).expect("jwks");
    assert_eq!(two.key_for(None, KeyAlgorithm::Rs256), None);
    assert_eq!(JwkSet::parse(b"{\"keys\": 3}"), Err(JwksError::Malformed));
    assert_eq!(JwkSet::parse(&vec![b' '; MAX_JWKS_BYTES + 1]), Err(JwksError::TooLarge));
}

#[test]
fn a_configuration_that_cannot_work_is_refused_with_the_entry_and_the_fix() {
    let entry = |change: Value| {
        let mut e = json!({"tenant": "demo", "issuer": "https://idp.test/", "audience": "a",
                           "jwks_url": "https://idp.test/jwks.json", "owner": {"projects": "user_id"}});
        for (k, v) in change.as_object().expect("object") {
            e[k] = v.clone();
        }
        load_identity(&json!([e]).to_string())
    };
    assert!(entry(json!({})).is_ok());
    assert!(entry(json!({"jwks_url": "http://127.0.0.1:8788/jwks.json"})).is_ok());
    for bad_entry in [
        json!({"jwks_url": "http://idp.test/jwks.json"}),
        json!({"jwks_url": "file:///etc/passwd"}),
        json!({"audience": ""}),
        json!({"issuer": " "}),
        json!({"tenant": ""}),
        json!({"scopes": ["../x"]}),
        json!({"owner": {"projects": ""}}),
        json!({"owner": {"bad/collection": "user_id"}}),
        json!({"owner": {}}),
        json!({"extra": true}),
    ] {
        let err = entry(bad_entry.clone()).expect_err("refused");
        assert!(err.to_string().contains("HOOKFEED_IDENTITY"), "{bad_entry}: {err}");
    }
    assert_eq!(load_identity("").expect("unset"), []);
    assert!(matches!(load_identity("{"), Err(ConfigError::InvalidIdentityJson(_))));
}
