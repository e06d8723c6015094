//! Any HMAC provider by configuration: a source with `"scheme": "hmac"` describes how its
//! provider signs in an `hmac` profile, or names a built-in preset (`"hmac": "shopify"`).
//!
//! A profile says which header carries the signature (hex or base64, an optional prefix
//! such as `sha256=` or `v1,`, and a separator when the header holds several entries),
//! which hash (SHA-1, SHA-256, SHA-512), what is signed (a template over `{body}`,
//! `{timestamp}`, `{id}` and `{url}`), where the signed timestamp is (its own header, or an
//! entry of the signature header such as Paddle's `ts=`) and in which format, how the
//! configured secret decodes, and where the event id, type and creation time are (a header
//! or a body field). Everything is checked when the configuration loads, so verification
//! only reads headers and never meets a shape it was not written for.
//!
//! The presets (`presets.json`, beside this file) are the one description of each
//! provider's shape: the README's table shows them and `tests/vectors/hmac-*.json` runs
//! each against a vector from that provider's documentation or official SDK.
//!
//! `{url}` is the public URL the provider posted to (Square signs it). The caller passes it
//! as the [`URL_HEADER`] pseudo-header, a name no HTTP header can have, so a request's own
//! headers can never supply it.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    owned, parse_unix, required, Algorithm, EventResult, Headers, ReplayWindow, SecretError, SignatureError,
    SignatureScheme, SignedContent, SignedContentResult, SignedHeaders, SigningInput, Tag, Tags, MAX_HEADER_LEN,
    MAX_PIECES,
};
use crate::event::{EventError, EventParts};
use crate::secret::Secret;
use crate::time::UnixTime;

/// The pseudo-header through which a caller passes the request's public URL for `{url}`.
/// HTTP header names cannot contain `:`, so no request header can pose as it.
pub const URL_HEADER: &str = ":url";

/// The built-in presets, by name: one provider's profile each.
pub const PRESETS_JSON: &str = include_str!("presets.json");

/// The placeholders a content template may use.
const PLACEHOLDERS: &str = "{body}, {timestamp}, {id}, {url}";

/// Longest configured string (header name, prefix, literal text): profiles describe
/// headers, not documents.
const MAX_CONFIG_TEXT: usize = 256;

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

/// How a time is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Unix seconds.
    #[default]
    Unix,
    /// Unix milliseconds.
    UnixMs,
    /// RFC 3339 (ISO 8601 with a time zone), such as `2020-01-01T00:00:00-07:00`.
    Rfc3339,
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
    fn paths(&self) -> &[String] {
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

fn bad(field: &'static str, reason: impl Into<String>) -> ProfileError {
    ProfileError::BadField { field, reason: reason.into() }
}

/// One piece of a content template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Timestamp,
    Id,
    Url,
}

/// A checked profile: a [`SignatureScheme`] built from configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacProfile {
    /// The preset's name, or `hmac` for a profile written out.
    name: String,
    config: ProfileConfig,
    /// The template's pieces before `{body}`, then after it.
    before: Vec<Piece>,
    after: Vec<Piece>,
}

impl fmt::Debug for HmacProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacProfile").field("name", &self.name).field("config", &self.config).finish()
    }
}

/// The presets' names and profiles, in `presets.json`'s order.
pub fn presets() -> Vec<(String, ProfileConfig)> {
    // presets.json is part of the crate and a test loads every entry; an entry that did
    // not read would be missing here, not a panic.
    let entries: Map<String, Value> = serde_json::from_str(PRESETS_JSON).unwrap_or_default();
    entries.into_iter().filter_map(|(name, value)| Some((name, serde_json::from_value(value).ok()?))).collect()
}

impl HmacProfile {
    /// Reads a source's `hmac` value: a preset's name, or a profile object.
    pub fn from_json(value: &Value) -> Result<Self, ProfileError> {
        match value {
            Value::String(name) => Self::preset(name),
            Value::Object(_) => {
                let config = serde_json::from_value(value.clone()).map_err(|e| ProfileError::Shape(e.to_string()))?;
                Self::new("hmac", config)
            }
            _ => Err(ProfileError::Shape("expected a preset's name or a profile object".to_owned())),
        }
    }

