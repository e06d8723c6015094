//! The one entry point for a delivery: signature, replay window, then the event.

use serde::{Deserialize, Serialize};

use crate::event::{Event, EventError, EventParts};
use crate::mac::{Algorithm, Tag};
use crate::replay::ReplayKey;
use crate::signature::{Headers, ReplayWindow, Scheme, SignatureError, SignedContent, SignedHeaders};
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
    /// The event id and type as the signature headers carried them, for the hand-off.
    header_id: Option<String>,
    header_type: Option<String>,
    /// What the signature covers besides the body ([`SignedContent::context_digest`]).
    signed_context: [u8; 32],
    /// How long a replay of it may still verify, when a clock stops it (a signed
    /// timestamp, or the body's `created` inside the source's window): twice the source's
    /// tolerance, since the stamp itself may be up to a tolerance away from its arrival.
    /// `None`: no clock; only its [`ReplayKey`] stops a replay.
    replay_window_secs: Option<u64>,
}

/// What the edge Worker tells a feed beside a delivery's raw body, once it verified it:
/// what the signature headers proved, and when it arrived.
///
/// The feed rebuilds the event from the raw body with the same parser
/// ([`VerifiedDelivery::from_handoff`]), so the Worker and the feed cannot disagree about
/// it, and the hand-off holds only header values and numbers (it travels as a header).
/// It is trusted because of how it travels, not because of what it says: see
/// [`VerifiedDelivery::from_handoff`]. An absent value travels as `null` (and a missing key
/// reads as absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// The source the delivery was verified for.
    pub source: String,
    /// The signed timestamp, for schemes that sign one.
    pub signed_at: Option<UnixTime>,
    /// When the edge received it.
    pub received_at: UnixTime,
    /// The event id from a signed header, for schemes that send one.
    pub event_id: Option<String>,
    /// The event type from a header, for schemes that send one.
    pub event_type: Option<String>,
    /// What the signature covers besides the body, hex ([`SignedContent::context_digest`]):
    /// the feed keys dedup on it and the body's digest. Absent from an edge older than
    /// it, which keys on the body alone.
    pub signed_context: Option<String>,
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

    /// The exact bytes received, taken: the edge hands them on without a copy.
    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }

    /// The signed timestamp, for schemes that sign one.
    pub fn signed_at(&self) -> Option<UnixTime> {
        self.signed_at
    }

    /// When the verifier received it (`now` at verification).
    pub fn received_at(&self) -> UnixTime {
        self.received_at
    }

    /// What identifies this delivery's signed content within its tenant, with `body_digest`
    /// ([`body_digest`](crate::ledger::body_digest) of [`raw`](Self::raw)): the same for
    /// every replay of it, whatever unsigned headers (an id, an event type) come with it.
    pub fn replay_key(&self, body_digest: &[u8; 32]) -> ReplayKey {
        ReplayKey::new(&self.signed_context, body_digest)
    }

    /// Whether a clock stops a replay of it (a signed timestamp, or the body's `created`
    /// inside the source's window); if not, only its [`ReplayKey`] does.
    pub fn time_protected(&self) -> bool {
        self.replay_window_secs.is_some()
    }

    /// How long after its arrival a replay of it may still verify, if a clock stops it at
    /// all: its [`ReplayKey`] must be kept at least that long, however short the log.
    pub fn replay_window_secs(&self) -> Option<u64> {
        self.replay_window_secs
    }

    /// The time the event is ordered by: the provider's `created`, else the signed
    /// timestamp, else arrival.
    pub fn ordered_at(&self) -> UnixTime {
        self.event.created.or(self.signed_at).unwrap_or(self.received_at)
    }

    /// What a feed needs beside the raw body to rebuild this delivery.
    pub fn handoff(&self) -> Handoff {
        Handoff {
            source: self.event.source.clone(),
            signed_at: self.signed_at,
            received_at: self.received_at,
            event_id: self.header_id.clone(),
            event_type: self.header_type.clone(),
            signed_context: Some(hex::encode(self.signed_context)),
        }
    }

    /// Rebuilds a delivery that the edge Worker verified, from its hand-off and raw body.
    ///
    /// This does not check the signature again, which is the point: the feed is reachable
    /// only through its Durable Object binding, which only the Worker holds, and the Worker
    /// sends a hand-off only after [`verify_delivery`] succeeded. Call it nowhere else. The
    /// body is parsed with the same parser as at the edge; a body that fails here was not
    /// what the edge verified, and is refused the same way.
    pub fn from_handoff(source: &Source, handoff: &Handoff, raw: Vec<u8>) -> Result<Self, DeliveryError> {
        let signed = SignedHeaders {
            timestamp: handoff.signed_at,
            event_id: handoff.event_id.as_deref(),
            event_type: handoff.event_type.as_deref(),
        };
        let event = with_event_time(source, parse_event(source.scheme.implementation(), &source.name, &signed, &raw)?)?;
        // An edge older than the context sends none: the key is then the body's alone.
        let signed_context = handoff
            .signed_context
            .as_deref()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .unwrap_or_default();
        Ok(Self {
            event,
            raw,
            signed_at: handoff.signed_at,
            received_at: handoff.received_at,
            header_id: handoff.event_id.clone(),
            header_type: handoff.event_type.clone(),
            signed_context,
            replay_window_secs: replay_window(source, handoff.signed_at.is_some()),
        })
    }
}

