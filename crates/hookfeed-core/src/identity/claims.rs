//! A provider's token, claim by claim: the issuer, audience, times and subject checked
//! before any key is fetched, and the grants given only once the platform has verified
//! the signature.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::IdentityProvider;
use super::jwks::{Jwk, JwkSet, KeyAlgorithm};
use crate::time::UnixTime;
use crate::token::{check_scope, Jwt, TokenClaims, TokenError};

/// How far `nbf` and `iat` may lie in the future: clocks differ a little.
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Longest subject accepted (Firebase's uids are at most 128 bytes).
pub const MAX_SUBJECT_LEN: usize = 256;
/// Most scopes a token's scopes claim may add.
pub const MAX_CLAIMED_SCOPES: usize = 100;

/// An identity provider's token whose claims hold, waiting for its signature to be
/// verified with [`IdentityToken::key`].
#[derive(Debug)]
pub struct IdentityToken<'t, 'p> {
    /// The provider that issued it.
    pub provider: &'p IdentityProvider,
    /// Its algorithm.
    pub alg: KeyAlgorithm,
    /// The key it names.
    pub kid: Option<String>,
    /// The signed input, `<header>.<claims>`.
    pub signed: &'t str,
    /// The signature: PKCS #1 v1.5 for RS256, `r ‖ s` (64 bytes) for ES256, as WebCrypto
    /// takes them.
    pub signature: Vec<u8>,
    claims: TokenClaims,
    /// Seconds since it expired, if it has: refused as expired once its signature verifies.
    expired_for: Option<i64>,
}

impl IdentityToken<'_, '_> {
    /// The key of `keys` that must have signed it, if the provider publishes one.
    pub fn key<'k>(&self, keys: &'k JwkSet) -> Option<&'k Jwk> {
        keys.key_for(self.kid.as_deref(), self.alg)
    }

    /// The error for a token whose key is not among the provider's.
    pub fn unknown_key(&self) -> TokenError {
        TokenError::UnknownKey(self.kid.as_deref().map_or_else(|| "none".to_owned(), crate::refusal::quote))
    }

    /// Whether a `kid` missing from the keys held may prompt a refetch of the provider's
    /// keys: not for an expired token, which is verified only to tell its owner it expired
    /// (keys are still fetched when none are held or they are stale, as for any token).
    pub fn may_refetch_keys(&self) -> bool {
        self.expired_for.is_none()
    }

    /// The token's grants, once the platform has checked the signature over
    /// [`signed`](Self::signed) with [`key`](Self::key): `signature_verified` is that
    /// check's answer, and a `false` refuses the token as forged. A verified token that has
    /// expired is refused as [`Expired`](TokenError::Expired): only its signature proves
    /// that the issuer, audience and tenant it claims are real, so only then may the
    /// answer differ from any other refusal's.
    pub fn accept(self, signature_verified: bool) -> Result<TokenClaims, TokenError> {
        match (signature_verified, self.expired_for) {
            (false, _) => Err(TokenError::Forged),
            (true, Some(ago)) => Err(TokenError::Expired(ago)),
            (true, None) => Ok(self.claims),
        }
    }
}

/// The claims of a provider's token hookfeed reads; the rest are ignored.
#[derive(Deserialize)]
struct ProviderClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    exp: Option<Value>,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn numeric_date(value: &Value) -> Option<i64> {
    let seconds = value.as_f64()?;
    (seconds.is_finite() && seconds.abs() < 1e15).then(|| seconds.floor() as i64)
}

/// Whether `token`'s header names an algorithm of identity providers: such tokens go to
/// [`begin_identity`], the others to [`verify_token`](crate::token::verify_token).
pub fn is_identity_token(jwt: &Jwt<'_>) -> bool {
    KeyAlgorithm::from_alg(&jwt.alg).is_some()
}

