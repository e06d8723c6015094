//! A profile as configured: the JSON schema of a source's `hmac` object, the presets, and
//! why a profile cannot be used.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::mac::Algorithm;
use crate::time::TimeFormat;

/// The built-in presets, by name: one provider's profile each.
pub const PRESETS_JSON: &str = include_str!("presets.json");

/// Longest configured string (header name, prefix, literal text): profiles describe
/// headers, not documents.
pub(super) const MAX_CONFIG_TEXT: usize = 256;

/// A profile as written in a source's `hmac` object (or a preset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The hash: `sha1`, `sha256` (default) or `sha512`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Where the signature is and how it is written.
    pub signature: SignatureConfig,
    /// What is signed: a template over `{body}`, `{timestamp}`, `{id}` and `{url}`.
    #[serde(default = "body_only")]
    pub content: String,
    /// The signed timestamp, for providers that sign one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampConfig>,
    /// How the configured secret turns into the key.
    #[serde(default, skip_serializing_if = "SecretConfig::is_default")]
    pub secret: SecretConfig,
    /// Where the event id is.
    pub id: ValueSource,
    /// Where the event type is.
    #[serde(rename = "type")]
    pub event_type: ValueSource,
    /// Where the event's creation time is, if the body says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<CreatedConfig>,
    /// The replay tolerance the provider documents, unless the source sets its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
}

fn body_only() -> String {
    "{body}".to_owned()
}

/// Where a profile's signature is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    /// The header's name (any case).
    pub header: String,
    /// `hex` (default) or `base64`.
    #[serde(default)]
    pub encoding: Encoding,
    /// What precedes each signature (`sha256=`, `v0=`, `v1,`); entries without it are
    /// skipped, so other versions and the timestamp entry pass by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// What separates entries when the header holds several (`,`, `;`, ` `).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// How a signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, either case.
    #[default]
    Hex,
    /// Standard base64, padded or not.
    Base64,
}

/// Where a profile's signed timestamp is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    /// The header's name; it may be the signature header (`t=…,v1=…`).
    pub header: String,
    /// The entry's prefix (`t=`, `ts=`) when the header holds several entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// What separates the header's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// `unix` (seconds, default), `unix_ms` or `rfc3339` (ISO 8601 with an offset).
    #[serde(default)]
    pub format: TimeFormat,
}

/// How a configured secret becomes the HMAC key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// A prefix the provider puts on its secrets (`whsec_`), removed when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `text` (its bytes are the key, default) or `base64` (the key is the decoding).
    #[serde(default)]
    pub encoding: SecretEncoding,
}

impl SecretConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// How a secret is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretEncoding {
    /// The text's bytes are the key.
    #[default]
    Text,
    /// The key is the text's standard base64 decoding.
    Base64,
}

/// Where a value is: a header, or one or more body fields (dotted paths, joined by `.`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSource {
    /// A request header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A body field (`event_id`, `event.type`), or several whose values are joined with
    /// `.` (`["type", "action"]` → `Issue.create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Fields>,
}

/// One body field or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fields {
    /// One dotted path.
    One(String),
    /// Several, joined with `.`.
    Joined(Vec<String>),
}

impl Fields {
    pub(super) fn paths(&self) -> &[String] {
        match self {
            Self::One(path) => std::slice::from_ref(path),
            Self::Joined(paths) => paths,
        }
    }
}

/// Where the event's creation time is in the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatedConfig {
    /// The body field (dotted path).
    pub field: String,
    /// How it is written.
    #[serde(default)]
    pub format: TimeFormat,
    /// Apply the replay window to it, for a provider that signs no timestamp but stamps
    /// each attempt (Linear's `webhookTimestamp`). Leave it off where retries keep the
    /// first attempt's time, or a retry after the tolerance would be refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub window: bool,
}

/// Why a profile cannot be used. The message names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// `hmac` names no preset.
    #[error("unknown preset `{name}`: expected one of {known}, or a profile object")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The presets there are.
        known: String,
    },
    /// `hmac` is neither a preset's name nor a profile object of the right shape.
    #[error("{0}")]
    Shape(String),
    /// A field has a value the profile cannot use.
    #[error("`{field}`: {reason}")]
    BadField {
        /// The field, as a path in the profile (`signature.header`).
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

pub(super) fn bad(field: &'static str, reason: impl Into<String>) -> ProfileError {
    ProfileError::BadField { field, reason: reason.into() }
}

/// The presets' names and profiles, in `presets.json`'s order.
pub fn presets() -> Vec<(String, ProfileConfig)> {
    // presets.json is part of the crate and a test loads every entry; an entry that did
    // not read would be missing here, not a panic.
    let entries: Map<String, Value> = serde_json::from_str(PRESETS_JSON).unwrap_or_default();
    entries.into_iter().filter_map(|(name, value)| Some((name, serde_json::from_value(value).ok()?))).collect()
}