    /// The built-in preset called `name`.
    pub fn preset(name: &str) -> Result<Self, ProfileError> {
        let presets = presets();
        match presets.iter().find(|(preset, _)| preset == name) {
            Some((preset, config)) => Self::new(preset, config.clone()),
            None => Err(ProfileError::UnknownPreset {
                name: crate::refusal::quote(name),
                known: presets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Checks `config` and builds the profile; `name` is how it is shown.
    pub fn new(name: &str, config: ProfileConfig) -> Result<Self, ProfileError> {
        let sig = &config.signature;
        check_header("signature.header", &sig.header)?;
        check_entry_text("signature.prefix", sig.prefix.as_deref(), sig.separator.as_deref())?;
        check_separator("signature.separator", sig.separator.as_deref())?;
        if let Some(timestamp) = &config.timestamp {
            check_header("timestamp.header", &timestamp.header)?;
            check_entry_text("timestamp.prefix", timestamp.prefix.as_deref(), timestamp.separator.as_deref())?;
            check_separator("timestamp.separator", timestamp.separator.as_deref())?;
            if timestamp.header.eq_ignore_ascii_case(&sig.header) {
                // One header holds both (`t=…,v1=…`): each entry must be told apart.
                let (Some(ts), Some(prefix)) = (&timestamp.prefix, &sig.prefix) else {
                    return Err(bad(
                        "timestamp.prefix",
                        "the timestamp shares the signature's header: give both entries a prefix (`t=`, `v1=`)",
                    ));
                };
                if ts.starts_with(prefix.as_str()) || prefix.starts_with(ts.as_str()) {
                    return Err(bad("timestamp.prefix", "must not begin like `signature.prefix`, nor it like this"));
                }
                if timestamp.separator != sig.separator {
                    return Err(bad("timestamp.separator", "must be the signature's: they share a header"));
                }
            }
        }
        let own_headers: Vec<&str> =
            std::iter::once(sig.header.as_str()).chain(config.timestamp.as_ref().map(|t| t.header.as_str())).collect();
        for (field, source) in [("id.header", &config.id), ("type.header", &config.event_type)] {
            if let Some(header) = &source.header {
                if own_headers.iter().any(|h| h.eq_ignore_ascii_case(header)) {
                    return Err(bad(field, "must be a header of its own, not the signature's or timestamp's"));
                }
            }
        }
        check_text("secret.prefix", config.secret.prefix.as_deref())?;
        check_source("id", &config.id)?;
        check_source("type", &config.event_type)?;
        if let Some(created) = &config.created {
            check_path("created.field", &created.field)?;
            if created.window && config.timestamp.is_some() {
                return Err(bad("created.window", "the profile signs a timestamp: the replay window applies to it"));
            }
        }
        let (before, after) = parse_template(&config.content)?;
        for piece in before.iter().chain(&after) {
            match piece {
                Piece::Timestamp if config.timestamp.is_none() => {
                    return Err(bad("content", "`{timestamp}` needs a `timestamp` saying where it is"))
                }
                Piece::Id if config.id.header.is_none() => {
                    return Err(bad("content", "`{id}` is signed from a header: set `id.header`"))
                }
                _ => {}
            }
        }
        Ok(Self { name: name.to_owned(), config, before, after })
    }

    /// The preset's name, or `hmac`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile as configured.
    pub fn config(&self) -> &ProfileConfig {
        &self.config
    }

    /// Whether the content signs `{url}`: the caller must pass [`URL_HEADER`].
    pub fn signs_url(&self) -> bool {
        self.before.iter().chain(&self.after).any(|p| *p == Piece::Url)
    }

    /// The headers a provider would send for `input` posted to `url`, one signature per
    /// secret (where the header holds several; else the first secret's).
    pub fn sign_with_url(&self, input: &SigningInput<'_>, url: &str, secrets: &[Secret]) -> Vec<(String, String)> {
        let sig = &self.config.signature;
        let timestamp = self.config.timestamp.as_ref().map(|t| (t, format_time(input.timestamp, t.format)));
        let piece = |p: &Piece| -> Vec<u8> {
            match p {
                Piece::Text(text) => text.as_bytes().to_vec(),
                Piece::Timestamp => timestamp.as_ref().map(|(_, text)| text.as_bytes().to_vec()).unwrap_or_default(),
                Piece::Id => input.event_id.as_bytes().to_vec(),
                Piece::Url => url.as_bytes().to_vec(),
            }
        };
        let before: Vec<Vec<u8>> = self.before.iter().map(piece).collect();
        let after: Vec<Vec<u8>> = self.after.iter().map(piece).collect();
        let mut parts: Vec<&[u8]> = before.iter().map(Vec::as_slice).collect();
        parts.push(input.body);
        parts.extend(after.iter().map(Vec::as_slice));
        let prefix = sig.prefix.as_deref().unwrap_or("");
        let keep = if sig.separator.is_some() { secrets.len() } else { secrets.len().min(1) };
        let signatures: Vec<String> = secrets[..keep]
            .iter()
            .map(|secret| {
                let tag = self.config.algorithm.mac(secret, &parts);
                let encoded = match sig.encoding {
                    Encoding::Hex => hex::encode(tag.as_bytes()),
                    Encoding::Base64 => STANDARD.encode(tag.as_bytes()),
                };
                format!("{prefix}{encoded}")
            })
            .collect();
        let separator = sig.separator.as_deref().unwrap_or("");
        let mut signature = signatures.join(separator);
        let mut headers = Vec::new();
        if let Some((config, text)) = &timestamp {
            let entry = format!("{}{text}", config.prefix.as_deref().unwrap_or(""));
            if config.header.eq_ignore_ascii_case(&sig.header) {
                signature = format!("{entry}{separator}{signature}");
            } else {
                headers.push((config.header.clone(), entry));
            }
        }
        headers.insert(0, (sig.header.clone(), signature));
        for (source, value) in [(&self.config.id, input.event_id), (&self.config.event_type, input.event_type)] {
            if let Some(header) = &source.header {
                headers.push((header.clone(), value.to_owned()));
            }
        }
        headers
    }

    /// The signatures the header offers, decoded.
    fn candidates(&self, value: &str) -> Result<Tags, SignatureError> {
        let sig = &self.config.signature;
        let header = sig.header.as_str();
        let mut candidates = Tags::new();
        for entry in entries(value, sig.separator.as_deref()) {
            let Some(encoded) = strip(entry, sig.prefix.as_deref()) else { continue };
            candidates.push(decode(encoded, sig.encoding, self.config.algorithm, header)?, header)?;
        }
        if candidates.is_empty() {
            let reason = match sig.prefix {
                Some(_) => "no signature with the configured prefix",
                None => "no signature",
            };
            return Err(SignatureError::MalformedHeader { header: owned(header), reason });
        }
        Ok(candidates)
    }

    /// The signed timestamp as sent (the text that is signed) and as a time.
    fn timestamp<'h>(&'h self, headers: &'h dyn Headers) -> Result<Option<(&'h str, UnixTime)>, SignatureError> {
        let Some(config) = &self.config.timestamp else { return Ok(None) };
        let header = config.header.as_str();
        let value = required(headers, header)?;
        let text = match config.prefix.as_deref() {
            None => value,
            Some(prefix) => {
                let mut found = entries(value, config.separator.as_deref()).filter_map(|e| e.strip_prefix(prefix));
                let malformed = |reason| SignatureError::MalformedHeader { header: owned(header), reason };
                let text = found.next().ok_or_else(|| malformed("no timestamp entry with the configured prefix"))?;
                if found.next().is_some() {
                    return Err(malformed("more than one timestamp"));
                }
                text.trim()
            }
        };
        Ok(Some((text, parse_time(text, config.format, header)?)))
    }
}

impl SignatureScheme for HmacProfile {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h> {
        let candidates = self.candidates(required(headers, &self.config.signature.header)?)?;
        let timestamp = self.timestamp(headers)?;
        let from_header = |source: &ValueSource| -> Result<Option<&'h str>, SignatureError> {
            source.header.as_deref().map(|h| required(headers, h)).transpose()
        };
        let event_id = from_header(&self.config.id)?;
        let event_type = from_header(&self.config.event_type)?;
        let url = if self.signs_url() { required(headers, URL_HEADER)? } else { "" };
        if let Some((_, at)) = timestamp {
            window.check(at)?;
        }
        let piece = |p: &'h Piece| -> &'h [u8] {
            match p {
                Piece::Text(text) => text.as_bytes(),
                Piece::Timestamp => timestamp.map_or(&[][..], |(text, _)| text.as_bytes()),
                Piece::Id => event_id.unwrap_or_default().as_bytes(),
                Piece::Url => url.as_bytes(),
            }
        };
        let mut before: [&'h [u8]; MAX_PIECES] = [&[]; MAX_PIECES];
        let mut after: [&'h [u8]; MAX_PIECES] = [&[]; MAX_PIECES];
        for (slot, p) in before.iter_mut().zip(&self.before) {
            *slot = piece(p);
        }
        for (slot, p) in after.iter_mut().zip(&self.after) {
            *slot = piece(p);
        }
        let claims = SignedHeaders { timestamp: timestamp.map(|(_, at)| at), event_id, event_type };
        Ok(SignedContent::around(
            &before[..self.before.len()],
            &after[..self.after.len()],
            self.config.algorithm,
            candidates,
            claims,
        ))
    }

    fn header_names(&self) -> Vec<&str> {
        let config = &self.config;
        let mut names = vec![config.signature.header.as_str()];
        let optional = [
            config.timestamp.as_ref().map(|t| t.header.as_str()),
            config.id.header.as_deref(),
            config.event_type.header.as_deref(),
            self.signs_url().then_some(URL_HEADER),
        ];
        for name in optional.into_iter().flatten() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name);
            }
        }
        names
    }

    /// Signs as [`sign_with_url`](HmacProfile::sign_with_url) does with an empty `{url}`:
    /// a profile that signs the URL needs the URL the delivery goes to.
    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        self.sign_with_url(input, "", secrets)
    }

