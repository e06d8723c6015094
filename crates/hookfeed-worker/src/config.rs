//! Configuration from the environment, read once per isolate.
//!
//! `HOOKFEED_SOURCES` (wrangler.toml vars) holds the sources' shape; `SECRET_<NAME>`
//! (`wrangler secret put`, or `.dev.vars` locally) their keys; `TOKEN_SECRET` signs
//! subscriber tokens; `ADMIN_TOKEN` opens `GET /deliveries`. The `HOOKFEED_*` settings
//! (retention, sockets per client, WebSocket compression) are optional, as is
//! `HOOKFEED_IDENTITY`, the identity providers whose RS256/ES256 tokens subscribers may
//! present instead of `TOKEN_SECRET` ones.

use std::cell::RefCell;
use std::rc::Rc;

use hookfeed_core::hub::{HubPlan, HUBS_VAR};
use hookfeed_core::identity::{load_identity, IdentityProvider, IDENTITY_VAR};
use hookfeed_core::source::{
    load_sources, split_secrets, switch_setting, threshold_setting, whole_number_setting, ConfigError, Source,
};
use hookfeed_core::Secret;
use worker::Env;

/// The variable holding the sources' JSON.
pub const SOURCES_VAR: &str = "HOOKFEED_SOURCES";
pub use hookfeed_core::ledger::retention::DEFAULT_DAYS as DEFAULT_RETENTION_DAYS;
pub use hookfeed_core::ledger::retention::DEFAULT_REPLAY_DAYS;
/// Bodies of at least this many bytes are MACed with the runtime's WebCrypto rather than
/// in wasm (see `webcrypto`); measured in bench/load/README.md.
pub const DEFAULT_WEBCRYPTO_MIN_BYTES: u32 = 16 * 1024;
/// Subscriber sockets one client address may hold open on one feed.
pub const DEFAULT_SOCKETS_PER_CLIENT: u32 = 1_000;

/// Everything the Worker and the feeds read from the environment.
#[derive(Debug)]
pub struct Config {
    /// The sources, by name.
    pub sources: Vec<Source>,
    /// Secrets that sign subscriber tokens, newest first.
    pub token_secrets: Vec<Secret>,
    /// How many hubs each tenant's sockets are spread over (`HOOKFEED_HUBS`).
    pub hubs: HubPlan,
    /// Identity providers whose tokens subscribers may present (`HOOKFEED_IDENTITY`).
    pub identity: Vec<IdentityProvider>,
    /// The bearer token of the admin API, if set.
    pub admin_token: Option<Secret>,
    /// Days the event log is kept.
    pub retention_days: u32,
    /// Days the replay keys of deliveries no clock protects are kept (never fewer than
    /// the log's days).
    pub replay_days: u32,
    /// Subscriber sockets one client address may hold open on one feed (0 = no limit).
    pub sockets_per_client: u32,
    /// Bodies from this size on are MACed with WebCrypto; `None`: always in wasm.
    pub webcrypto_min_bytes: Option<u32>,
    /// `HOOKFEED_WEBSOCKET_COMPRESSION=on`: let subscribers' sockets use permessage-deflate
    /// when the client offers it. Off by default: see `routes::subscribe::decline_compression`.
    pub websocket_compression: bool,
    /// `HOOKFEED_GROUP_COMMIT=off`: hand every delivery to its feed alone, as before group
    /// commit (on by default; the switch is there to measure one against the other).
    pub group_commit: bool,
    /// `HOOKFEED_DEV_MODE=true` (in `.dev.vars` only): the demo page's `/dev/*` routes,
    /// which mint tokens and sign deliveries for anyone. Never set it in production.
    pub dev_mode: bool,
}

impl Config {
    /// The source called `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The tenants the sources feed, each once, in configuration order.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .enumerate()
            .filter(|(i, s)| !self.sources[..*i].iter().any(|earlier| earlier.tenant == s.tenant))
            .map(|(_, s)| s.tenant.as_str())
    }

    /// The tenant a request that names none is about (the demo page's token, the delivery
    /// log, the dev routes): the first source's, or
    /// [`DEFAULT_TENANT`](hookfeed_core::source::DEFAULT_TENANT) when no source is set.
    pub fn default_tenant(&self) -> &str {
        self.tenants().next().unwrap_or(hookfeed_core::source::DEFAULT_TENANT)
    }
}

thread_local! {
    static CACHE: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

fn text(env: &Env, name: &str) -> Option<String> {
    // Secrets and plain vars are both strings to the Worker; `.dev.vars` provides either.
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
}

fn number(env: &Env, name: &str, default: u32) -> Result<u32, ConfigError> {
    text(env, name).map_or(Ok(default), |value| whole_number_setting(name, &value))
}

fn switch(env: &Env, name: &str, default: bool) -> Result<bool, ConfigError> {
    text(env, name).map_or(Ok(default), |value| switch_setting(name, &value))
}

/// The configuration, loaded on first use. Errors are not cached, so fixing a secret
/// takes effect without a redeploy of the isolate.
pub fn load(env: &Env) -> Result<Rc<Config>, ConfigError> {
    if let Some(config) = CACHE.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let json = text(env, SOURCES_VAR).unwrap_or_else(|| "[]".to_owned());
    let sources = load_sources(&json, &|name| text(env, name))?;
    let config = Rc::new(Config {
        sources,
        token_secrets: text(env, "TOKEN_SECRET")
            .map(|v| split_secrets(&v).map(|s| Secret::from_bytes(s.as_bytes())).collect())
            .unwrap_or_default(),
        identity: load_identity(&text(env, IDENTITY_VAR).unwrap_or_default())?,
        hubs: HubPlan::parse(&text(env, HUBS_VAR).unwrap_or_default())?,
        admin_token: text(env, "ADMIN_TOKEN").filter(|t| !t.trim().is_empty()).map(|t| Secret::from_bytes(t.trim())),
        retention_days: number(env, "HOOKFEED_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)?.max(1),
        replay_days: number(env, "HOOKFEED_REPLAY_DAYS", DEFAULT_REPLAY_DAYS)?
            .max(number(env, "HOOKFEED_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)?)
            .max(1),
        sockets_per_client: number(env, "HOOKFEED_SOCKETS_PER_CLIENT", DEFAULT_SOCKETS_PER_CLIENT)?,
        webcrypto_min_bytes: text(env, "HOOKFEED_WEBCRYPTO_MIN_BYTES")
            .map_or(Ok(Some(DEFAULT_WEBCRYPTO_MIN_BYTES)), |v| threshold_setting("HOOKFEED_WEBCRYPTO_MIN_BYTES", &v))?,
        websocket_compression: switch(env, "HOOKFEED_WEBSOCKET_COMPRESSION", false)?,
        group_commit: switch(env, "HOOKFEED_GROUP_COMMIT", true)?,
        dev_mode: text(env, "HOOKFEED_DEV_MODE").is_some_and(|v| v.trim() == "true"),
    });
    CACHE.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}
