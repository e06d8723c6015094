//! `HOOKFEED_IDENTITY`: the identity providers whose tokens subscribers may present, read
//! and checked once, with the entry and the fix named when one cannot work.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::source::ConfigError;
use crate::token::check_scope;

/// The variable holding the identity providers' JSON.
pub const IDENTITY_VAR: &str = "HOOKFEED_IDENTITY";

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
