//! Subscriber tokens: standard JWTs (RFC 7519) signed with HS256 and `TOKEN_SECRET`,
//! claiming a tenant, the paths they grant and an expiry.
//!
//! Minted by the customer's backend with any JWT library (or `hookfeed/server`'s
//! `createToken`, or `hookfeed token` in development) and checked by the Worker before a
//! WebSocket upgrade; the feed then checks every listen against the claims. Only `HS256`
//! is checked here: a token whose header names `none` or any other algorithm is refused,
//! whatever it carries. RS256/ES256 tokens of a configured identity provider (Firebase
//! Auth, Auth0, …) are [`identity`](crate::identity)'s, and end as the same [`TokenClaims`].
//!
//! Besides paths, a token may grant documents by owner ([`TokenClaims::owner`]):
//! "documents of `projects` whose `user_id` is my `sub`", checked like a Firestore rule on
//! every listen, snapshot and change ([`TokenClaims::access`]).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mac::{hmac_sha256, matches_any_secret, Algorithm, Tag};
use crate::path::DocPath;
use crate::protocol::Target;
use crate::query::{Filter, FilterOp};
use crate::secret::Secret;
use crate::time::UnixTime;

use hookfeed_wire::token::parts;
use hookfeed_wire::ErrorCode;

/// Longest token accepted.
pub const MAX_TOKEN_LEN: usize = hookfeed_wire::token::MAX_LEN;

/// The only algorithm a subscriber token may be signed with.
pub const ALGORITHM: &str = "HS256";

/// What a token grants: its claims. Claims hookfeed does not read (`iss`, `jti`, …) are
/// allowed and ignored, as JWT libraries add them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The tenant (feed) it is for.
    pub tenant: String,
    /// Paths it may listen to: `projects/42`, `projects/*` (a collection), or `*`.
    pub scopes: Vec<String>,
    /// Expiry, Unix seconds (JWT's `exp`).
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    /// Who it was minted for (JWT's `sub`): the customer's user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// When it was minted, Unix seconds (JWT's `iat`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "optional_numeric_date")]
    pub iat: Option<i64>,
    /// Owner scopes: collection → the field holding the owner's id. `{"projects":
    /// "user_id"}` grants the documents of `projects` whose `user_id` equals `sub`, and
    /// nothing of `projects` else (see [`TokenClaims::access`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owner: BTreeMap<String, String>,
}

impl TokenClaims {
    /// Claims granting `scopes` of `tenant` until `exp`.
    pub fn new(tenant: impl Into<String>, scopes: Vec<String>, exp: i64) -> Self {
        Self { tenant: tenant.into(), scopes, exp, sub: None, iat: None, owner: BTreeMap::new() }
    }
}

/// A JWT NumericDate: seconds, possibly with a fraction (rounded down).
fn numeric_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let seconds = f64::deserialize(deserializer)?;
    if seconds.is_finite() && seconds.abs() < 1e15 {
        Ok(seconds.floor() as i64)
    } else {
        Err(serde::de::Error::custom("not a NumericDate"))
    }
}

fn optional_numeric_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    numeric_date(deserializer).map(Some)
}

/// The JWT header, as far as hookfeed reads it.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// Longest signature a token may carry: an RSA-8192 signature.
const MAX_SIGNATURE_LEN: usize = 1024;

/// A compact JWT split and decoded, its signature not yet checked: what every kind of
/// subscriber token shares before its algorithm's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwt<'a> {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`: which of the issuer's keys signed it.
    pub kid: Option<String>,
    /// The signed input, `<header>.<claims>` as sent.
    pub signed: &'a str,
    /// The signature's bytes.
    pub signature: Vec<u8>,
    claims_json: Vec<u8>,
}

impl<'a> Jwt<'a> {
    /// Splits and decodes `token`; refuses anything but three base64url parts whose header
    /// is a JSON object naming an algorithm.
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        let (signed, header_b64, claims_b64, signature_b64) = parts(token).ok_or(TokenError::Malformed)?;
        let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenError::Malformed)?;
        let header: Header = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if signature_b64.len() > MAX_SIGNATURE_LEN * 4 / 3 + 4 {
            return Err(TokenError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| TokenError::Malformed)?;
        let claims_json = URL_SAFE_NO_PAD.decode(claims_b64).map_err(|_| TokenError::Malformed)?;
        Ok(Self { alg: header.alg, kid: header.kid, signed, signature, claims_json })
    }

    /// The claims, read as `T`: a token whose claims do not fit is malformed.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, TokenError> {
        serde_json::from_slice(&self.claims_json).map_err(|_| TokenError::Malformed)
    }
}

