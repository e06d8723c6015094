//! `hookfeed token`: mint a subscriber token with core's `mint_token`.

use std::io::Write;

use hookfeed_core::path::check_collection;
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
    if args.scope.is_empty() && args.owner.is_empty() {
        return Err(CliError::ScopeRequired);
    }
    for scope in &args.scope {
        check_scope(scope)?;
    }
    let owner = args.owner.iter().map(|o| owner_scope(o)).collect::<Result<_, _>>()?;
    if !args.owner.is_empty() && args.sub.is_none() {
        return Err(CliError::OwnerWithoutSub);
    }
    let (secret, origin) = signing_secret(args.secret.as_deref(), "tokens")?;
    let now = clock::now()?;
    let ttl = i64::try_from(args.ttl).unwrap_or(i64::MAX);
    let claims = TokenClaims {
        sub: args.sub.clone(),
        iat: Some(now.as_secs()),
        owner,
        ..TokenClaims::new(args.tenant.clone(), args.scope.clone(), now.as_secs().saturating_add(ttl))
    };
    writeln!(out, "{}", mint_token(&claims, &secret))?;
    let owned: Vec<String> = claims
        .owner
        .iter()
        .map(|(c, f)| format!("{c} where {f} == {:?}", claims.sub.as_deref().unwrap_or_default()))
        .collect();
    eprintln!(
        "token for tenant `{}`, scopes {}{}, expires {} (signed with {})",
        claims.tenant,
        if claims.scopes.is_empty() { "none".to_owned() } else { claims.scopes.join(" ") },
        if owned.is_empty() { String::new() } else { format!(", owner scopes {}", owned.join(", ")) },
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

/// A scope is `*`, `collection/*` or a document path `collection/id` (core decides).
fn check_scope(scope: &str) -> Result<(), CliError> {
    hookfeed_core::token::check_scope(scope).map_err(|reason| CliError::BadScope { scope: scope.to_owned(), reason })
}

/// An owner scope, `collection=field`: the documents of `collection` whose `field` is the
/// token's `--sub`.
fn owner_scope(given: &str) -> Result<(String, String), CliError> {
    let bad = |reason: String| CliError::BadOwner { given: given.to_owned(), reason };
    let (collection, field) = given.split_once('=').ok_or_else(|| bad("write it as collection=field".into()))?;
    check_collection(collection).map_err(|e| bad(e.to_string()))?;
    if field.is_empty() || field.split('.').any(str::is_empty) {
        return Err(bad("the field must be a field name such as user_id".into()));
    }
    Ok((collection.to_owned(), field.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_scopes_are_collection_equals_field() {
        assert_eq!(owner_scope("projects=user_id").expect("valid"), ("projects".to_owned(), "user_id".to_owned()));
        assert_eq!(owner_scope("projects=owner.uid").expect("valid").1, "owner.uid");
        for bad in ["projects", "projects=", "=user_id", "bad name=user_id", "projects=a..b"] {
            assert!(owner_scope(bad).is_err(), "{bad} accepted");
        }
    }

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