    /// The body is the payload as a whole (rules' `id_field` paths start at its top);
    /// id, type and `created` come from where the profile says.
    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> EventResult {
        let id = read_value(&object, &self.config.id, signed.event_id, "id")?;
        let event_type = read_value(&object, &self.config.event_type, signed.event_type, "type")?;
        let created = match &self.config.created {
            Some(created) => read_time(&object, created)?,
            None => None,
        };
        Ok(EventParts { id, event_type, created, data: Value::Object(object) })
    }

    fn example_secret(&self) -> &'static str {
        match self.config.secret.encoding {
            SecretEncoding::Text => "demo-secret-for-tests",
            // The Standard Webhooks specification's example key (base64 of 24 bytes).
            SecretEncoding::Base64 => "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
    }

    fn parse_secret(&self, configured: &str) -> Result<Secret, SecretError> {
        let prefix = self.config.secret.prefix.as_deref().unwrap_or("");
        // As the Standard Webhooks libraries do: the prefix may be left off.
        let text = configured.strip_prefix(prefix).unwrap_or(configured);
        let key = match self.config.secret.encoding {
            SecretEncoding::Text => text.as_bytes().to_vec(),
            SecretEncoding::Base64 => STANDARD
                .decode(text)
                .or_else(|_| STANDARD_NO_PAD.decode(text))
                .map_err(|_| SecretError::BadEncoding { expected: "base64 (the profile's `secret.encoding`)" })?,
        };
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret::from_bytes(key))
    }

    fn default_tolerance_secs(&self) -> u64 {
        self.config.tolerance_secs.unwrap_or(300)
    }

    /// Without a signed timestamp, `created` with `window` is the replay window's clock.
    fn reads_event_time(&self) -> bool {
        self.config.created.is_some()
    }

    fn window_on_body_created(&self) -> bool {
        self.config.timestamp.is_none() && self.config.created.as_ref().is_some_and(|c| c.window)
    }
}

