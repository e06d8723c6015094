//! Twin.Actor: `X-Webhook-Signature: t=<unix>,v1=<hex>[,v1=…]` over `"{t}.{raw body}"`,
//! with `X-Webhook-ID` and `X-Webhook-Event` beside it.
//!
//! Provider docs: Twin.Actor's Guides › Webhooks, "Signature Verification" (5-minute
//! tolerance); the project keeps a copy in `shared/providers/twin-actor-webhooks.txt`,
//! outside this repository, and its example deliveries are in
//! `tests/providers/twin-actor.json`. The id and event headers are not signed, so
//! [`verify_delivery`](crate::delivery::verify_delivery) checks them against the signed body.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::body::{samples, BodyLayout, SampleBody};
use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput};
use super::error::SignatureError;
use super::header::{format_timestamped_hex, parse_timestamped_hex, required};
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::projection::ProjectionRule;
use crate::secret::Secret;
use crate::time::TimeFormat;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Webhook-Signature";
/// The event id header.
pub const ID_HEADER: &str = "X-Webhook-ID";
/// The event type header.
pub const EVENT_HEADER: &str = "X-Webhook-Event";

/// Where Twin.Actor's bodies keep the event: `id`, `type`, `created_at` (RFC 3339), `data`.
pub const BODY: BodyLayout = BodyLayout::envelope("created_at", TimeFormat::Rfc3339);

/// The provider's documented bodies, one per event type.
pub const SAMPLES: &[SampleBody] = samples!("twin-actor": "credits.depleted", "credits.low",
    "project.completed", "project.created", "project.failed", "project.processing", "voice_clone.completed",
    "voice_clone.failed");

/// The Twin.Actor scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct TwinActor;

impl Scheme for TwinActor {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h> {
        let (timestamp, t, candidates) = parse_timestamped_hex(required(headers, SIGNATURE_HEADER)?, SIGNATURE_HEADER)?;
        let event_id = required(headers, ID_HEADER)?;
        let event_type = required(headers, EVENT_HEADER)?;
        window.check(timestamp)?;
        // The digits as sent are what was signed.
        let claims =
            SignedHeaders { timestamp: Some(timestamp), event_id: Some(event_id), event_type: Some(event_type) };
        Ok(SignedContent::new(&[t.as_bytes(), b"."], candidates, claims))
    }

    fn header_names(&self) -> Vec<&str> {
        vec![SIGNATURE_HEADER, ID_HEADER, EVENT_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        let t = input.timestamp.as_secs().to_string();
        vec![
            (
                SIGNATURE_HEADER.to_owned(),
                format_timestamped_hex(input.timestamp, &[t.as_bytes(), b".", input.body], secrets),
            ),
            (ID_HEADER.to_owned(), input.event_id.to_owned()),
            (EVENT_HEADER.to_owned(), input.event_type.to_owned()),
        ]
    }

    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        BODY.read(object, signed)
    }

    /// The id and event headers are not signed: each must equal the signed body's. A body
    /// without a readable id or type is left to [`read_event`](Scheme::read_event) to refuse.
    fn check_headers(&self, object: &Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<(), SignatureError> {
        let (Some(id), Some(event_type)) = (BODY.id_text(object), BODY.type_text(object)) else {
            return Ok(());
        };
        cross_check(signed.event_id, &id, ID_HEADER, "id")?;
        cross_check(signed.event_type, &event_type, EVENT_HEADER, "type")
    }

    /// A project's lifecycle (`projects/{project_id}`, its status from the event type, its
    /// progress, the video's URL as `final_video_url`), voice clones, and the account's credits.
    fn builtin_rules(&self) -> Vec<ProjectionRule> {
        vec![
            ProjectionRule {
                status_from_type: true,
                progress: true,
                rename: BTreeMap::from([("video_url".to_owned(), "final_video_url".to_owned())]),
                ..ProjectionRule::new(&["project.*"], "projects", "project_id")
            },
            ProjectionRule { status_from_type: true, ..ProjectionRule::new(&["voice_clone.*"], "voice_clones", "person_id") },
            ProjectionRule {
                status_from_type: true,
                ..ProjectionRule::new(&["credits.low", "credits.depleted"], "account", "=credits")
            },
        ]
    }
}

/// Refuses a header sent beside the signature that disagrees with the signed body.
fn cross_check(
    header_value: Option<&str>,
    body_value: &str,
    header: &'static str,
    field: &'static str,
) -> Result<(), SignatureError> {
    match header_value {
        Some(h) if h != body_value => Err(SignatureError::HeaderBodyMismatch { header, field }),
        _ => Ok(()),
    }
}
