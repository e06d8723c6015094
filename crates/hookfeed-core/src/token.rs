//! Subscriber tokens: HMAC-signed claims of tenant, allowed paths and expiry.
//!
//! Minted by the customer's backend (or `hookfeed token` in development) and checked by
//! the Worker before a WebSocket upgrade and by the feed on every listen. The format is
//! `hf1.<base64url claims JSON>.<base64url HMAC-SHA256 of "hf1.<claims>">`: compact
//! enough for `Sec-WebSocket-Protocol`, and the version prefix is signed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::path::DocPath;
use crate::secret::Secret;
use crate::signature::{any_matches, mac};
use crate::time::UnixTime;

use hookfeed_wire::token::{parts, PREFIX};
use hookfeed_wire::ErrorCode;

/// Longest token accepted.
pub const MAX_TOKEN_LEN: usize = hookfeed_wire::token::MAX_LEN;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The tenant (feed) it is for.
    pub tenant: String,
    /// Paths it may listen to: `projects/42`, `projects/*` (a collection), or `*`.
    pub scopes: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Why a token or a listen under it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a hookfeed token at all.
    #[error("token is malformed: expected `hf1.<claims>.<signature>` as minted by `hookfeed token`")]
    Malformed,
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
            Self::Malformed | Self::Forged | Self::Expired(_) => ErrorCode::Unauthenticated,
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

/// Mints a token for `claims` with `secret`.
pub fn mint_token(claims: &TokenClaims, secret: &Secret) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &[signed.as_bytes()]));
    format!("{signed}.{signature}")
}

/// Checks a token's signature (under any of `secrets`), expiry and, when given, tenant.
pub fn verify_token(
    token: &str,
    secrets: &[Secret],
    tenant: Option<&str>,
    now: UnixTime,
) -> Result<TokenClaims, TokenError> {
    // `hf1.` alone, `hf1.<one part>` or extra dots are no token (hookfeed-wire splits it).
    let (signed, claims_b64, signature) = parts(token).ok_or(TokenError::Malformed)?;
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
        TokenClaims { tenant: "acme".into(), scopes: vec!["projects/42".into(), "users/*".into()], exp: 2_000 }
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
        // `rsplit_once('.')` leaves `hf1` as the signed part: too short to hold the prefix.
        let now = UnixTime::from_secs(1);
        for token in ["hf1.", "hf1.abc", "hf1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(verify_token(token, &[secret()], Some("acme"), now), Err(TokenError::Malformed), "{token:?}");
        }
    }

    #[test]
    fn altering_the_claims_breaks_the_signature() {
        let token = mint_token(&claims(), &secret());
        let (_, signature) = token.rsplit_once('.').expect("three parts");
        let mut wider = claims();
        wider.scopes = vec!["*".into()];
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wider).expect("json"));
        let forged = format!("{PREFIX}{forged_claims}.{signature}");
        assert_eq!(verify_token(&forged, &[secret()], Some("acme"), UnixTime::from_secs(1)), Err(TokenError::Forged));
    }
}