/// `event` with its time read where `source` says (`created`), if its scheme read none. A
/// projected event that still has none is refused: a document follows its events' times,
/// never their arrival, and a signed timestamp is the attempt's, not the event's.
fn with_event_time(source: &Source, mut event: Event) -> Result<Event, EventError> {
    if event.created.is_none() {
        if let (Some(created), serde_json::Value::Object(data)) = (&source.created, &event.data) {
            event.created = crate::signature::configured::read_time(data, created)?;
        }
    }
    if event.created.is_none() && source.rules.iter().any(|rule| rule.matches(&event.event_type)) {
        return Err(EventError::NoEventTime);
    }
    Ok(event)
}

/// How long after arrival a replay of a delivery to `source` may verify, if a clock stops
/// it at all (`signed_time`: the scheme signed a timestamp).
fn replay_window(source: &Source, signed_time: bool) -> Option<u64> {
    (signed_time || source.scheme.window_on_body_created()).then(|| source.tolerance_secs.saturating_mul(2))
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

/// Reads a verified body in `scheme`'s format as the event it carries, and refuses
/// unsigned headers that disagree with it.
fn parse_event(
    scheme: &dyn Scheme,
    source: &str,
    signed: &SignedHeaders<'_>,
    body: &[u8],
) -> Result<Event, DeliveryError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    let depth = crate::event::depth(&value);
    if depth > crate::event::MAX_BODY_DEPTH {
        return Err(EventError::TooDeep(depth).into());
    }
    let serde_json::Value::Object(object) = value else {
        return Err(EventError::NotAnObject.into());
    };
    scheme.check_headers(&object, signed)?;
    let parts = scheme.read_event(object, signed)?;
    parts.check()?;
    let EventParts { id, event_type, created, data } = parts;
    Ok(Event { source: source.to_owned(), id, event_type, created, data })
}

/// Verifies one delivery to `source`: the signature over the raw `body` under any of the
/// source's secrets, the replay window around `now`, then the body as an event.
pub fn verify_delivery(
    source: &Source,
    headers: &dyn Headers,
    body: &[u8],
    now: UnixTime,
) -> Result<VerifiedDelivery, DeliveryError> {
    begin_delivery(source, headers, now)?.finish_in_software(body)
}

/// The first half of [`verify_delivery`], before the body is read: the signature headers
/// are read and the signed timestamp is checked. A delivery with missing, garbled or stale
/// headers is refused here, before its body costs a read or a MAC. The caller then reads
/// the body and computes the MACs itself (in software, or as the Worker does for large
/// bodies, with the runtime's WebCrypto).
pub fn begin_delivery<'a>(
    source: &'a Source,
    headers: &'a dyn Headers,
    now: UnixTime,
) -> Result<PendingDelivery<'a>, DeliveryError> {
    let window = ReplayWindow { now, tolerance_secs: source.tolerance_secs };
    let content = source.scheme.implementation().signed_content(headers, window)?;
    Ok(PendingDelivery { source, content, window })
}

/// A delivery whose headers were read and whose signed timestamp is inside the window,
/// waiting for its body and the MACs of its signed content: `prefix() ++ body ++ suffix()`
/// (under [`algorithm`](Self::algorithm)) under each
/// of the source's secrets, in the order [`Source::secrets`] lists them.
#[derive(Debug)]
pub struct PendingDelivery<'a> {
    source: &'a Source,
    content: SignedContent<'a>,
    window: ReplayWindow,
}

impl PendingDelivery<'_> {
    /// The bytes the signed content holds before the body, joined.
    pub fn prefix(&self) -> Vec<u8> {
        self.content.prefix()
    }

    /// The bytes the signed content holds after the body (most schemes: none), joined.
    pub fn suffix(&self) -> Vec<u8> {
        self.content.suffix()
    }

    /// The hash the MACs use.
    pub fn algorithm(&self) -> Algorithm {
        self.content.algorithm()
    }

    /// Computes the MACs of `prefix ++ body` under the source's secrets in software, then
    /// finishes as [`finish`](Self::finish) does.
    pub fn finish_in_software(self, body: &[u8]) -> Result<VerifiedDelivery, DeliveryError> {
        let Self { source, content, window } = self;
        let context = content.context_digest();
        let signed = content.verify(body, &source.secrets)?;
        Self::read(source, window, signed, context, body)
    }

    /// Compares `macs` (computed by the caller, one per secret) with the signatures
    /// offered, in constant time, then reads `body` as an event and checks the body's own
    /// clock where the scheme signs none.
    pub fn finish(self, body: &[u8], macs: &[Tag]) -> Result<VerifiedDelivery, DeliveryError> {
        let Self { source, content, window } = self;
        let context = content.context_digest();
        let signed = content.check(macs)?;
        Self::read(source, window, signed, context, body)
    }

    fn read(
        source: &Source,
        window: ReplayWindow,
        signed: SignedHeaders<'_>,
        signed_context: [u8; 32],
        body: &[u8],
    ) -> Result<VerifiedDelivery, DeliveryError> {
        let event = with_event_time(source, parse_event(source.scheme.implementation(), &source.name, &signed, body)?)?;
        if source.scheme.window_on_body_created() {
            // Without a signed timestamp the body's own `created` is the only clock. Every
            // event the provider documents carries one (its test events too); a body without
            // it would have no replay window at all, only dedup, which forgets after the
            // retention period. So it is refused.
            let created = event.created.ok_or(EventError::MissingField("created"))?;
            window.check(created)?;
        }
        Ok(VerifiedDelivery {
            raw: body.to_vec(),
            signed_at: signed.timestamp,
            received_at: window.now,
            header_id: signed.event_id.map(str::to_owned),
            header_type: signed.event_type.map(str::to_owned),
            signed_context,
            replay_window_secs: replay_window(source, signed.timestamp.is_some()),
            event,
        })
    }
}
