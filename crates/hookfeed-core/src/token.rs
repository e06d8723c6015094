//! Subscriber tokens: standard JWTs (RFC 7519) signed with HS256 and `TOKEN_SECRET`,
//! claiming a tenant, the paths they grant and an expiry.
//!
//! Minted by the customer's backend with any JWT library (or `hookfeed/server`'s
//! `createToken`, or `hookfeed token` in development) and checked by the Worker before a
//! WebSocket upgrade and by the feed on every listen. Only `HS256` is accepted: a token
//! whose header names `none` or any other algorithm is refused, whatever it carries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::path::DocPath;
use crate::secret::Secret;
use crate::signature::{any_matches, mac};
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
}

impl TokenClaims {
    /// Claims granting `scopes` of `tenant` until `exp`.
    pub fn new(tenant: impl Into<String>, scopes: Vec<String>, exp: i64) -> Self {
        Self { tenant: tenant.into(), scopes, exp, sub: None, iat: None }
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
}

/// Why a token or a listen under it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token at all.
    #[error(
        "token is malformed: expected a JWT (`<header>.<claims>.<signature>`, base64url) with tenant, scopes and exp"
    )]
    Malformed,
    /// A JWT signed with another algorithm than HS256 (or with none).
    #[error("token algorithm `{0}` is not accepted: sign subscriber tokens with HS256 and TOKEN_SECRET")]
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
}

impl TokenError {
    /// The Firestore code a listen refused for this reason gets: the token is valid but
    /// does not reach the target (`permission-denied`, HTTP 403), or it is no valid token
    /// at all (`unauthenticated`, HTTP 401). Decided here for the feed's frames and the
    /// Worker's statuses alike.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::OutOfScope(_) | Self::WrongTenant { .. } => ErrorCode::PermissionDenied,
            Self::Malformed | Self::Algorithm(_) | Self::Forged | Self::Expired(_) => ErrorCode::Unauthenticated,
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

    /// Refuses a target the token does not grant.
    pub fn authorize(&self, target: &crate::protocol::Target) -> Result<(), TokenError> {
        match target {
            crate::protocol::Target::Document(path) => self.authorize_document(path),
            crate::protocol::Target::Collection(q) => self.authorize_collection(&q.collection),
        }
    }

    /// Whether a scope grants the whole of `collection`.
    pub fn allows_collection(&self, collection: &str) -> bool {
        self.scopes.iter().any(|scope| scope == "*" || scope.strip_suffix("/*").is_some_and(|c| c == collection))
    }

    /// Refuses a document the token does not grant.
    pub fn authorize_document(&self, path: &DocPath) -> Result<(), TokenError> {
        if self.allows_document(path) {
            Ok(())
        } else {
            Err(TokenError::OutOfScope(path.to_string()))
        }
    }

    /// Refuses a collection the token does not grant.
    pub fn authorize_collection(&self, collection: &str) -> Result<(), TokenError> {
        if self.allows_collection(collection) {
            Ok(())
        } else {
            Err(TokenError::OutOfScope(format!("{collection}/*")))
        }
    }
}

/// The header of every token hookfeed mints.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Mints a token for `claims` with `secret`: a JWT signed with HS256.
pub fn mint_token(claims: &TokenClaims, secret: &Secret) -> String {
    let claims_json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER_JSON), URL_SAFE_NO_PAD.encode(claims_json));
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &[signed.as_bytes()]));
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
    let (signed, header_b64, claims_b64, signature) = parts(token).ok_or(TokenError::Malformed)?;
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
    if header.alg != ALGORITHM {
        return Err(TokenError::Algorithm(crate::refusal::quote(&header.alg)));
    }
    let mut tag = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut tag) {
        Ok(32) => {}
        _ => return Err(TokenError::Malformed),
    }
    let claims_json = URL_SAFE_NO_PAD.decode(claims_b64).map_err(|_| TokenError::Malformed)?;
    if !any_matches(secrets, &[signed.as_bytes()], &[tag]) {
        return Err(TokenError::Forged);
    }
    let claims: TokenClaims = serde_json::from_slice(&claims_json).map_err(|_| TokenError::Malformed)?;
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
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac(&secret(), &[signed.as_bytes()])))
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