/// The one message every token refused before its signature was verified is answered
/// with ([`TokenError::Invalid`]), whatever the reason: a stranger learns nothing of which
/// issuers, audiences, tenants or algorithms are configured. The reason goes to the
/// service's log ([`TokenError::public`]).
pub const INVALID_TOKEN_MESSAGE: &str =
    "token is not valid here: mint a fresh one for this service (the reason is in the service's log)";

/// Why a token or a listen under it is refused.
///
/// The variants say precisely why, for the service's log. What a client is answered is
/// [`TokenError::public`]: one [`Invalid`](TokenError::Invalid) for every refusal before
/// the signature was verified, the precise error after.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token at all.
    #[error(
        "token is malformed: expected a JWT (`<header>.<claims>.<signature>`, base64url) with tenant, scopes and exp"
    )]
    Malformed,
    /// A JWT signed with an algorithm hookfeed does not accept here (or with none).
    #[error(
        "token algorithm `{0}` is not accepted: sign subscriber tokens with HS256 and TOKEN_SECRET, \
         or configure your identity provider's RS256/ES256 tokens in HOOKFEED_IDENTITY"
    )]
    Algorithm(String),
    /// The signature does not match: forged, altered, or minted with another secret.
    #[error("token signature is invalid: it was altered or minted with another TOKEN_SECRET")]
    Forged,
    /// The token has expired.
    #[error("token expired {0} s ago: mint a fresh one")]
    Expired(i64),
    /// The token is for another tenant.
    #[error("token is for tenant `{token}`, not `{expected}`")]
    WrongTenant {
        /// The token's tenant.
        token: String,
        /// The tenant asked for.
        expected: String,
    },
    /// The token does not grant the path.
    #[error("token does not grant `{0}`")]
    OutOfScope(String),
    /// An owner-scoped token's query of the collection lacks the owner filter, so it could
    /// read other owners' documents (as in Firestore, rules are not filters).
    #[error(
        "token reads `{collection}` only where `{field}` is its subject: add where(\"{field}\", \"==\", <uid>) to the query"
    )]
    OwnerFilterMissing {
        /// The collection queried.
        collection: String,
        /// The owner field the query must filter on.
        field: String,
    },
    /// An RS256/ES256 token whose issuer is not configured.
    #[error("token issuer `{0}` is not configured: add it to HOOKFEED_IDENTITY")]
    UnknownIssuer(String),
    /// The issuer's keys (JWKS) hold no key the token's `kid` names, for its algorithm.
    #[error(
        "token was signed with a key the issuer does not publish (kid `{0}`): it was forged, or the key is retired"
    )]
    UnknownKey(String),
    /// A claim of an identity provider's token does not hold.
    #[error("token claim `{claim}` is refused: {reason}")]
    Claim {
        /// The claim (`aud`, `nbf`, `sub`, …).
        claim: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The issuer's keys could not be fetched, so the token could not be checked.
    #[error("the token issuer's keys (JWKS) cannot be fetched now: retry shortly")]
    KeysUnavailable,
    /// What a client is told of every token refused before its signature was verified
    /// (see [`TokenError::public`]); the precise reason is logged.
    #[error("{INVALID_TOKEN_MESSAGE}")]
    Invalid,
}

impl TokenError {
    /// The Firestore code a listen refused for this reason gets: the token is valid but
    /// does not reach the target (`permission-denied`, HTTP 403), or it is no valid token
    /// at all (`unauthenticated`, HTTP 401). Decided here for the feed's frames and the
    /// Worker's statuses alike.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::OutOfScope(_) | Self::WrongTenant { .. } | Self::OwnerFilterMissing { .. } => {
                ErrorCode::PermissionDenied
            }
            Self::KeysUnavailable => ErrorCode::Unavailable,
            Self::Malformed
            | Self::Algorithm(_)
            | Self::Forged
            | Self::Expired(_)
            | Self::UnknownIssuer(_)
            | Self::UnknownKey(_)
            | Self::Claim { .. }
            | Self::Invalid => ErrorCode::Unauthenticated,
        }
    }

    /// Whether the token was refused before its signature was verified: its shape, its
    /// algorithm, a claim checked before the signature (issuer, audience, tenant of an
    /// identity provider's token, …), its key, or the signature itself. Nothing the token
    /// says is proven then, so the answer must not depend on it. [`Expired`](Self::Expired)
    /// is only ever given for a verified signature (HS256 checks it after the MAC; an
    /// identity token's expiry is answered only once its signature verified,
    /// [`IdentityToken::accept`](crate::identity::IdentityToken::accept)).
    pub fn is_unverified(&self) -> bool {
        match self {
            Self::Malformed
            | Self::Algorithm(_)
            | Self::Forged
            | Self::UnknownIssuer(_)
            | Self::UnknownKey(_)
            | Self::Claim { .. }
            | Self::Invalid => true,
            Self::Expired(_)
            | Self::WrongTenant { .. }
            | Self::OutOfScope(_)
            | Self::OwnerFilterMissing { .. }
            | Self::KeysUnavailable => false,
        }
    }

    /// What a client is answered: [`Invalid`](Self::Invalid), the same status, code and
    /// message, for every [unverified](Self::is_unverified) refusal; the error itself
    /// otherwise. Log `self`, answer `self.public()`.
    pub fn public(&self) -> Self {
        if self.is_unverified() {
            Self::Invalid
        } else {
            self.clone()
        }
    }
}

