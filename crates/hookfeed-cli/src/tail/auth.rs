//! The token each of tail's connections presents: the one given, or one minted anew from
//! TOKEN_SECRET, and the tenant to mint it for.

use hookfeed_core::source::DEFAULT_TENANT;
use hookfeed_core::token::{mint_token, TokenClaims};
use hookfeed_core::Secret;

use crate::clock;
use crate::error::CliError;

/// How long a minted token lives (a new one is minted for every connection).
const TOKEN_TTL_SECS: i64 = 60 * 60;

/// The tenant to mint a token for when `--tenant` is not given, from the tenants the
/// server says it feeds: its only one; `default` if it feeds that or cannot say; else
/// the user must choose. The second value says how it was chosen, for the log line.
pub(super) fn tenant_to_mint(served: Option<Vec<String>>) -> Result<(String, &'static str), CliError> {
    match served {
        Some(mut served) if served.len() == 1 => Ok((served.remove(0), " (the only one the server feeds)")),
        Some(served) if !served.is_empty() && !served.iter().any(|t| t == DEFAULT_TENANT) => {
            Err(CliError::TenantRequired(served))
        }
        _ => Ok((DEFAULT_TENANT.to_owned(), "")),
    }
}

/// The token for each connection.
pub(super) enum Token {
    /// `--token` / `$HOOKFEED_TOKEN`, used as is.
    Given(String),
    /// Minted from TOKEN_SECRET, anew for every connection so a long tail outlives its ttl.
    Minted {
        /// The signing secret.
        secret: Secret,
        /// The tenant.
        tenant: String,
        /// The scopes.
        scopes: Vec<String>,
    },
}

impl Token {
    pub(super) fn for_connection(&self) -> Result<String, CliError> {
        match self {
            Self::Given(token) => Ok(token.clone()),
            Self::Minted { secret, tenant, scopes } => {
                let exp = clock::now()?.as_secs().saturating_add(TOKEN_TTL_SECS);
                Ok(mint_token(&TokenClaims::new(tenant.clone(), scopes.clone(), exp), secret))
            }
        }
    }

    pub(super) fn minted(&self) -> bool {
        matches!(self, Self::Minted { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_tenant_tail_mints_for_the_servers_only_tenant_or_asks() {
        let served = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
        assert_eq!(tenant_to_mint(served(&["demo"])).expect("one").0, "demo");
        assert_eq!(tenant_to_mint(served(&["acme", "default"])).expect("default is served").0, "default");
        assert_eq!(tenant_to_mint(None).expect("cannot ask").0, "default");
        let err = tenant_to_mint(served(&["acme", "globex"])).expect_err("must choose");
        assert_eq!(err.to_string(), "the server feeds tenants `acme`, `globex`: pass --tenant with the one to watch");
    }
}
