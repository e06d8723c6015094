//! `hookfeed token`: mint a subscriber token with core's `mint_token`.

use std::io::Write;

use hookfeed_core::path::{check_collection, DocPath};
use hookfeed_core::source::split_secrets;
use hookfeed_core::token::{mint_token, TokenClaims};
use hookfeed_core::{Secret, UnixTime};

use crate::cli::TokenArgs;
use crate::clock;
use crate::error::CliError;
use crate::secrets::{self, Lookup};

/// The variable holding the token signing secret, on the server and here.
pub const TOKEN_SECRET_VAR: &str = "TOKEN_SECRET";

/// Runs `hookfeed token`: the token on stdout, a summary on stderr.
pub fn run(args: &TokenArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.scope.is_empty() {
        return Err(CliError::ScopeRequired);
    }
    for scope in &args.scope {
        check_scope(scope)?;
    }
    let (secret, origin) = signing_secret(args.secret.as_deref(), "tokens")?;
    let now = clock::now()?;
    let ttl = i64::try_from(args.ttl).unwrap_or(i64::MAX);
    let claims = TokenClaims::new(args.tenant.clone(), args.scope.clone(), now.as_secs().saturating_add(ttl));
    writeln!(out, "{}", mint_token(&claims, &secret))?;
    eprintln!(
        "token for tenant `{}`, scopes {}, expires {} (signed with {})",
        claims.tenant,
        claims.scopes.join(" "),
        UnixTime::from_secs(claims.exp).to_rfc3339(),
        origin,
    );
    Ok(())
}

/// The token signing secret from `--secret` (clap already fell back to $TOKEN_SECRET),
/// then TOKEN_SECRET in `.dev.vars` and `.dev.vars.example`, with where it was found.
/// `what` names what needs it, for the error when there is none.
pub fn signing_secret(flag: Option<&str>, what: &str) -> Result<(Secret, String), CliError> {
    let found = secrets::find(
        Lookup { flag, flag_env: TOKEN_SECRET_VAR, var: TOKEN_SECRET_VAR, what },
        &std::env::current_dir().map_err(|source| CliError::Read { path: "the current directory".into(), source })?,
    )?;
    // During a rotation the server accepts every listed secret; mint with the newest (first).
    let secret = split_secrets(&found.value).next().map(Secret::from_bytes).ok_or_else(|| CliError::MissingSecret {
        what: what.into(),
        var: TOKEN_SECRET_VAR.into(),
        flag_env: TOKEN_SECRET_VAR,
        dir: ".".into(),
    })?;
    Ok((secret, found.origin))
}

/// A scope is `*`, `collection/*` or a document path `collection/id`.
fn check_scope(scope: &str) -> Result<(), CliError> {
    let bad = |reason: String| CliError::BadScope { scope: scope.to_owned(), reason };
    if scope == "*" {
        return Ok(());
    }
    if let Some(collection) = scope.strip_suffix("/*") {
        return check_collection(collection).map_err(|e| bad(e.to_string()));
    }
    scope.parse::<DocPath>().map(drop).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_documents_collections_or_everything() {
        for good in ["*", "projects/*", "projects/42", "users/user_abc123"] {
            assert!(check_scope(good).is_ok(), "{good} refused");
        }
        for bad in ["", "projects", "projects/", "/42", "bad name/*", "projects/42/extra"] {
            assert!(check_scope(bad).is_err(), "{bad} accepted");
        }
    }
}