impl From<&TokenError> for ErrorCode {
    fn from(error: &TokenError) -> Self {
        error.code()
    }
}

impl TokenClaims {
    /// Whether a scope grants document `path`.
    pub fn allows_document(&self, path: &DocPath) -> bool {
        self.scopes.iter().any(|scope| {
            scope == "*" || scope == path.as_str() || scope.strip_suffix("/*").is_some_and(|c| c == path.collection())
        })
    }

    /// Whether the token has expired at `now`.
    pub fn expired(&self, now: UnixTime) -> bool {
        self.exp <= now.as_secs()
    }

    /// What the token lets a listen of `target` see.
    ///
    /// - `Ok(None)`: all of it. A path scope grants the target, or the target is a query
    ///   that filters on the token's owner field by its `sub`: then the query's own filter
    ///   keeps every other owner's documents out of each snapshot and change.
    /// - `Ok(Some(guard))`: a document of an owner-scoped collection. It is shown only while
    ///   `guard` holds (`user_id == sub`): one that does not hold looks like one that does
    ///   not exist, and one that stops holding is removed from the listener's view, so a
    ///   listener learns nothing of another owner's documents, not even that one exists.
    /// - `Err`: a query of an owner-scoped collection without the owner filter
    ///   (`permission-denied`, as in Firestore: rules are not filters), or a target no
    ///   scope reaches.
    pub fn access(&self, target: &Target) -> Result<Option<Filter>, TokenError> {
        match target {
            Target::Document(path) if self.allows_document(path) => Ok(None),
            Target::Document(path) => {
                self.owner_guard(path.collection()).map(Some).ok_or_else(|| TokenError::OutOfScope(path.to_string()))
            }
            Target::Collection(q) if self.allows_collection(&q.collection) => Ok(None),
            Target::Collection(q) => {
                let Some(guard) = self.owner_guard(&q.collection) else {
                    return Err(TokenError::OutOfScope(format!("{}/*", q.collection)));
                };
                if q.filters.contains(&guard) {
                    Ok(None)
                } else {
                    Err(TokenError::OwnerFilterMissing { collection: q.collection.clone(), field: guard.field })
                }
            }
        }
    }

    /// Whether the token reads the whole of `target`, with no owner condition: only then
    /// may a listen resume with a delta (`since`), which names what changed and what was
    /// removed. A listen read through an owner scope gets a full snapshot instead, so that
    /// a resume reveals nothing of documents outside its view.
    pub fn resumes(&self, target: &Target) -> bool {
        match target {
            Target::Document(path) => self.allows_document(path),
            Target::Collection(q) => self.allows_collection(&q.collection),
        }
    }

    /// The condition an owner scope puts on `collection`'s documents: its owner field
    /// equals the token's `sub`. `None` without an owner scope for it, or without a `sub`.
    pub fn owner_guard(&self, collection: &str) -> Option<Filter> {
        let field = self.owner.get(collection)?;
        let sub = self.sub.as_ref().filter(|s| !s.is_empty())?;
        Some(Filter { field: field.clone(), op: FilterOp::Eq, value: Value::String(sub.clone()) })
    }

    /// Whether a scope grants the whole of `collection`.
    pub fn allows_collection(&self, collection: &str) -> bool {
        self.scopes.iter().any(|scope| scope == "*" || scope.strip_suffix("/*").is_some_and(|c| c == collection))
    }

    /// Refuses a document the token does not grant; a granted one may come with the
    /// owner condition it must meet ([`TokenClaims::access`]).
    pub fn authorize_document(&self, path: &DocPath) -> Result<Option<Filter>, TokenError> {
        self.access(&Target::Document(path.clone()))
    }