/// Reads a provider's token and checks every claim: a configured issuer (for `tenant`,
/// when the request names one), the audience, expiry, `nbf`, `iat` and the subject. The
/// signature is the caller's to verify next; see [`IdentityToken`].
pub fn begin_identity<'t, 'p>(
    jwt: Jwt<'t>,
    providers: &'p [IdentityProvider],
    tenant: Option<&str>,
    now: UnixTime,
) -> Result<IdentityToken<'t, 'p>, TokenError> {
    let alg = KeyAlgorithm::from_alg(&jwt.alg).ok_or_else(|| TokenError::Algorithm(crate::refusal::quote(&jwt.alg)))?;
    let claims: ProviderClaims = jwt.claims()?;
    let issuer = claims.iss.as_deref().ok_or(TokenError::Claim { claim: "iss", reason: "missing" })?;
    let mut of_issuer = providers.iter().filter(|p| p.issuer == issuer).peekable();
    if of_issuer.peek().is_none() {
        return Err(TokenError::UnknownIssuer(crate::refusal::quote(issuer)));
    }
    let provider = match tenant {
        None => of_issuer.next(),
        Some(tenant) => of_issuer.find(|p| p.tenant == tenant),
    }
    .ok_or(TokenError::Claim { claim: "iss", reason: "this issuer's tokens do not read the tenant asked for" })?;

    let audience_holds = match &claims.aud {
        Some(Value::String(aud)) => *aud == provider.audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(provider.audience.as_str())),
        _ => false,
    };
    if !audience_holds {
        return Err(TokenError::Claim {
            claim: "aud",
            reason: "it is not the audience HOOKFEED_IDENTITY names for this issuer",
        });
    }
    let exp = claims
        .exp
        .as_ref()
        .and_then(numeric_date)
        .ok_or(TokenError::Claim { claim: "exp", reason: "missing or not a NumericDate" })?;
    // Answered only after the signature (see `IdentityToken::accept`); the other claims
    // must hold all the same.
    let left = exp.saturating_sub(now.as_secs());
    let expired_for = (left <= 0).then(|| left.saturating_neg());
    let soon = now.as_secs().saturating_add(CLOCK_LEEWAY_SECS);
    if claims.nbf.as_ref().is_some_and(|nbf| numeric_date(nbf).is_none_or(|nbf| nbf > soon)) {
        return Err(TokenError::Claim { claim: "nbf", reason: "the token is not valid yet" });
    }
    let iat = match &claims.iat {
        None => None,
        Some(iat) => match numeric_date(iat) {
            Some(iat) if iat <= soon => Some(iat),
            _ => return Err(TokenError::Claim { claim: "iat", reason: "issued in the future, or not a NumericDate" }),
        },
    };
    let subject = claims
        .rest
        .get(&provider.subject_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_SUBJECT_LEN)
        .ok_or(TokenError::Claim {
            claim: "sub",
            reason: "the subject claim is missing, empty or longer than 256 bytes",
        })?;

    let mut scopes = provider.scopes.clone();
    if let Some(name) = &provider.scopes_claim {
        let claimed: Vec<&str> = match claims.rest.get(name) {
            None => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(TokenError::Claim {
                    claim: "scopes",
                    reason: "the scopes claim is neither a list nor a string",
                })
            }
        };
        if claimed.len() > MAX_CLAIMED_SCOPES {
            return Err(TokenError::Claim { claim: "scopes", reason: "the scopes claim lists more than 100 scopes" });
        }
        scopes.extend(claimed.into_iter().filter(|s| check_scope(s).is_ok()).map(str::to_owned));
    }
    let claims = TokenClaims {
        tenant: provider.tenant.clone(),
        scopes,
        exp,
        sub: Some(subject.to_owned()),
        iat,
        owner: provider.owner.clone(),
    };
    let expected_len = match alg {
        KeyAlgorithm::Rs256 => 256..=1024,
        KeyAlgorithm::Es256 => 64..=64,
    };
    if !expected_len.contains(&jwt.signature.len()) {
        return Err(TokenError::Malformed);
    }
    Ok(IdentityToken { provider, alg, kid: jwt.kid, signed: jwt.signed, signature: jwt.signature, claims, expired_for })
}