/// The entries of a header: the whole value, or its parts between separators, trimmed.
fn entries<'v>(value: &'v str, separator: Option<&'v str>) -> impl Iterator<Item = &'v str> {
    let (whole, parts) = match separator {
        Some(separator) => (None, Some(value.split(separator))),
        None => (Some(value), None),
    };
    whole.into_iter().chain(parts.into_iter().flatten()).map(str::trim).filter(|e| !e.is_empty())
}

fn strip<'e>(entry: &'e str, prefix: Option<&str>) -> Option<&'e str> {
    match prefix {
        Some(prefix) => entry.strip_prefix(prefix),
        None => Some(entry),
    }
}

/// Decodes one signature; it must have the algorithm's length.
fn decode(encoded: &str, encoding: Encoding, algorithm: Algorithm, header: &str) -> Result<Tag, SignatureError> {
    let expected = match (encoding, algorithm) {
        (Encoding::Hex, Algorithm::Sha1) => "40 hex digits (HMAC-SHA1)",
        (Encoding::Hex, Algorithm::Sha256) => "64 hex digits (HMAC-SHA256)",
        (Encoding::Hex, Algorithm::Sha512) => "128 hex digits (HMAC-SHA512)",
        (Encoding::Base64, Algorithm::Sha1) => "base64 of a 20-byte HMAC-SHA1",
        (Encoding::Base64, Algorithm::Sha256) => "base64 of a 32-byte HMAC-SHA256",
        (Encoding::Base64, Algorithm::Sha512) => "base64 of a 64-byte HMAC-SHA512",
    };
    let refuse = || SignatureError::BadEncoding { header: owned(header), expected };
    let len = algorithm.tag_len();
    let mut bytes = [0u8; 96];
    match encoding {
        Encoding::Hex => {
            if encoded.len() != 2 * len {
                return Err(refuse());
            }
            hex::decode_to_slice(encoded, &mut bytes[..len]).map_err(|_| refuse())?;
        }
        Encoding::Base64 => {
            // 96 bytes hold any base64 that can decode to 64; longer is refused unread.
            if encoded.len() > 128 {
                return Err(refuse());
            }
            let decoded = STANDARD
                .decode_slice(encoded, &mut bytes)
                .or_else(|_| STANDARD_NO_PAD.decode_slice(encoded, &mut bytes))
                .map_err(|_| refuse())?;
            if decoded != len {
                return Err(refuse());
            }
        }
    }
    Ok(Tag::from_slice(&bytes[..len]))
}

