//! Standard Webhooks: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64> [v1,<base64> …]` over `"{id}.{timestamp}.{raw body}"`.
//!
//! Specification: <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//! Secrets are `whsec_` followed by the base64 key; signatures of other versions
//! (`v1a,…`) are ignored; the spec's published test vector is in `tests/vectors/`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::body::{samples, BodyLayout, Field, SampleBody};
use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput, Tags};
use super::error::{SecretError, SignatureError};
use super::header::{parse_unix_secs, required};
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::mac::hmac_sha256;
use crate::secret::Secret;
use crate::time::TimeFormat;

/// The message id header.
pub const ID_HEADER: &str = "webhook-id";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const SECRET_PREFIX: &str = "whsec_";

/// The spec puts the message id in `webhook-id`; the body has `type`, `timestamp`
/// (RFC 3339) and `data`.
pub const BODY: BodyLayout = BodyLayout { id: Field::Header, ..BodyLayout::envelope("timestamp", TimeFormat::Rfc3339) };

/// The provider's documented bodies, one per event type.
pub const SAMPLES: &[SampleBody] = samples!("standard-webhooks": "job.completed", "job.processing");

/// The Standard Webhooks scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardWebhooks;

/// Decodes `whsec_<base64>` (the prefix is optional, as in the reference libraries).
pub(super) fn parse_secret(configured: &str) -> Result<Secret, SecretError> {
    let encoded = configured.strip_prefix(SECRET_PREFIX).unwrap_or(configured);
    let key = STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?;
    if key.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok(Secret::from_bytes(key))
}

impl Scheme for StandardWebhooks {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h> {
        let id = required(headers, ID_HEADER)?;
        let ts_text = required(headers, TIMESTAMP_HEADER)?;
        let timestamp = parse_unix_secs(ts_text, TIMESTAMP_HEADER)?;
        let value = required(headers, SIGNATURE_HEADER)?;
        let mut candidates = Tags::new();
        let mut saw_other_length = false;
        for item in value.split_ascii_whitespace() {
            let (version, sig) = item.split_once(',').ok_or(SignatureError::MalformedHeader {
                header: SIGNATURE_HEADER.into(),
                reason: "expected space-separated `v1,<base64>` entries",
            })?;
            if version != "v1" {
                continue;
            }
            let mut decoded = [0u8; 48];
            let len = STANDARD
                .decode_slice(sig, &mut decoded)
                .map_err(|_| SignatureError::BadEncoding { header: SIGNATURE_HEADER.into(), expected: "base64" })?;
            // A signature of another length cannot match; it still counts as present.
            let mut tag = [0u8; 32];
            if len == tag.len() {
                tag.copy_from_slice(&decoded[..len]);
                candidates.push(tag.into(), SIGNATURE_HEADER)?;
            } else {
                saw_other_length = true;
            }
        }
        if candidates.is_empty() && !saw_other_length {
            return Err(SignatureError::MalformedHeader {
                header: SIGNATURE_HEADER.into(),
                reason: "no `v1,` signature",
            });
        }
        window.check(timestamp)?;
        let claims = SignedHeaders { timestamp: Some(timestamp), event_id: Some(id), event_type: None };
        Ok(SignedContent::new(&[id.as_bytes(), b".", ts_text.as_bytes(), b"."], candidates, claims))
    }

    fn header_names(&self) -> Vec<&str> {
        vec![ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        let ts = input.timestamp.as_secs().to_string();
        let parts: [&[u8]; 5] = [input.event_id.as_bytes(), b".", ts.as_bytes(), b".", input.body];
        let signatures: Vec<String> =
            secrets.iter().map(|s| format!("v1,{}", STANDARD.encode(hmac_sha256(s, &parts).as_bytes()))).collect();
        vec![
            (ID_HEADER.to_owned(), input.event_id.to_owned()),
            (TIMESTAMP_HEADER.to_owned(), ts),
            (SIGNATURE_HEADER.to_owned(), signatures.join(" ")),
        ]
    }

    /// An event without a body `timestamp` happened when it was signed.
    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        let mut event = BODY.read(object, signed)?;
        event.created = event.created.or(signed.timestamp);
        Ok(event)
    }

    fn example_secret(&self) -> &'static str {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    }

    fn parse_secret(&self, configured: &str) -> Result<Secret, SecretError> {
        parse_secret(configured)
    }
}
