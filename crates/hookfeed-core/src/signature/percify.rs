//! Percify: `X-Percify-Signature: <hex HMAC-SHA256 of the raw body>`.
//!
//! Provider docs: Percify's Webhooks page, "Verify Webhook Signatures"; the project keeps
//! a copy in `shared/providers/percify-webhooks.txt`, outside this repository, and its
//! example deliveries are in `tests/providers/percify.json`.
//! Percify signs no timestamp, so replay is stopped by event-id dedup and by the replay
//! window applied to the body's `created` (see [`Scheme::window_on_body_created`]).
//! The docs' sample verifies `JSON.stringify(req.body)`; hookfeed verifies the raw bytes.
//!
//! [`Scheme::window_on_body_created`]: super::Scheme::window_on_body_created

use serde_json::{Map, Value};

use super::{
    decode_hex_mac, mac, required, EventResult, Headers, ReplayWindow, SignatureScheme, SignedContent,
    SignedContentResult, SignedHeaders, SigningInput, Tags,
};
use crate::event::{rfc3339_field, take_data, take_string, EventParts};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Percify-Signature";

/// The Percify scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percify;

impl SignatureScheme for Percify {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, _window: ReplayWindow) -> SignedContentResult<'h> {
        let value = required(headers, SIGNATURE_HEADER)?;
        // Tolerate the `sha256=` prefix some senders add; the docs send bare hex.
        let value = value.strip_prefix("sha256=").unwrap_or(value);
        let candidate = decode_hex_mac(value, SIGNATURE_HEADER)?;
        Ok(SignedContent::new(&[], Tags::one(candidate), SignedHeaders::default()))
    }

    fn header_names(&self) -> Vec<&str> {
        vec![SIGNATURE_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        // One header carries one signature: sign with the newest (first) secret.
        secrets
            .first()
            .map(|secret| vec![(SIGNATURE_HEADER.to_owned(), hex::encode(mac(secret, &[input.body])))])
            .unwrap_or_default()
    }

    fn read_event(&self, mut object: Map<String, Value>, _signed: &SignedHeaders<'_>) -> EventResult {
        Ok(EventParts {
            id: take_string(&mut object, "id")?,
            event_type: take_string(&mut object, "type")?,
            created: rfc3339_field(&object, "created")?,
            data: take_data(&mut object),
        })
    }

    /// Percify signs no timestamp, so its window applies to the body's `created`, which
    /// retries keep: it must outlast the provider's retry horizon, and stays well inside
    /// the log's dedup retention (days) so a replay past the window is refused, not stored.
    fn default_tolerance_secs(&self) -> u64 {
        24 * 60 * 60
    }

    fn window_on_body_created(&self) -> bool {
        true
    }
}
