//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, with
//! `X-GitHub-Delivery` (a unique id per delivery) and `X-GitHub-Event`.
//!
//! GitHub's docs ("Validating webhook deliveries"). GitHub signs no timestamp and its
//! bodies carry no id or type, so the event id is the delivery header (which GitHub
//! keeps on redelivery) and replay is stopped by dedup on it.

use serde_json::{Map, Value};

use super::body::{samples, BodyLayout, Field, SampleBody};
use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput, Tags};
use super::error::SignatureError;
use super::header::{decode_hex_mac, required};
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::mac::hmac_sha256;
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";
/// The event name header.
pub const EVENT_HEADER: &str = "X-GitHub-Event";

/// GitHub's bodies are the payload itself; the id and the event name are headers, and no
/// field common to every event says when it happened.
pub const BODY: BodyLayout = BodyLayout { id: Field::Header, event_type: Field::Header, created: None, data: None };

/// The provider's documented bodies, one per event type.
pub const SAMPLES: &[SampleBody] = samples!("github": "issues");

/// The GitHub scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Github;

impl Scheme for Github {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, _window: ReplayWindow) -> SignedContentResult<'h> {
        let value = required(headers, SIGNATURE_HEADER)?;
        let hex = value.strip_prefix("sha256=").ok_or(SignatureError::MalformedHeader {
            header: SIGNATURE_HEADER.into(),
            reason: "expected `sha256=<hex>`",
        })?;
        let candidate = decode_hex_mac(hex, SIGNATURE_HEADER)?;
        let event_id = required(headers, DELIVERY_HEADER)?;
        let event_type = required(headers, EVENT_HEADER)?;
        let claims = SignedHeaders { timestamp: None, event_id: Some(event_id), event_type: Some(event_type) };
        Ok(SignedContent::new(&[], Tags::one(candidate), claims))
    }

    fn header_names(&self) -> Vec<&str> {
        vec![SIGNATURE_HEADER, DELIVERY_HEADER, EVENT_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        let Some(secret) = secrets.first() else {
            return Vec::new();
        };
        vec![
            (SIGNATURE_HEADER.to_owned(), format!("sha256={}", hex::encode(hmac_sha256(secret, &[input.body]).as_bytes()))),
            (DELIVERY_HEADER.to_owned(), input.event_id.to_owned()),
            (EVENT_HEADER.to_owned(), input.event_type.to_owned()),
        ]
    }

    /// GitHub's bodies have no common time field: a source that projects names one
    /// (`"created": {"field": "issue.updated_at"}`).
    fn reads_event_time(&self) -> bool {
        false
    }

    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        let mut event = BODY.read(object, signed)?;
        // `issues` + `"action": "opened"` → `issues.opened`, the dotted form every other
        // provider uses, so rules can match `issues.*`.
        if let Some(action) = event.data.get("action").and_then(Value::as_str) {
            event.event_type = format!("{}.{action}", event.event_type);
        }
        Ok(event)
    }
}
