//! Sources: one webhook endpoint registered at one provider, from configuration.
//!
//! The shape (name, scheme, tenant, options, rules) is JSON in the `HOOKFEED_SOURCES`
//! variable; secrets come separately, from `SECRET_<NAME>` (`wrangler secret put`, or
//! `.dev.vars` locally), comma-separated when several are active during a rotation.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::projection::ProjectionRule;
use crate::secret::Secret;
use crate::signature::configured::{HmacProfile, ProfileError};
use crate::signature::{BuiltinScheme, Scheme, SecretError, UnknownScheme};

/// The default cap on a delivery's body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deliveries per minute a source accepts unless configured: 100/s sustained, well above
/// what a provider sends one account, and a 429 only delays (providers retry).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 6_000;
/// The tenant a source belongs to unless configured.
pub const DEFAULT_TENANT: &str = "default";

/// A configured, usable source.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its name, the `{source}` of `POST /hooks/{source}`.
    pub name: String,
    /// How its provider signs.
    pub scheme: SourceScheme,
    /// The tenant (feed) its events go to.
    pub tenant: String,
    /// Active secrets, newest first.
    pub secrets: Vec<Secret>,
    /// Replay tolerance in seconds, both ways.
    pub tolerance_secs: u64,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Projection rules: configured ones first, then the scheme's built-ins.
    pub rules: Vec<ProjectionRule>,
    /// Deliveries per minute accepted from this source (0 = unlimited).
    pub rate_limit_per_minute: u32,
    /// Where its events say when they happened, for a scheme that reads no such time
    /// (GitHub; a profile without `created`): a dotted path inside the event's data.
    pub created: Option<crate::signature::configured::CreatedConfig>,
}

/// How a source's deliveries are signed: a built-in scheme, or a configured HMAC profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceScheme {
    /// One of the built-in schemes.
    Builtin(BuiltinScheme),
    /// `"scheme": "hmac"` with its profile (shared: sources are cloned per request).
    Hmac(Arc<HmacProfile>),
}

impl SourceScheme {
    /// The implementation that verifies, signs and reads this source's deliveries.
    pub fn implementation(&self) -> &dyn Scheme {
        match self {
            Self::Builtin(scheme) => scheme.implementation(),
            Self::Hmac(profile) => profile.as_ref(),
        }
    }

    /// The name shown in logs and `/healthz`: the built-in scheme's, or `hmac:<preset>`
    /// (`hmac` for a profile written out).
    pub fn name(&self) -> String {
        match self {
            Self::Builtin(scheme) => scheme.name().to_owned(),
            Self::Hmac(profile) if profile.name() == "hmac" => "hmac".to_owned(),
            Self::Hmac(profile) => format!("hmac:{}", profile.name()),
        }
    }

    /// The built-in scheme, if it is one (samples and built-in rules exist only for those).
    pub fn builtin(&self) -> Option<BuiltinScheme> {
        match self {
            Self::Builtin(scheme) => Some(*scheme),
            Self::Hmac(_) => None,
        }
    }

    /// Whether the replay window applies to the body's `created` (no signed timestamp).
    pub fn window_on_body_created(&self) -> bool {
        self.implementation().window_on_body_created()
    }
}

impl From<BuiltinScheme> for SourceScheme {
    fn from(scheme: BuiltinScheme) -> Self {
        Self::Builtin(scheme)
    }
}

impl PartialEq<BuiltinScheme> for SourceScheme {
    fn eq(&self, other: &BuiltinScheme) -> bool {
        self.builtin() == Some(*other)
    }
}

impl fmt::Display for SourceScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A scheme as `HOOKFEED_SOURCES` names it: a built-in one, or `hmac` (whose profile is
/// the source's `hmac` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeName {
    /// A built-in scheme.
    Builtin(BuiltinScheme),
    /// `hmac`.
    Hmac,
}

impl From<BuiltinScheme> for SchemeName {
    fn from(scheme: BuiltinScheme) -> Self {
        Self::Builtin(scheme)
    }
}

impl FromStr for SchemeName {
    type Err = UnknownScheme;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "hmac" => Ok(Self::Hmac),
            _ => name.parse().map(Self::Builtin),
        }
    }
}

impl<'de> Deserialize<'de> for SchemeName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for SchemeName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Builtin(scheme) => scheme.serialize(serializer),
            Self::Hmac => serializer.serialize_str("hmac"),
        }
    }
}

