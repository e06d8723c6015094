//! Finding secrets the way `npm run dev` does: a flag, the environment, then `.dev.vars`
//! and `.dev.vars.example` in the current directory.

use std::io;
use std::path::Path;

use hookfeed_core::source::split_secrets;
use hookfeed_core::{BuiltinScheme, Secret};

use crate::error::CliError;

/// The files searched, in order, after the environment.
pub const VARS_FILES: [&str; 2] = [".dev.vars", ".dev.vars.example"];

/// A secret's configured text and where it was found, for error messages.
#[derive(Clone)]
pub struct Found {
    /// The configured value (possibly several secrets, comma-separated).
    pub value: String,
    /// Where it came from: `--secret`, `$SECRET_TWIN_ACTOR`, `.dev.vars (SECRET_TWIN_ACTOR)`.
    pub origin: String,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found").field("value", &"[REDACTED]").field("origin", &self.origin).finish()
    }
}

/// What to look for.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The value of `--secret` (clap already fell back to `flag_env`).
    pub flag: Option<&'a str>,
    /// The variable `--secret` falls back to, for messages.
    pub flag_env: &'static str,
    /// The variable to look up next: `SECRET_TWIN_ACTOR`, `TOKEN_SECRET`.
    pub var: &'a str,
    /// What needs it, for messages: ``source `twin-actor` ``.
    pub what: &'a str,
}

/// Finds the secret in `--secret`, then the variable in the environment, `.dev.vars` and
/// `.dev.vars.example` of `dir`.
pub fn find(lookup: Lookup<'_>, dir: &Path) -> Result<Found, CliError> {
    if let Some(flag) = lookup.flag.filter(|v| !v.trim().is_empty()) {
        return Ok(Found { value: flag.to_owned(), origin: format!("--secret (or ${})", lookup.flag_env) });
    }
    if let Some(value) = std::env::var(lookup.var).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(Found { value, origin: format!("${}", lookup.var) });
    }
    for file in VARS_FILES {
        let path = dir.join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CliError::Read { path: path.display().to_string(), source }),
        };
        if let Some(value) = lookup_var(&text, lookup.var, file)?.filter(|v| !v.trim().is_empty()) {
            return Ok(Found { value, origin: format!("{file} ({})", lookup.var) });
        }
    }
    Err(CliError::MissingSecret {
        what: lookup.what.to_owned(),
        var: lookup.var.to_owned(),
        flag_env: lookup.flag_env,
        dir: dir.display().to_string(),
    })
}

/// Every secret in `found`, read the way `scheme`'s provider hands them out (newest first).
pub fn parse_for_scheme(found: &Found, scheme: BuiltinScheme) -> Result<Vec<Secret>, CliError> {
    let secrets = split_secrets(&found.value)
        .map(|text| scheme.parse_secret(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| CliError::BadSecret { origin: found.origin.clone(), scheme, error })?;
    if secrets.is_empty() {
        // `find` skips blank values, so only separators remain: call that empty.
        return Err(CliError::BadSecret {
            origin: found.origin.clone(),
            scheme,
            error: hookfeed_core::signature::SecretError::Empty,
        });
    }
    Ok(secrets)
}

/// The value of `var` in a `.dev.vars`-style file: `KEY=value` or `KEY="value"` lines,
/// `#` comments, an optional `export ` prefix. The last assignment wins, as in dotenv.
pub fn lookup_var(text: &str, var: &str, file: &str) -> Result<Option<String>, CliError> {
    let mut found = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) =
            line.split_once('=').ok_or_else(|| CliError::BadVarsLine { file: file.to_owned(), line: index + 1 })?;
        if key.trim() == var {
            found = Some(unquote(value.trim()));
        }
    }
    Ok(found)
}

/// `"v"` and `'v'` lose their quotes; an unquoted value loses a trailing ` # comment`.
fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.split_once(quote)) {
            return inner.0.to_owned();
        }
    }
    match value.find(" #") {
        Some(at) => value[..at].trim_end().to_owned(),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
# demo secrets for npm run dev
SECRET_TWIN_ACTOR="twin-secret"
export SECRET_PERCIFY='percify-secret'
TOKEN_SECRET=token-secret # inline comment
SECRET_STRIPE=
SECRET_HOOKS = "whsec_abc=" # base64 padding survives
"#;

    #[test]
    fn dev_vars_values_lose_quotes_exports_and_comments() {
        let get = |var| lookup_var(FILE, var, ".dev.vars").expect("parses");
        assert_eq!(get("SECRET_TWIN_ACTOR").as_deref(), Some("twin-secret"));
        assert_eq!(get("SECRET_PERCIFY").as_deref(), Some("percify-secret"));
        assert_eq!(get("TOKEN_SECRET").as_deref(), Some("token-secret"));
        assert_eq!(get("SECRET_STRIPE").as_deref(), Some(""));
        assert_eq!(get("SECRET_HOOKS").as_deref(), Some("whsec_abc="));
        assert_eq!(get("SECRET_GITHUB"), None);
    }

    #[test]
    fn a_line_without_equals_names_the_file_and_line() {
        let err = lookup_var("A=1\nnonsense\n", "A", ".dev.vars").expect_err("refused");
        assert_eq!(
            err.to_string(),
            ".dev.vars:2: expected KEY=value or KEY=\"value\" (lines starting with # are comments)"
        );
    }

    #[test]
    fn found_secrets_never_print() {
        let found = Found { value: "hunter2".into(), origin: "--secret".into() };
        assert!(!format!("{found:?}").contains("hunter2"));
    }
}
