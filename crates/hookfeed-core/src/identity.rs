//! Bring your own identity: subscriber tokens that are an existing identity provider's
//! RS256 or ES256 JWTs (a Firebase Auth ID token, an Auth0, Clerk or Supabase access
//! token), checked against the keys the provider publishes (its JWKS).
//!
//! Each [`IdentityProvider`] in `HOOKFEED_IDENTITY` names an issuer, the audience its
//! tokens must carry, where its keys are, and what its users may read: path scopes, and
//! owner scopes ("documents of `projects` whose `user_id` is the token's subject"). A
//! token of a provider ends as the same [`TokenClaims`] a `TOKEN_SECRET` token does, so
//! every later check (the feed's, on each listen, snapshot and change) is the same.
//!
//! The check runs in two halves around the one step core cannot take: [`begin_identity`]
//! reads the token and checks every claim (cheap, and before any key is fetched, so a
//! stranger's token with a made-up `kid` costs no request to the provider unless it also
//! claims a configured issuer and audience and has not expired), then the platform
//! verifies the signature with [`IdentityToken::key`] (WebCrypto, in the Worker), and only
//! [`IdentityToken::accept`] of a verified signature gives the claims.
//!
//! Every refusal before the signature is verified is answered alike
//! ([`TokenError::public`]), so the checks' order is no oracle. An expired token whose
//! other claims hold is verified all the same (with the keys held: it never prompts a
//! refetch for its `kid`), and is refused as expired only if its signature verifies.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::secret::Secret;
use crate::source::ConfigError;
use crate::time::UnixTime;
use crate::token::{check_scope, Jwt, TokenClaims, TokenError};

/// The variable holding the identity providers' JSON.
pub const IDENTITY_VAR: &str = "HOOKFEED_IDENTITY";
/// How far `nbf` and `iat` may lie in the future: clocks differ a little.
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Fewest seconds between two fetches of a provider's keys prompted by an unknown `kid`:
/// a flood of tokens naming made-up keys costs the provider at most one request per
/// isolate in this time.
pub const REFRESH_COOLDOWN_SECS: i64 = 10;
/// Keys older than this are fetched again before use, so a key the provider retired
/// stops verifying (on failure, the keys held go on being used).
pub const KEYS_MAX_AGE_SECS: i64 = 600;
/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Longest subject accepted (Firebase's uids are at most 128 bytes).
pub const MAX_SUBJECT_LEN: usize = 256;
/// Most scopes a token's scopes claim may add.
pub const MAX_CLAIMED_SCOPES: usize = 100;

/// An identity provider whose tokens subscribers may present, and what they grant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// The tenant (feed) its tokens read.
    pub tenant: String,
    /// Its tokens' `iss`, exactly (`https://securetoken.google.com/<project-id>`).
    pub issuer: String,
    /// What its tokens' `aud` must be or contain (Firebase: the project id).
    pub audience: String,
    /// Where it publishes its keys, a JWKS document over https (http only for localhost).
    pub jwks_url: String,
    /// Paths every one of its tokens grants (`announcements/*`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Owner scopes: collection → the field holding the owner's id, which must equal the
    /// token's subject (`{"projects": "user_id"}`).
    #[serde(default)]
    pub owner: BTreeMap<String, String>,
    /// The claim that holds the user's id: `sub` unless set.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// A claim whose array (or space-separated string) of paths adds to `scopes`, for
    /// providers that carry grants in custom claims.
    #[serde(default)]
    pub scopes_claim: Option<String>,
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

fn bad(index: usize, reason: impl Into<String>) -> ConfigError {
    ConfigError::BadIdentity { index, reason: reason.into() }
}

/// Reads and checks `HOOKFEED_IDENTITY`: a JSON list of providers (empty or unset: only
/// `TOKEN_SECRET` tokens are accepted).
pub fn load_identity(json: &str) -> Result<Vec<IdentityProvider>, ConfigError> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let providers: Vec<IdentityProvider> =
        serde_json::from_str(json).map_err(|e| ConfigError::InvalidIdentityJson(e.to_string()))?;
    for (index, provider) in providers.iter().enumerate() {
        if provider.tenant.is_empty() || provider.tenant.len() > 64 {
            return Err(bad(index, "`tenant` must name the tenant (1-64 bytes) whose feed its users read"));
        }
        if provider.issuer.trim().is_empty() {
            return Err(bad(index, "`issuer` is empty: use the `iss` of the provider's tokens"));
        }
        if provider.audience.trim().is_empty() {
            return Err(bad(
                index,
                "`audience` is empty: use the `aud` of the provider's tokens (Firebase: the project id)",
            ));
        }
        check_jwks_url(&provider.jwks_url).map_err(|reason| bad(index, reason))?;
        for scope in &provider.scopes {
            check_scope(scope)
                .map_err(|reason| bad(index, format!("scope `{}`: {reason}", crate::refusal::quote(scope))))?;
        }
        for (collection, field) in &provider.owner {
            crate::path::check_collection(collection).map_err(|e| bad(index, format!("owner collection: {e}")))?;
            if field.is_empty() || field.split('.').any(str::is_empty) {
                return Err(bad(index, format!("owner field of `{collection}` must be a field name such as user_id")));
            }
        }
        if provider.scopes.is_empty() && provider.owner.is_empty() && provider.scopes_claim.is_none() {
            return Err(bad(index, "grants nothing: give it `scopes`, `owner` or `scopes_claim`"));
        }
        if providers[..index].iter().any(|p| p.issuer == provider.issuer && p.tenant == provider.tenant) {
            return Err(bad(index, "the same issuer is configured twice for one tenant"));
        }
    }
    Ok(providers)
}

