//! Sources from the environment: `HOOKFEED_SOURCES` (wrangler.toml vars) for their
//! shape, `SECRET_<NAME>` (secrets, or `.dev.vars` locally) for their keys.

use hookfeed_core::source::{load_sources, ConfigError, Source};
use worker::Env;

/// The variable holding the sources' JSON.
pub const SOURCES_VAR: &str = "HOOKFEED_SOURCES";

/// Loads and checks every configured source.
pub fn sources(env: &Env) -> Result<Vec<Source>, ConfigError> {
    let json = env.var(SOURCES_VAR).map(|v| v.to_string()).unwrap_or_else(|_| "[]".to_owned());
    load_sources(&json, &|name| env.secret(name).ok().map(|s| s.to_string()))
}
