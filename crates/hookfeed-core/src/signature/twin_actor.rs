//! Twin.Actor: `X-Webhook-Signature: t=<unix>,v1=<hex>[,v1=…]` over `"{t}.{raw body}"`,
//! with `X-Webhook-ID` and `X-Webhook-Event` beside it.
//!
//! Provider docs: Twin.Actor's Guides › Webhooks, "Signature Verification" (5-minute
//! tolerance); the project keeps a copy in `shared/providers/twin-actor-webhooks.txt`,
//! outside this repository, and its example deliveries are in
//! `tests/providers/twin-actor.json`. The id and event headers are not signed, so
//! [`verify_delivery`](crate::delivery::verify_delivery) checks them against the signed body.

use serde_json::{Map, Value};

use super::{
    format_timestamped_hex, parse_timestamped_hex, required, EventResult, Headers, ReplayWindow, SignatureScheme,
    SignedContent, SignedContentResult, SignedHeaders, SigningInput,
};
use crate::event::{cross_check, rfc3339_field, take_data, take_string, EventParts};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Webhook-Signature";
/// The event id header.
pub const ID_HEADER: &str = "X-Webhook-ID";
/// The event type header.
pub const EVENT_HEADER: &str = "X-Webhook-Event";

/// The Twin.Actor scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct TwinActor;

impl SignatureScheme for TwinActor {
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

    fn read_event(&self, mut object: Map<String, Value>, signed: &SignedHeaders<'_>) -> EventResult {
        let id = take_string(&mut object, "id")?;
        let event_type = take_string(&mut object, "type")?;
        cross_check(signed.event_id, &id, ID_HEADER, "id")?;
        cross_check(signed.event_type, &event_type, EVENT_HEADER, "type")?;
        let created = rfc3339_field(&object, "created_at")?;
        Ok(EventParts { id, event_type, created, data: take_data(&mut object) })
    }
}