    /// What a token may read of a whole collection without a query: all of it
    /// (`Ok(None)`), only its owner's documents (`Ok(Some(guard))`), or nothing. For
    /// clients that poll `GET /docs/{collection}`, which has no `where`.
    pub fn authorize_collection(&self, collection: &str) -> Result<Option<Filter>, TokenError> {
        if self.allows_collection(collection) {
            return Ok(None);
        }
        self.owner_guard(collection).map(Some).ok_or_else(|| TokenError::OutOfScope(format!("{collection}/*")))
    }
}

/// Checks a scope: `*`, `collection/*` or a document path `collection/id`. The error
/// says why not.
pub fn check_scope(scope: &str) -> Result<(), String> {
    if scope == "*" {
        return Ok(());
    }
    match scope.strip_suffix("/*") {
        Some(collection) => crate::path::check_collection(collection).map_err(|e| e.to_string()),
        None => scope.parse::<DocPath>().map(drop).map_err(|e| e.to_string()),
    }
}

/// The header of every token hookfeed mints.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Mints a token for `claims` with `secret`: a JWT signed with HS256.
pub fn mint_token(claims: &TokenClaims, secret: &Secret) -> String {
    let claims_json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER_JSON), URL_SAFE_NO_PAD.encode(claims_json));
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, &[signed.as_bytes()]).as_bytes());
    format!("{signed}.{signature}")
}

