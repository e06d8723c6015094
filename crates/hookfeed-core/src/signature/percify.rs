//! Percify: `X-Percify-Signature: <hex HMAC-SHA256 of the raw body>`.
//!
//! Provider docs: `shared/providers/percify-webhooks.txt`, "Verify Webhook Signatures".
//! Percify signs no timestamp, so replay is stopped by event-id dedup and by the replay
//! window applied to the body's `created` (see [`Scheme::window_on_body_created`]).
//! The docs' sample verifies `JSON.stringify(req.body)`; hookfeed verifies the raw bytes.
//!
//! [`Scheme::window_on_body_created`]: super::Scheme::window_on_body_created

use super::{
    any_matches, decode_hex_mac, mac, required, Headers, ReplayWindow, SignatureError, SignatureScheme, SignedHeaders,
    SigningInput,
};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Percify-Signature";

/// The Percify scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percify;

impl SignatureScheme for Percify {
    fn verify<'h>(
        &self,
        headers: &'h dyn Headers,
        body: &[u8],
        secrets: &[Secret],
        _window: ReplayWindow,
    ) -> Result<SignedHeaders<'h>, SignatureError> {
        let value = required(headers, SIGNATURE_HEADER)?;
        // Tolerate the `sha256=` prefix some senders add; the docs send bare hex.
        let value = value.strip_prefix("sha256=").unwrap_or(value);
        let candidate = decode_hex_mac(value, SIGNATURE_HEADER)?;
        if any_matches(secrets, &[body], &[candidate]) {
            Ok(SignedHeaders::default())
        } else {
            Err(SignatureError::NoMatch)
        }
    }

    fn header_names(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        // One header carries one signature: sign with the newest (first) secret.
        secrets
            .first()
            .map(|secret| vec![(SIGNATURE_HEADER.to_owned(), hex::encode(mac(secret, &[input.body])))])
            .unwrap_or_default()
    }
}