/// The configuration of one source, as written in `HOOKFEED_SOURCES`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Its name.
    pub name: String,
    /// Its scheme's name: a built-in scheme, or `hmac`.
    pub scheme: SchemeName,
    /// The `hmac` scheme's profile: a preset's name (`"shopify"`) or a profile object.
    #[serde(default)]
    pub hmac: Option<serde_json::Value>,
    /// Its tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Replay tolerance in seconds.
    #[serde(default)]
    pub tolerance_secs: Option<u64>,
    /// Body cap in bytes.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Extra projection rules.
    #[serde(default)]
    pub rules: Vec<ProjectionRule>,
    /// Rate limit per minute.
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
    /// Where its events' time is, for a scheme that reads none (`{"field": "issue.updated_at"}`).
    #[serde(default)]
    pub created: Option<crate::signature::configured::CreatedConfig>,
}

impl SourceConfig {
    /// A source called `name` of `scheme`, every option at its default.
    pub fn new(name: impl Into<String>, scheme: SchemeName) -> Self {
        Self {
            name: name.into(),
            scheme,
            hmac: None,
            tenant: None,
            tolerance_secs: None,
            max_body_bytes: None,
            rules: Vec::new(),
            rate_limit_per_minute: None,
            created: None,
        }
    }
}

/// A configuration that cannot be used; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `HOOKFEED_SOURCES` is not a JSON list of sources.
    #[error("HOOKFEED_SOURCES is not a valid list of sources: {0}")]
    InvalidJson(String),
    /// A source name is not usable in a URL path.
    #[error("source name `{0}` is not valid: use 1-64 of a-z 0-9 - _")]
    BadName(String),
    /// Two sources share a name.
    #[error("source `{0}` is configured twice")]
    Duplicate(String),
    /// A source projects events that say nothing of when they happened: its documents
    /// would follow arrival order, so a retried older event would beat a newer one.
    #[error(
        "source `{source_name}` has rules, but its scheme's events carry no time: add \
         \"created\": {{\"field\": \"<dotted path in the event's data>\", \"format\": \"rfc3339\"}} (or unix, unix_ms)"
    )]
    NoEventTime {
        /// The source.
        source_name: String,
    },
    /// Sources of two tenants share a secret: a delivery captured at one could be posted
    /// to the other and verify, into another customer's documents.
    #[error(
        "sources `{first}` and `{second}` feed different tenants but share a secret: a delivery to one would \
         verify at the other; give each tenant's sources secrets of their own"
    )]
    SharedAcrossTenants {
        /// The first source.
        first: String,
        /// The second source.
        second: String,
    },
    /// A source has no secret.
    #[error("source `{source_name}` has no secret: set {var} (wrangler secret put {var}, or .dev.vars locally)")]
    MissingSecret {
        /// The source.
        source_name: String,
        /// The variable to set.
        var: String,
    },
    /// More secrets than a delivery can carry signatures for.
    #[error(
        "source `{source_name}` has {count} secrets in {var}: at most 16 (the current one and those still rotating out)"
    )]
    TooManySecrets {
        /// The source.
        source_name: String,
        /// The variable they came from.
        var: String,
        /// How many there are.
        count: usize,
    },
    /// A secret cannot be used.
    #[error("secret {var} of source `{source_name}` is unusable: {error}")]
    BadSecret {
        /// The source.
        source_name: String,
        /// The variable it came from.
        var: String,
        /// Why.
        error: SecretError,
    },
    /// The `hmac` scheme's profile is missing, or cannot be used.
    #[error("source `{source_name}`: `hmac` {error}")]
    BadHmac {
        /// The source.
        source_name: String,
        /// Why.
        error: ProfileError,
    },
    /// A source that is not `hmac` has an `hmac` profile (a scheme set by mistake?).
    #[error(
        "source `{0}` has an `hmac` profile but its scheme is not `hmac`: set \"scheme\": \"hmac\", or remove `hmac`"
    )]
    StrayHmac(String),
    /// A projection rule names an invalid collection.
    #[error("source `{source_name}` has a rule with an invalid collection: {reason}")]
    BadRule {
        /// The source.
        source_name: String,
        /// Why.
        reason: String,
    },
    /// `HOOKFEED_IDENTITY` is not a JSON list of identity providers.
    #[error("HOOKFEED_IDENTITY is not a valid list of identity providers: {0}")]
    InvalidIdentityJson(String),
    /// An identity provider's entry cannot be used.
    #[error("HOOKFEED_IDENTITY entry {index}: {reason}")]
    BadIdentity {
        /// Its position in the list, from 0.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A setting other than the sources has a value it cannot take.
    #[error("{var} cannot be `{value}`: {expected}")]
    BadSetting {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
}

/// Reads a whole-number setting such as `HOOKFEED_RETENTION_DAYS`.
pub fn whole_number_setting(var: &str, value: &str) -> Result<u32, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::BadSetting {
        var: var.to_owned(),
        value: value.to_owned(),
        expected: "use a whole number such as 7",
    })
}