fn parse_time(text: &str, format: TimeFormat, header: &str) -> Result<UnixTime, SignatureError> {
    match format {
        TimeFormat::Unix => parse_unix(text, header, 12).map(UnixTime::from_secs),
        TimeFormat::UnixMs => parse_unix(text, header, 15).map(UnixTime),
        TimeFormat::Rfc3339 => UnixTime::parse_rfc3339(text).ok_or_else(|| SignatureError::MalformedHeader {
            header: owned(header),
            reason: "timestamp is not RFC 3339 (ISO 8601 with a time zone)",
        }),
    }
}

fn format_time(at: UnixTime, format: TimeFormat) -> String {
    match format {
        TimeFormat::Unix => at.as_secs().to_string(),
        TimeFormat::UnixMs => at.as_millis().to_string(),
        TimeFormat::Rfc3339 => at.to_rfc3339(),
    }
}

/// The value at a dotted path of the body.
fn lookup<'v>(object: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut value = object.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn read_value(
    object: &Map<String, Value>,
    source: &ValueSource,
    from_header: Option<&str>,
    name: &'static str,
) -> Result<String, EventError> {
    if source.header.is_some() {
        return from_header.map(str::to_owned).ok_or(EventError::MissingField(name));
    }
    let Some(fields) = &source.field else { return Err(EventError::MissingField(name)) };
    let mut joined = String::new();
    for path in fields.paths() {
        let text = match lookup(object, path) {
            Some(Value::String(s)) => s.clone(),
            // Numeric ids are common enough to accept as their decimal text.
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(EventError::MissingField(name)),
        };
        if !joined.is_empty() {
            joined.push('.');
        }
        joined.push_str(&text);
    }
    Ok(joined)
}

