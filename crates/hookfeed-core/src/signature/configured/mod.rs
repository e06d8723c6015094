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

mod body_fields;
mod config;
mod header_values;
mod template;
mod validate;

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use serde_json::{Map, Value};

pub use crate::time::TimeFormat;
pub(crate) use body_fields::read_time;
pub use config::{
    presets, CreatedConfig, Encoding, Fields, ProfileConfig, ProfileError, SecretConfig, SecretEncoding,
    SignatureConfig, TimestampConfig, ValueSource, PRESETS_JSON,
};

use body_fields::read_value;
use header_values::{decode, entries, parse_time, strip};
use template::Piece;

use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput, Tags, MAX_PIECES};
use super::error::{owned, SecretError, SignatureError};
use super::header::required;
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::secret::Secret;
use crate::time::UnixTime;

/// The pseudo-header through which a caller passes the request's public URL for `{url}`.
/// HTTP header names cannot contain `:`, so no request header can pose as it.
pub const URL_HEADER: &str = ":url";

/// A checked profile: a [`Scheme`] built from configuration.
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
        let (before, after) = validate::check_profile(&config)?;
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
        let timestamp = self.config.timestamp.as_ref().map(|t| (t, t.format.format(input.timestamp)));
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

impl Scheme for HmacProfile {
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
    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
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