/// Reads a threshold that can be switched off, such as `HOOKFEED_WEBCRYPTO_MIN_BYTES`:
/// a whole number, or `off` (`None`).
pub fn threshold_setting(var: &str, value: &str) -> Result<Option<u32>, ConfigError> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value.trim().parse().map(Some).map_err(|_| ConfigError::BadSetting {
        var: var.to_owned(),
        value: value.to_owned(),
        expected: "use a whole number of bytes such as 16384, or `off`",
    })
}

/// Reads an on/off setting such as `HOOKFEED_WEBSOCKET_COMPRESSION`: `on`/`off`, or
/// `true`/`false`, in any case.
pub fn switch_setting(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => {
            Err(ConfigError::BadSetting { var: var.to_owned(), value: value.to_owned(), expected: "use `on` or `off`" })
        }
    }
}

/// The variable holding `source`'s secrets: `twin-actor` → `SECRET_TWIN_ACTOR`.
pub fn secret_var(source: &str) -> String {
    let mut var = String::from("SECRET_");
    var.extend(source.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }));
    var
}

/// Splits a secret variable into its active secrets (comma- or space-separated).
pub fn split_secrets(value: &str) -> impl Iterator<Item = &str> {
    value.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty())
}

/// Checks a source name: it appears in URL paths and variable names.
pub fn check_source_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadName(name.to_owned()))
    }
}

impl SourceConfig {
    /// Resolves the source's secrets with `secret_of` (a variable lookup) and applies defaults.
    pub fn resolve(self, secret_of: &dyn Fn(&str) -> Option<String>) -> Result<Source, ConfigError> {
        check_source_name(&self.name)?;
        let scheme = match (self.scheme, &self.hmac) {
            (SchemeName::Builtin(scheme), None) => SourceScheme::Builtin(scheme),
            (SchemeName::Builtin(_), Some(_)) => return Err(ConfigError::StrayHmac(self.name)),
            (SchemeName::Hmac, Some(profile)) => SourceScheme::Hmac(Arc::new(
                HmacProfile::from_json(profile)
                    .map_err(|error| ConfigError::BadHmac { source_name: self.name.clone(), error })?,
            )),
            (SchemeName::Hmac, None) => {
                return Err(ConfigError::BadHmac {
                    source_name: self.name,
                    error: ProfileError::Shape(
                        "is missing: name a preset (\"hmac\": \"shopify\") or write a profile (see README.md)"
                            .to_owned(),
                    ),
                })
            }
        };
        let var = secret_var(&self.name);
        let configured = secret_of(&var).unwrap_or_default();
        let secrets = split_secrets(&configured)
            .map(|s| scheme.implementation().parse_secret(s.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| ConfigError::BadSecret { source_name: self.name.clone(), var: var.clone(), error })?;
        if secrets.is_empty() {
            return Err(ConfigError::MissingSecret { source_name: self.name, var });
        }
        // A delivery carries at most this many signatures (one per secret its sender holds):
        // more secrets than that could never all be in use, and a sender signing with each
        // would be refused.
        if secrets.len() > crate::signature::MAX_SIGNATURES {
            return Err(ConfigError::TooManySecrets { source_name: self.name, var, count: secrets.len() });
        }
        if !self.rules.is_empty() && !scheme.implementation().reads_event_time() && self.created.is_none() {
            return Err(ConfigError::NoEventTime { source_name: self.name });
        }
        for rule in &self.rules {
            rule.validate()
                .map_err(|e| ConfigError::BadRule { source_name: self.name.clone(), reason: e.to_string() })?;
        }
        let mut rules = self.rules;
        rules.extend(scheme.builtin().map(BuiltinScheme::builtin_rules).unwrap_or_default());
        Ok(Source {
            tenant: self.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned()),
            tolerance_secs: self.tolerance_secs.unwrap_or_else(|| scheme.implementation().default_tolerance_secs()),
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            rate_limit_per_minute: self.rate_limit_per_minute.unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
            created: self.created,
            name: self.name,
            scheme,
            secrets,
            rules,
        })
    }
}