/// The time at `created`'s field of `object`, if it holds one; an error if it holds
/// something else.
pub(crate) fn read_time(object: &Map<String, Value>, created: &CreatedConfig) -> Result<Option<UnixTime>, EventError> {
    let invalid = |reason| EventError::InvalidField { field: "created", reason };
    let at = match (lookup(object, &created.field), created.format) {
        (None | Some(Value::Null), _) => return Ok(None),
        (Some(Value::String(s)), TimeFormat::Rfc3339) => {
            UnixTime::parse_rfc3339(s).ok_or(invalid("not an RFC 3339 timestamp"))?
        }
        (Some(Value::Number(n)), TimeFormat::Unix) => {
            UnixTime::from_secs(n.as_i64().ok_or(invalid("not whole Unix seconds"))?)
        }
        (Some(Value::Number(n)), TimeFormat::UnixMs) => UnixTime(n.as_i64().ok_or(invalid("not whole Unix ms"))?),
        _ => return Err(invalid("not in the configured `created.format`")),
    };
    Ok(Some(at))
}

/// Splits a template into the pieces before and after `{body}`.
fn parse_template(content: &str) -> Result<(Vec<Piece>, Vec<Piece>), ProfileError> {
    if content.len() > MAX_CONFIG_TEXT {
        return Err(bad("content", "longer than 256 bytes"));
    }
    let mut before = Vec::new();
    let mut after: Option<Vec<Piece>> = None;
    let mut rest = content;
    while !rest.is_empty() {
        let (piece, next) = match rest.find('{') {
            Some(0) => {
                let end = rest.find('}').ok_or_else(|| bad("content", format!("unclosed `{{`: use {PLACEHOLDERS}")))?;
                let piece = match &rest[..=end] {
                    "{body}" if after.is_some() => return Err(bad("content", "`{body}` appears twice")),
                    "{body}" => {
                        after = Some(Vec::new());
                        rest = &rest[end + 1..];
                        continue;
                    }
                    "{timestamp}" => Piece::Timestamp,
                    "{id}" => Piece::Id,
                    "{url}" => Piece::Url,
                    other => {
                        return Err(bad(
                            "content",
                            format!("unknown placeholder `{}`: use {PLACEHOLDERS}", crate::refusal::quote(other)),
                        ))
                    }
                };
                (piece, &rest[end + 1..])
            }
            Some(start) => (Piece::Text(rest[..start].to_owned()), &rest[start..]),
            None => (Piece::Text(rest.to_owned()), ""),
        };
        if let Piece::Text(text) = &piece {
            if text.contains('}') {
                return Err(bad("content", format!("unmatched `}}`: use {PLACEHOLDERS}")));
            }
        }
        after.as_mut().unwrap_or(&mut before).push(piece);
        rest = next;
    }
    let after = after.ok_or_else(|| bad("content", "must contain `{body}`: the raw body is always signed"))?;
    if before.len() + after.len() > MAX_PIECES {
        return Err(bad("content", "more than 8 pieces besides `{body}`"));
    }
    Ok((before, after))
}

fn check_header(field: &'static str, name: &str) -> Result<(), ProfileError> {
    // RFC 9110 token characters: what a header name may be made of.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > MAX_CONFIG_TEXT || !name.bytes().all(token) {
        return Err(bad(field, format!("`{}` is not a header name", crate::refusal::quote(name))));
    }
    Ok(())
}

