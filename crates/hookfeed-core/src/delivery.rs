//! The one entry point for a delivery: signature, replay window, then the event.

use crate::event::{parse_event, Event, EventError, ParseFailure};
use crate::signature::{Headers, ReplayWindow, SignatureError};
use crate::source::Source;
use crate::time::UnixTime;

/// A delivery whose signature, replay window and event shape were all checked.
///
/// Only [`verify_delivery`] constructs one, so dedup, projection and storage cannot be
/// handed an unverified body.
#[derive(Debug, Clone)]
pub struct VerifiedDelivery {
    event: Event,
    raw: Vec<u8>,
    signed_at: Option<UnixTime>,
    received_at: UnixTime,
}

impl VerifiedDelivery {
    /// The normalized event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The exact bytes received, for the log.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The signed timestamp, for schemes that sign one.
    pub fn signed_at(&self) -> Option<UnixTime> {
        self.signed_at
    }

    /// When the verifier received it (`now` at verification).
    pub fn received_at(&self) -> UnixTime {
        self.received_at
    }

    /// The time the event is ordered by: the provider's `created`, else the signed
    /// timestamp, else arrival.
    pub fn ordered_at(&self) -> UnixTime {
        self.event.created.or(self.signed_at).unwrap_or(self.received_at)
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The signature, its headers or its timestamp are not acceptable (401).
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signature is fine but the body is not a valid event (400).
    #[error(transparent)]
    Event(#[from] EventError),
}

impl DeliveryError {
    /// A stable machine-readable code for logs and JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(e) => e.code(),
            Self::Event(e) => e.code(),
        }
    }
}

impl From<ParseFailure> for DeliveryError {
    fn from(failure: ParseFailure) -> Self {
        match failure {
            ParseFailure::Event(e) => Self::Event(e),
            ParseFailure::Signature(e) => Self::Signature(e),
        }
    }
}

/// Verifies one delivery to `source`: the signature over the raw `body` under any of the
/// source's secrets, the replay window around `now`, then the body as an event.
pub fn verify_delivery(
    source: &Source,
    headers: &dyn Headers,
    body: &[u8],
    now: UnixTime,
) -> Result<VerifiedDelivery, DeliveryError> {
    let window = ReplayWindow { now, tolerance_secs: source.tolerance_secs };
    let signed = source.scheme.verifier().verify(headers, body, &source.secrets, window)?;
    let event = parse_event(source.scheme, &source.name, &signed, body)?;
    if source.scheme.window_on_body_created() {
        // Without a signed timestamp the body's own `created` is the only clock; a body
        // without one relies on dedup alone, as the provider's test events do.
        if let Some(created) = event.created {
            window.check(created)?;
        }
    }
    Ok(VerifiedDelivery { event, raw: body.to_vec(), signed_at: signed.timestamp, received_at: now })
}