/// Reads `HOOKFEED_SOURCES` and resolves every source's secrets.
pub fn load_sources(json: &str, secret_of: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Source>, ConfigError> {
    let configs: Vec<SourceConfig> = serde_json::from_str(json).map_err(|e| ConfigError::InvalidJson(e.to_string()))?;
    let mut seen = HashSet::new();
    let sources = configs
        .into_iter()
        .map(|config| {
            if !seen.insert(config.name.clone()) {
                return Err(ConfigError::Duplicate(config.name));
            }
            config.resolve(secret_of)
        })
        .collect::<Result<Vec<Source>, ConfigError>>()?;
    // Within a tenant, a delivery re-posted to a sibling source is caught by its replay key
    // (the feed keys signed content per tenant); across tenants nothing could catch it.
    for (i, a) in sources.iter().enumerate() {
        for b in &sources[i + 1..] {
            if a.tenant != b.tenant && a.secrets.iter().any(|s| b.secrets.contains(s)) {
                return Err(ConfigError::SharedAcrossTenants { first: a.name.clone(), second: b.name.clone() });
            }
        }
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(var: &str) -> Option<String> {
        match var {
            "SECRET_TWIN_ACTOR" => Some("new-secret, old-secret".into()),
            "SECRET_HOOKS" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            _ => None,
        }
    }

    #[test]
    fn sources_of_two_tenants_may_not_share_a_secret() {
        let json = r#"[{"name": "a", "scheme": "github", "tenant": "t1"}, {"name": "b", "scheme": "github", "tenant": "t2"},
                       {"name": "c", "scheme": "github", "tenant": "t1"}]"#;
        let one = |_: &str| Some("shared, rotated".to_owned());
        let err = load_sources(json, &one).expect_err("shared across tenants");
        assert_eq!(err, ConfigError::SharedAcrossTenants { first: "a".into(), second: "b".into() });
        assert!(!err.to_string().contains("shared,"), "the message names no secret: {err}");
        // Within one tenant a shared secret is fine; a rotation overlapping another
        // tenant's secret is not.
        let same =
            r#"[{"name": "a", "scheme": "github", "tenant": "t1"}, {"name": "c", "scheme": "github", "tenant": "t1"}]"#;
        assert!(load_sources(same, &one).is_ok());
        let overlap = |var: &str| Some(if var == "SECRET_A" { "new, old" } else { "old" }.to_owned());
        let two =
            r#"[{"name": "a", "scheme": "github", "tenant": "t1"}, {"name": "b", "scheme": "github", "tenant": "t2"}]"#;
        assert!(load_sources(two, &overlap).is_err());
    }

    #[test]
    fn settings_read_numbers_and_switches_and_name_the_variable_when_wrong() {
        assert_eq!(whole_number_setting("HOOKFEED_RETENTION_DAYS", " 14 ").expect("a number"), 14);
        let err = whole_number_setting("HOOKFEED_RETENTION_DAYS", "a week").expect_err("not a number");
        assert_eq!(err.to_string(), "HOOKFEED_RETENTION_DAYS cannot be `a week`: use a whole number such as 7");
        for (value, expected) in [("on", true), ("TRUE", true), (" off", false), ("False", false)] {
            assert_eq!(switch_setting("HOOKFEED_WEBSOCKET_COMPRESSION", value).expect("a switch"), expected, "{value}");
        }
        let err = switch_setting("HOOKFEED_WEBSOCKET_COMPRESSION", "yes please").expect_err("not a switch");
        assert_eq!(err.to_string(), "HOOKFEED_WEBSOCKET_COMPRESSION cannot be `yes please`: use `on` or `off`");
        assert_eq!(threshold_setting("HOOKFEED_WEBCRYPTO_MIN_BYTES", "4096"), Ok(Some(4096)));
        assert_eq!(threshold_setting("HOOKFEED_WEBCRYPTO_MIN_BYTES", " OFF "), Ok(None));
        let err = threshold_setting("HOOKFEED_WEBCRYPTO_MIN_BYTES", "big").expect_err("not a size");
        assert!(err.to_string().contains("or `off`"), "{err}");
    }

    #[test]
    fn sources_get_defaults_rotation_secrets_and_builtin_rules() {
        let json = r#"[{"name":"twin-actor","scheme":"twin-actor","tenant":"acme"},
                       {"name":"hooks","scheme":"standard-webhooks","tolerance_secs":600}]"#;
        let sources = load_sources(json, &secrets).expect("valid config");
        assert_eq!(sources[0].secrets.len(), 2);
        let many = vec!["s"; 17].join(",");
        let err =
            load_sources(r#"[{"name":"stripe","scheme":"stripe"}]"#, &|_| Some(many.clone())).expect_err("17 secrets");
        assert!(matches!(err, ConfigError::TooManySecrets { count: 17, .. }), "{err}");
        assert_eq!(sources[0].tenant, "acme");
        assert_eq!(sources[0].tolerance_secs, 300);
        assert!(sources[0].rules.iter().any(|r| r.collection == "projects"));
        assert_eq!(sources[1].tenant, DEFAULT_TENANT);
        assert_eq!(sources[1].tolerance_secs, 600);
        assert_eq!(sources[1].secrets[0].expose().len(), 24);
    }

    #[test]
    fn a_source_without_a_secret_names_the_variable_to_set() {
        let err = load_sources(r#"[{"name":"percify","scheme":"percify"}]"#, &secrets).expect_err("no secret");
        assert_eq!(err.to_string(), "source `percify` has no secret: set SECRET_PERCIFY (wrangler secret put SECRET_PERCIFY, or .dev.vars locally)");
    }

    #[test]
    fn bad_configurations_are_refused_with_the_reason() {
        assert!(matches!(load_sources("{", &secrets), Err(ConfigError::InvalidJson(_))));
        assert!(matches!(
            load_sources(r#"[{"name":"Bad Name","scheme":"stripe"}]"#, &secrets),
            Err(ConfigError::BadName(_))
        ));
        assert!(matches!(
            load_sources(
                r#"[{"name":"twin-actor","scheme":"twin-actor"},{"name":"twin-actor","scheme":"twin-actor"}]"#,
                &secrets
            ),
            Err(ConfigError::Duplicate(_))
        ));
        assert!(matches!(
            load_sources(r#"[{"name":"twin-actor","scheme":"paypal"}]"#, &secrets),
            Err(ConfigError::InvalidJson(_))
        ));
    }

    #[test]
    fn hmac_sources_take_a_preset_or_a_profile_and_name_what_is_wrong() {
        let json = r#"[
          {"name": "shop", "scheme": "hmac", "hmac": "shopify"},
          {"name": "acme", "scheme": "hmac", "tolerance_secs": 60, "hmac": {
             "algorithm": "sha512", "content": "{id}.{timestamp}.{url}.{body}!",
             "signature": {"header": "Acme-Signature", "encoding": "base64", "prefix": "s=", "separator": ";"},
             "timestamp": {"header": "Acme-Signature", "prefix": "ts=", "separator": ";", "format": "rfc3339"},
             "secret": {"prefix": "acme_", "encoding": "base64"},
             "id": {"header": "Acme-Id"}, "type": {"field": ["type", "data.job_id"]}}}
        ]"#;
        let sources = load_sources(json, &|_| Some("acme_aGVsbG8gaG9va2ZlZWQ=".to_owned())).expect("valid config");
        assert_eq!(sources[0].scheme.name(), "hmac:shopify");
        assert!(sources[0].rules.is_empty(), "no built-in rules for a configured scheme");
        assert_eq!(sources[1].scheme.name(), "hmac");
        assert_eq!(sources[1].secrets[0].expose(), b"hello hookfeed");
        assert_eq!(sources[1].tolerance_secs, 60);

        let err = |json: &str| load_sources(json, &secrets).expect_err("refused").to_string();
        assert_eq!(
            err(r#"[{"name":"twin-actor","scheme":"hmac"}]"#),
            "source `twin-actor`: `hmac` is missing: name a preset (\"hmac\": \"shopify\") or write a profile (see README.md)"
        );
        assert!(err(r#"[{"name":"twin-actor","scheme":"stripe","hmac":"slack"}]"#).contains("its scheme is not `hmac`"));
        assert_eq!(
            err(
                r#"[{"name":"twin-actor","scheme":"hmac","hmac":{"signature":{"header":"X"},"content":"{ts}{body}","id":{"field":"id"},"type":{"field":"type"}}}]"#
            ),
            "source `twin-actor`: `hmac` `content`: unknown placeholder `{ts}`: use {body}, {timestamp}, {id}, {url}"
        );
        assert_eq!(
            err(r#"[{"name":"twin-actor","scheme":"hmac","hmac":"clerk"}]"#),
            "secret SECRET_TWIN_ACTOR of source `twin-actor` is unusable: secret is not base64 (the profile's `secret.encoding`)"
        );
    }

    #[test]
    fn secret_variables_are_derived_from_source_names() {
        assert_eq!(secret_var("twin-actor"), "SECRET_TWIN_ACTOR");
        assert_eq!(secret_var("percify"), "SECRET_PERCIFY");
    }
}