/// A JWKS URL must be https, or http to this machine (a provider's emulator, tests).
fn check_jwks_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    let local = ["http://localhost:", "http://localhost/", "http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:"];
    if local.iter().any(|prefix| url.starts_with(prefix)) {
        return Ok(());
    }
    Err(format!("`jwks_url` must be an https URL (http only for localhost), not `{}`", crate::refusal::quote(url)))
}

/// The signature algorithms accepted from an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Firebase Auth, Auth0, Clerk).
    Rs256,
    /// ECDSA P-256 with SHA-256 (Supabase's asymmetric keys, among others).
    Es256,
}

impl KeyAlgorithm {
    /// The algorithm a JWT header's `alg` names, if accepted.
    pub fn from_alg(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The JWK `kty` its keys have.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::Rs256 => "RSA",
            Self::Es256 => "EC",
        }
    }

    /// The `alg` a JWK names when it is for this algorithm.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// One public key of a JWKS (RFC 7517), as far as hookfeed reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Its id, which tokens name in `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// The algorithm it is for, if the JWKS says.
    #[serde(default)]
    pub alg: Option<String>,
    /// `sig` or `enc`, if the JWKS says.
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default)]
    pub e: Option<String>,
    /// EC curve (`P-256`).
    #[serde(default)]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default)]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default)]
    pub y: Option<String>,
}

impl Jwk {
    /// Whether the key can verify `alg` signatures: the right type (and curve), for
    /// signing, the algorithm it names (if any) is `alg`, and its parts are whole (an
    /// RSA modulus of at least 2048 bits).
    pub fn fits(&self, alg: KeyAlgorithm) -> bool {
        let decoded_len =
            |part: &Option<String>| part.as_deref().and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).map(|b| b.len());
        self.kty == alg.key_type()
            && self.usage.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && match alg {
                KeyAlgorithm::Rs256 => {
                    decoded_len(&self.n).is_some_and(|n| n >= 256) && decoded_len(&self.e).is_some_and(|e| e > 0)
                }
                KeyAlgorithm::Es256 => {
                    self.crv.as_deref() == Some("P-256")
                        && decoded_len(&self.x) == Some(32)
                        && decoded_len(&self.y) == Some(32)
                }
            }
    }
}

