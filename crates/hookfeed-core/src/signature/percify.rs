//! Percify: `X-Percify-Signature: <hex HMAC-SHA256 of the raw body>`.
//!
//! Provider docs: Percify's Webhooks page, "Verify Webhook Signatures"; the project keeps
//! a copy in `shared/providers/percify-webhooks.txt`, outside this repository, and its
//! example deliveries are in `tests/providers/percify.json`.
//! Percify signs no timestamp, so replay is stopped by event-id dedup and by the replay
//! window applied to the body's `created` (see [`Scheme::window_on_body_created`]).
//! The docs' sample verifies `JSON.stringify(req.body)`; hookfeed verifies the raw bytes.

use serde_json::{Map, Value};

use super::body::{samples, BodyLayout, SampleBody};
use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput, Tags};
use super::header::{decode_hex_mac, required};
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::mac::hmac_sha256;
use crate::projection::ProjectionRule;
use crate::secret::Secret;
use crate::time::TimeFormat;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Percify-Signature";

/// Where Percify's bodies keep the event: `id`, `type`, `created` (RFC 3339), `data`.
pub const BODY: BodyLayout = BodyLayout::envelope("created", TimeFormat::Rfc3339);

/// The provider's documented bodies, one per event type.
pub const SAMPLES: &[SampleBody] = samples!("percify": "audio.completed", "avatar.completed", "avatar.failed",
    "avatar.published", "credits.low_balance", "credits.purchased", "tier.upgraded", "video.completed",
    "video.failed", "voice.cloned");

/// The Percify scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percify;

impl Scheme for Percify {
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
            .map(|secret| vec![(SIGNATURE_HEADER.to_owned(), hex::encode(hmac_sha256(secret, &[input.body]).as_bytes()))])
            .unwrap_or_default()
    }

    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        BODY.read(object, signed)
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

    /// Percify's payloads carry their own `status`; `avatar.published` has none and must not
    /// overwrite the avatar's.
    fn builtin_rules(&self) -> Vec<ProjectionRule> {
        vec![
            ProjectionRule::new(&["avatar.*"], "avatars", "avatarId"),
            ProjectionRule { progress: true, ..ProjectionRule::new(&["video.*"], "videos", "videoId") },
            ProjectionRule::new(&["audio.*"], "audio", "audioId"),
            ProjectionRule::new(&["voice.cloned"], "voices", "voiceId"),
            ProjectionRule::new(&["credits.*", "tier.upgraded"], "users", "userId"),
        ]
    }
}