fn check_text(field: &'static str, text: Option<&str>) -> Result<(), ProfileError> {
    match text {
        Some("") => Err(bad(field, "is empty: leave it out instead")),
        Some(text) if text.len() > MAX_CONFIG_TEXT || text.len() > MAX_HEADER_LEN => {
            Err(bad(field, "longer than 256 bytes"))
        }
        _ => Ok(()),
    }
}

/// Separators are made of `,` `;` `|` `&` and spaces: none of them can occur in hex,
/// base64, a Unix time or an RFC 3339 time, so splitting never cuts a value.
fn check_separator(field: &'static str, separator: Option<&str>) -> Result<(), ProfileError> {
    check_text(field, separator)?;
    if separator.is_some_and(|s| !s.chars().all(|c| matches!(c, ',' | ';' | '|' | '&' | ' '))) {
        return Err(bad(field, "use `,` `;` `|` `&` or spaces"));
    }
    Ok(())
}

/// A prefix of a header's entries: printable ASCII without surrounding spaces (entries are
/// trimmed) and without the separator's characters (it would be split).
fn check_entry_text(field: &'static str, prefix: Option<&str>, separator: Option<&str>) -> Result<(), ProfileError> {
    check_text(field, prefix)?;
    let Some(prefix) = prefix else { return Ok(()) };
    let printable = prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !printable || prefix.trim() != prefix {
        return Err(bad(field, "use printable ASCII without leading or trailing spaces"));
    }
    if separator.is_some_and(|s| prefix.chars().any(|c| s.contains(c))) {
        return Err(bad(field, "must not contain the separator's characters"));
    }
    Ok(())
}

fn check_path(field: &'static str, path: &str) -> Result<(), ProfileError> {
    if path.is_empty() || path.len() > MAX_CONFIG_TEXT || path.split('.').any(str::is_empty) {
        return Err(bad(field, format!("`{}` is not a dotted field path", crate::refusal::quote(path))));
    }
    Ok(())
}