/// A provider's published keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a provider's JWKS document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("the JWKS document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// Not a JWKS document.
    #[error("the JWKS document is not JSON of the form {{\"keys\": [...]}}")]
    Malformed,
}

impl JwkSet {
    /// Reads a JWKS document. Keys of a type hookfeed does not use are kept but never fit.
    pub fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        #[derive(Deserialize)]
        struct Loose {
            keys: Vec<Value>,
        }
        let loose: Loose = serde_json::from_slice(bytes).map_err(|_| JwksError::Malformed)?;
        // One odd key (a type with other fields, a stray value) does not hide the others.
        Ok(Self { keys: loose.keys.into_iter().filter_map(|k| serde_json::from_value(k).ok()).collect() })
    }

    /// The key that verifies a token of `alg` naming `kid`. A token without a `kid` is
    /// matched only when exactly one key fits: guessing among several would let a
    /// token choose its key.
    pub fn key_for(&self, kid: Option<&str>, alg: KeyAlgorithm) -> Option<&Jwk> {
        let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let only = fitting.next()?;
                fitting.next().is_none().then_some(only)
            }
        }
    }
}

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

/// A subscriber token after the checks core can make: an HS256 token verified with
/// `TOKEN_SECRET`, or an identity provider's token whose claims hold, waiting for the
/// platform to verify its signature.
#[derive(Debug)]
pub enum CheckedToken<'t, 'p> {
    /// Verified: what it grants.
    Verified(TokenClaims),
    /// An identity provider's token: verify its signature, then [`IdentityToken::accept`].
    Pending(IdentityToken<'t, 'p>),
}

/// Checks a subscriber token as far as core can: RS256/ES256 tokens go to the identity
/// providers when any are configured ([`begin_identity`]), every other token to
/// [`verify_token`](crate::token::verify_token) (which refuses all but HS256). The error is
/// precise, for the log; answer [`TokenError::public`].
pub fn check_token<'t, 'p>(
    token: &'t str,
    secrets: &[Secret],
    providers: &'p [IdentityProvider],
    tenant: Option<&str>,
    now: UnixTime,
) -> Result<CheckedToken<'t, 'p>, TokenError> {
    let jwt = Jwt::parse(token)?;
    if is_identity_token(&jwt) && !providers.is_empty() {
        begin_identity(jwt, providers, tenant, now).map(CheckedToken::Pending)
    } else {
        crate::token::verify_token(token, secrets, tenant, now).map(CheckedToken::Verified)
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Just;
    use serde_json::json;

    use super::*;
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
        let pending = begin_identity(Jwt::parse(&t).expect("jwt"), &providers, None, UnixTime::from_secs(NOW))
            .expect("claims hold");
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
        assert!(matches!(
            refused(json!({"iss": "https://securetoken.google.com/other"})),
            TokenError::UnknownIssuer(_)
        ));
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
            assert!(
                matches!(begin(&token(alg, None, claims.clone(), 256), None), Err(TokenError::Algorithm(_))),
                "{alg}"
            );
        }
    }

    #[test]
    fn audiences_as_lists_and_scopes_from_a_claim_are_read() {
        let claims = json!({"iss": "https://acme.eu.auth0.com/", "aud": ["https://api.acme.test", "https://acme.eu.auth0.com/userinfo"],
                            "sub": "auth0|42", "exp": NOW + 60, "permissions": ["projects/42", "../../etc", "users/*"]});
        let got = begin(&token("RS256", Some("a"), claims.clone(), 256), Some("acme")).expect("valid");
        assert_eq!(got.tenant, "acme");
        assert_eq!(
            got.scopes,
            ["announcements/*", "projects/42", "users/*"],
            "a claimed scope that is no path is dropped"
        );
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
}