/// Checks a token: its shape, that its header names HS256, its signature (under any of
/// `secrets`, in constant time), its expiry and, when given, its tenant.
pub fn verify_token(
    token: &str,
    secrets: &[Secret],
    tenant: Option<&str>,
    now: UnixTime,
) -> Result<TokenClaims, TokenError> {
    let jwt = Jwt::parse(token)?;
    if jwt.alg != ALGORITHM {
        return Err(TokenError::Algorithm(crate::refusal::quote(&jwt.alg)));
    }
    if jwt.signature.len() != Algorithm::Sha256.tag_len() {
        return Err(TokenError::Malformed);
    }
    if !matches_any_secret(secrets, &[jwt.signed.as_bytes()], &Tag::from_slice(&jwt.signature)) {
        return Err(TokenError::Forged);
    }
    let claims: TokenClaims = jwt.claims()?;
    let left = claims.exp.saturating_sub(now.as_secs());
    if left <= 0 {
        return Err(TokenError::Expired(-left));
    }
    if let Some(tenant) = tenant.filter(|t| *t != claims.tenant) {
        return Err(TokenError::WrongTenant { token: claims.tenant, expected: crate::refusal::quote(tenant) });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims::new("acme", vec!["projects/42".into(), "users/*".into()], 2_000)
    }

    /// A JWT of `header` and `claims` as given, signed with HS256 and `secret()`.
    fn jwt(header: &str, claims: &str) -> String {
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(hmac_sha256(&secret(), &[signed.as_bytes()]).as_bytes()))
    }

    fn secret() -> Secret {
        Secret::from_bytes("token-secret")
    }

    #[test]
    fn a_minted_token_verifies_and_grants_its_scopes() {
        let token = mint_token(&claims(), &secret());
        let got = verify_token(&token, &[secret()], Some("acme"), UnixTime::from_secs(1_000)).expect("valid");
        assert_eq!(got, claims());
        assert!(got.allows_document(&"projects/42".parse().expect("path")));
        assert!(got.allows_document(&"users/user_abc123".parse().expect("path")));
        assert!(got.allows_collection("users"));
        assert!(!got.allows_collection("projects"));
    }

    #[test]
    fn forged_expired_wrong_tenant_and_out_of_scope_are_distinct_errors() {
        let token = mint_token(&claims(), &secret());
        let now = UnixTime::from_secs(1_000);
        let other = Secret::from_bytes("another-secret");
        assert_eq!(verify_token(&token, &[other], Some("acme"), now), Err(TokenError::Forged));
        assert_eq!(
            verify_token(&token, &[secret()], Some("acme"), UnixTime::from_secs(2_030)),
            Err(TokenError::Expired(30))
        );
        assert!(matches!(verify_token(&token, &[secret()], Some("globex"), now), Err(TokenError::WrongTenant { .. })));
        let granted = verify_token(&token, &[secret()], Some("acme"), now).expect("valid");
        assert_eq!(
            granted.authorize_document(&"projects/43".parse().expect("path")),
            Err(TokenError::OutOfScope("projects/43".into()))
        );
        assert_eq!(verify_token("nonsense", &[secret()], Some("acme"), now), Err(TokenError::Malformed));
    }

    #[test]
    fn refusals_before_the_signature_answer_alike_and_those_after_it_say_why() {
        let now = UnixTime::from_secs(1_000);
        let claims = r#"{"tenant":"acme","scopes":["*"],"exp":2000}"#;
        let other = Secret::from_bytes("another-secret");
        let unverified = [
            verify_token("nonsense", &[secret()], Some("acme"), now),
            verify_token(&jwt(r#"{"alg":"none"}"#, claims), &[secret()], Some("acme"), now),
            verify_token(&jwt(r#"{"alg":"RS256"}"#, claims), &[secret()], Some("acme"), now),
            verify_token(&mint_token(&self::claims(), &secret()), &[other], Some("acme"), now),
            // Forged, whatever tenant or expiry the claims name.
            verify_token(&mint_token(&self::claims(), &secret()), &[Secret::from_bytes("x")], Some("globex"), now),
        ];
        for refusal in &unverified {
            let error = refusal.as_ref().expect_err("refused");
            assert!(error.is_unverified(), "{error:?}");
            assert_eq!(error.public(), TokenError::Invalid);
            assert_eq!(error.public().to_string(), INVALID_TOKEN_MESSAGE);
            assert_eq!(error.public().code(), ErrorCode::Unauthenticated);
        }
        let token = mint_token(&self::claims(), &secret());
        let expired = verify_token(&token, &[secret()], Some("acme"), UnixTime::from_secs(2_030)).expect_err("expired");
        assert_eq!(expired.public(), TokenError::Expired(30));
        let elsewhere = verify_token(&token, &[secret()], Some("globex"), now).expect_err("another tenant");
        assert!(matches!(elsewhere.public(), TokenError::WrongTenant { .. }));
        assert_eq!(TokenError::KeysUnavailable.public(), TokenError::KeysUnavailable);
        assert_eq!(TokenError::OutOfScope("x/1".into()).public(), TokenError::OutOfScope("x/1".into()));
    }

    #[test]
    fn a_token_of_only_the_prefix_is_malformed_not_a_panic() {
        // The old `hf1.` format's slice panicked on these; they are no JWT either.
        let now = UnixTime::from_secs(1);
        for token in ["hf1.", "hf1.abc", "hf1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a.b", "a.b.c.d", "..."] {
            assert_eq!(verify_token(token, &[secret()], Some("acme"), now), Err(TokenError::Malformed), "{token:?}");
        }
    }

    #[test]
    fn altering_the_claims_breaks_the_signature() {
        let token = mint_token(&claims(), &secret());
        let (_, signature) = token.rsplit_once('.').expect("three parts");
        let mut wider = claims();
        wider.scopes = vec!["*".into()];
        let header = URL_SAFE_NO_PAD.encode(HEADER_JSON);
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wider).expect("json"));
        let forged = format!("{header}.{forged_claims}.{signature}");
        assert_eq!(verify_token(&forged, &[secret()], Some("acme"), UnixTime::from_secs(1)), Err(TokenError::Forged));
    }

    #[test]
    fn only_hs256_is_accepted_whatever_the_token_carries() {
        let now = UnixTime::from_secs(1_000);
        let claims = r#"{"tenant":"acme","scopes":["*"],"exp":2000}"#;
        assert!(verify_token(&jwt(r#"{"alg":"HS256"}"#, claims), &[secret()], None, now).is_ok());
        for alg in ["none", "None", "HS512", "RS256", "ES256", "hs256"] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
            assert_eq!(
                verify_token(&jwt(&header, claims), &[secret()], None, now),
                Err(TokenError::Algorithm(alg.into()))
            );
        }
        let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(verify_token(&unsigned, &[secret()], None, now), Err(TokenError::Malformed));
        assert_eq!(verify_token(&jwt(r#"{"typ":"JWT"}"#, claims), &[secret()], None, now), Err(TokenError::Malformed));
        assert_eq!(verify_token(&jwt("not json", claims), &[secret()], None, now), Err(TokenError::Malformed));
    }

    #[test]
    fn claims_any_jwt_library_writes_are_read() {
        let now = UnixTime::from_secs(1_000);
        let claims =
            r#"{"tenant":"acme","scopes":["*"],"exp":2000.5,"iat":900,"sub":"user_1","iss":"backend","jti":"x"}"#;
        let got = verify_token(&jwt(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#, claims), &[secret()], None, now)
            .expect("valid");
        assert_eq!((got.exp, got.iat, got.sub.as_deref()), (2000, Some(900), Some("user_1")));
        let no_exp = r#"{"tenant":"acme","scopes":["*"]}"#;
        assert_eq!(
            verify_token(&jwt(r#"{"alg":"HS256"}"#, no_exp), &[secret()], None, now),
            Err(TokenError::Malformed)
        );
    }
}