fn check_source(field: &'static str, source: &ValueSource) -> Result<(), ProfileError> {
    match (&source.header, &source.field) {
        (Some(header), None) => check_header(field, header),
        (None, Some(fields)) if !fields.paths().is_empty() && fields.paths().len() <= MAX_PIECES => {
            fields.paths().iter().try_for_each(|path| check_path(field, path))
        }
        (None, Some(_)) => Err(bad(field, "give 1 to 8 fields")),
        _ => Err(bad(field, "set exactly one of `header` or `field`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> Result<HmacProfile, ProfileError> {
        HmacProfile::from_json(&serde_json::from_str(json).expect("test JSON"))
    }

    const MINIMAL: &str = r#"{"signature": {"header": "X-Sig"}, "id": {"field": "id"}, "type": {"field": "type"}"#;

    #[test]
    fn every_preset_loads() {
        let presets = presets();
        assert!(presets.len() >= 8, "only {} presets", presets.len());
        for (name, _) in &presets {
            let profile = HmacProfile::preset(name).unwrap_or_else(|e| panic!("preset {name}: {e}"));
            assert_eq!(profile.name(), name);
        }
        let entries: Map<String, Value> = serde_json::from_str(PRESETS_JSON).expect("presets.json is an object");
        assert_eq!(entries.len(), presets.len(), "every entry of presets.json reads as a profile");
    }

    #[test]
    fn templates_refuse_unknown_placeholders_and_missing_body() {
        let with = |content: &str| profile(&format!(r#"{MINIMAL}, "content": "{content}"}}"#));
        assert!(with("{body}").is_ok());
        assert!(with("v0:{url}:{body}!").is_ok());
        let err = with("{ts}.{body}").expect_err("unknown placeholder");
        assert_eq!(err.to_string(), "`content`: unknown placeholder `{ts}`: use {body}, {timestamp}, {id}, {url}");
        assert!(with("{timestamp}").expect_err("no body").to_string().contains("must contain `{body}`"));
        assert!(with("{body}{body}").expect_err("twice").to_string().contains("twice"));
        assert!(with("{timestamp}.{body}").expect_err("no timestamp").to_string().contains("`timestamp`"));
        assert!(with("{id}.{body}").expect_err("id from a field").to_string().contains("id.header"));
        assert!(with("{body").expect_err("unclosed").to_string().contains("unclosed"));
        assert!(with("a}{body}").expect_err("unmatched").to_string().contains("unmatched"));
        assert!(with("{url}{url}{url}{url}{url}{url}{url}{url}{url}{body}").is_err());
    }

    #[test]
    fn profiles_name_the_field_to_fix() {
        let err = profile(r#"{"signature": {"header": "X Sig"}, "id": {"field": "id"}, "type": {"field": "t"}}"#)
            .expect_err("bad header");
        assert_eq!(err.to_string(), "`signature.header`: `X Sig` is not a header name");
        let err = profile(r#"{"signature": {"header": "X"}, "id": {}, "type": {"field": "t"}}"#).expect_err("no id");
        assert_eq!(err.to_string(), "`id`: set exactly one of `header` or `field`");
        let err = profile(
            r#"{"signature": {"header": "X", "encodng": "hex"}, "id": {"field": "id"}, "type": {"field": "t"}}"#,
        )
        .expect_err("typo");
        assert!(err.to_string().contains("unknown field `encodng`"), "{err}");
        let err = profile(r#""paypal""#).expect_err("no such preset");
        assert!(err.to_string().starts_with("unknown preset `paypal`: expected one of "), "{err}");
        let err = profile(&format!(r#"{MINIMAL}, "timestamp": {{"header": "x-sig"}}}}"#)).expect_err("shared header");
        assert!(err.to_string().contains("timestamp.prefix"), "{err}");
    }

    #[test]
    fn a_configured_profile_signs_and_verifies_every_shape() {
        let shapes = [
            r#""algorithm": "sha1", "signature": {"header": "X-Sig", "prefix": "sha1="}"#,
            r#""algorithm": "sha512", "signature": {"header": "X-Sig", "encoding": "base64"}"#,
            r#""signature": {"header": "Sig", "prefix": "v1=", "separator": ","}, "content": "{timestamp}.{body}",
               "timestamp": {"header": "Sig", "prefix": "t=", "separator": ","}"#,
            r#""signature": {"header": "Sig", "encoding": "base64"}, "content": "{body}{timestamp}",
               "timestamp": {"header": "Ts", "format": "rfc3339"}"#,
            r#""signature": {"header": "Sig"}, "content": "{url}{body}""#,
            r#""signature": {"header": "Sig"}, "content": "{timestamp}:{body}",
               "timestamp": {"header": "Ts", "format": "unix_ms"}"#,
        ];
        let secrets = [Secret::from_bytes("k1"), Secret::from_bytes("k2")];
        for shape in shapes {
            let profile = profile(&format!(r#"{{{shape}, "id": {{"field": "id"}}, "type": {{"field": "type"}}}}"#))
                .unwrap_or_else(|e| panic!("{shape}: {e}"));
            let body = br#"{"id":"evt_1","type":"a.b"}"#;
            let at = UnixTime::from_secs(1_700_000_000);
            let input = SigningInput { body, timestamp: at, event_id: "evt_1", event_type: "a.b" };
            let mut headers = profile.sign_with_url(&input, "https://edge.test/hooks/x", &secrets[1..]);
            headers.push((URL_HEADER.to_owned(), "https://edge.test/hooks/x".to_owned()));
            let window = ReplayWindow { now: at, tolerance_secs: 300 };
            assert!(profile.verify(&headers, body, &secrets, window).is_ok(), "{shape}: {headers:?}");
            assert_eq!(profile.verify(&headers, b"{}", &secrets, window).err(), Some(SignatureError::NoMatch));
        }
    }
}
