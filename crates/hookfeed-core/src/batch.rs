//! Group commit's wire format and limits: verified deliveries for one feed that are in
//! flight together travel to it in one hand-off, and come back as one outcome each.
//!
//! A batch request's body is a sequence of frames, one per delivery, in arrival order:
//!
//! ```text
//! frame   = u32 (big-endian) handoff length · handoff (JSON of a `Handoff`)
//!           u32 (big-endian) body length    · body (the raw bytes received)
//! ```
//!
//! The framing is checked whole before anything is stored ([`parse_frames`]); a frame's
//! hand-off is parsed on its own ([`Frame::handoff`]), so one bad hand-off is refused
//! alone and the others commit. The answer is JSON: `{"outcomes": [Outcome, ...]}`, one
//! per frame, in the same order ([`BatchAnswer`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::delivery::Handoff;
use crate::UnixTime;

/// Deliveries in one batch at most.
pub const MAX_BATCH_DELIVERIES: usize = 64;
/// Bytes of bodies in one batch at most, unless the batch holds one delivery (a lone
/// delivery as large as its source allows still travels).
pub const MAX_BATCH_BODY_BYTES: usize = 1 << 20;

/// Whether a delivery of `next_len` body bytes may join a batch that holds `count`
/// deliveries of `bytes` body bytes: within [`MAX_BATCH_DELIVERIES`] and
/// [`MAX_BATCH_BODY_BYTES`], and always when the batch is empty.
pub fn fits(count: usize, bytes: usize, next_len: usize) -> bool {
    count == 0 || (count < MAX_BATCH_DELIVERIES && bytes.saturating_add(next_len) <= MAX_BATCH_BODY_BYTES)
}

/// Why a batch's body is not a sequence of frames. Only a Worker bug (or a truncated
/// request) produces one: the whole batch is refused, and nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body ends inside a frame.
    #[error("batch hand-off truncated at byte {at}: frame {frame} needs {needed} more bytes; send whole frames")]
    Truncated {
        /// The frame's index.
        frame: usize,
        /// Where the body ended.
        at: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// More frames than a batch may hold.
    #[error("batch hand-off holds more than {MAX_BATCH_DELIVERIES} deliveries; split it")]
    TooMany,
    /// No frame at all.
    #[error("batch hand-off is empty; send at least one delivery")]
    Empty,
}

/// One delivery's frame, borrowed from the batch's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The hand-off's JSON, as sent.
    pub handoff: &'a [u8],
    /// The raw body, as received by the edge.
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// The frame's hand-off, or why it does not parse (refused for this delivery alone).
    pub fn handoff(&self) -> Result<Handoff, serde_json::Error> {
        serde_json::from_slice(self.handoff)
    }
}

/// Appends one delivery's frame to `out`. A part longer than `u32::MAX` bytes cannot be
/// framed; bodies are capped far below that (a source's limit), and such a part is an error
/// rather than a truncated frame.
pub fn push_frame(out: &mut Vec<u8>, handoff: &[u8], body: &[u8]) -> Result<(), PartTooLong> {
    let handoff_len = u32::try_from(handoff.len()).map_err(|_| PartTooLong(handoff.len()))?;
    let body_len = u32::try_from(body.len()).map_err(|_| PartTooLong(body.len()))?;
    out.reserve(8 + handoff.len() + body.len());
    out.extend_from_slice(&handoff_len.to_be_bytes());
    out.extend_from_slice(handoff);
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// A part of a frame longer than its 4-byte length can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a batch frame part of {0} bytes is longer than 4 GiB; hand it off alone")]
pub struct PartTooLong(pub usize);

/// The frames of a batch's body, in order: all of them, or why the body is not whole
/// frames. Never panics, whatever the bytes.
pub fn parse_frames(body: &[u8]) -> Result<Vec<Frame<'_>>, FrameError> {
    let mut frames = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if frames.len() == MAX_BATCH_DELIVERIES {
            return Err(FrameError::TooMany);
        }
        let frame = frames.len();
        let at = |rest: &[u8]| body.len() - rest.len();
        let (handoff, after) = take_part(rest).map_err(|needed| FrameError::Truncated { frame, at: at(rest), needed })?;
        let (raw, after) = take_part(after).map_err(|needed| FrameError::Truncated { frame, at: at(after), needed })?;
        frames.push(Frame { handoff, body: raw });
        rest = after;
    }
    if frames.is_empty() {
        return Err(FrameError::Empty);
    }
    Ok(frames)
}

/// One length-prefixed part and what follows it, or how many bytes are missing.
fn take_part(bytes: &[u8]) -> Result<(&[u8], &[u8]), usize> {
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else { return Err(4 - bytes.len()) };
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(len - rest.len());
    }
    Ok(rest.split_at(len))
}

/// What one delivery of a batch would have been answered had it been handed off alone:
/// the Worker answers its provider with exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// Whether the feed had stored this event before (the edge charges the sender).
    pub duplicate: bool,
    /// `Retry-After`, in seconds, when the answer carries one.
    pub retry_after: Option<u64>,
    /// The JSON body, as text.
    pub body: String,
}

/// A feed's answer to a batch: one [`Outcome`] per frame, in the frames' order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

/// How long a hand-off may be in flight before the gate stops waiting for it: its request
/// was cancelled or hangs, and the next delivery goes at once rather than queue behind it.
pub const STALE_HANDOFF_MS: i64 = 30_000;

/// Where batches form, per feed in one Worker isolate (Nagle's rule): a delivery goes at
/// once when no hand-off to its feed is in flight from this isolate, so a lone delivery
/// never waits for company; otherwise it waits, and when the hand-off in flight returns,
/// what waits goes as one batch ([`next_batch`](Self::next_batch), capped by [`fits`]).
///
/// So a delivery waits at most for the hand-off in flight to return (one feed round trip
/// plus that batch's commit), then for its own batch's, while fewer than
/// [`MAX_BATCH_DELIVERIES`] deliveries (or [`MAX_BATCH_BODY_BYTES`]) wait ahead of it;
/// each further full batch ahead of it adds one more round trip and commit. What waits is
/// bounded by the requests the isolate holds open.
#[derive(Debug)]
pub struct Gate<T> {
    /// When the hand-off in flight left, if one is.
    in_flight_since: Option<UnixTime>,
    /// What waits, in arrival order, with its body's length.
    waiting: VecDeque<(T, usize)>,
}

impl<T> Default for Gate<T> {
    fn default() -> Self {
        Self { in_flight_since: None, waiting: VecDeque::new() }
    }
}

impl<T> Gate<T> {
    /// Whether a delivery arriving `now` goes at once (then a hand-off is in flight from
    /// now on): when none is, or the one in flight is older than [`STALE_HANDOFF_MS`].
    pub fn try_lead(&mut self, now: UnixTime) -> bool {
        let idle = self.in_flight_since.is_none_or(|since| now.as_millis() - since.as_millis() > STALE_HANDOFF_MS);
        if idle {
            self.in_flight_since = Some(now);
        }
        idle
    }

    /// Queues a delivery that did not lead, with its body's length.
    pub fn enqueue(&mut self, item: T, body_len: usize) {
        self.waiting.push_back((item, body_len));
    }

    /// Called when a hand-off returns: the next batch, in arrival order, as much of what
    /// waits as [`fits`] (its first goes as the batch's sender, and a hand-off is in flight
    /// again from `now`); empty when nothing waits, and the gate is idle.
    pub fn next_batch(&mut self, now: UnixTime) -> Vec<T> {
        let (mut batch, mut bytes) = (Vec::new(), 0usize);
        while let Some((_, len)) = self.waiting.front() {
            if !fits(batch.len(), bytes, *len) {
                break;
            }
            bytes = bytes.saturating_add(*len);
            if let Some((item, _)) = self.waiting.pop_front() {
                batch.push(item);
            }
        }
        self.in_flight_since = if batch.is_empty() { None } else { Some(now) };
        batch
    }

    /// Whether nothing is in flight and nothing waits (the gate may be dropped).
    pub fn is_idle(&self) -> bool {
        self.in_flight_since.is_none() && self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_in_order() {
        let mut body = Vec::new();
        push_frame(&mut body, br#"{"source":"a"}"#, b"one").expect("frames");
        push_frame(&mut body, b"", b"").expect("frames");
        push_frame(&mut body, b"{}", b"three").expect("frames");
        let frames = parse_frames(&body).expect("frames");
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], Frame { handoff: br#"{"source":"a"}"#, body: b"one" });
        assert_eq!(frames[1], Frame { handoff: b"", body: b"" });
        assert_eq!(frames[2].body, b"three");
    }

    #[test]
    fn an_empty_body_or_a_cut_frame_is_an_error() {
        assert_eq!(parse_frames(b""), Err(FrameError::Empty));
        assert_eq!(parse_frames(&[0, 0]), Err(FrameError::Truncated { frame: 0, at: 0, needed: 2 }));
        let mut body = Vec::new();
        push_frame(&mut body, b"{}", b"hello").expect("frames");
        body.pop();
        assert_eq!(parse_frames(&body), Err(FrameError::Truncated { frame: 0, at: 6, needed: 1 }));
        // A length that claims more than any body holds.
        assert!(matches!(parse_frames(&[255, 255, 255, 255, 1]), Err(FrameError::Truncated { .. })));
    }

    #[test]
    fn more_than_the_cap_is_refused() {
        let mut body = Vec::new();
        for _ in 0..MAX_BATCH_DELIVERIES {
            push_frame(&mut body, b"{}", b"x").expect("frames");
        }
        assert_eq!(parse_frames(&body).map(|f| f.len()), Ok(MAX_BATCH_DELIVERIES));
        push_frame(&mut body, b"{}", b"x").expect("frames");
        assert_eq!(parse_frames(&body), Err(FrameError::TooMany));
    }

    #[test]
    fn fits_caps_count_and_bytes_but_never_a_lone_delivery() {
        assert!(fits(0, 0, 10 * MAX_BATCH_BODY_BYTES));
        assert!(fits(1, 10, MAX_BATCH_BODY_BYTES - 10));
        assert!(!fits(1, 10, MAX_BATCH_BODY_BYTES - 9));
        assert!(fits(MAX_BATCH_DELIVERIES - 1, 0, 0));
        assert!(!fits(MAX_BATCH_DELIVERIES, 0, 0));
        assert!(!fits(1, usize::MAX, 1));
    }

    #[test]
    fn a_bad_handoff_is_its_frames_error_alone() {
        let mut body = Vec::new();
        push_frame(&mut body, b"not json", b"a").expect("frames");
        push_frame(&mut body, br#"{"source":"s","received_at":1}"#, b"b").expect("frames");
        let frames = parse_frames(&body).expect("frames");
        assert!(frames[0].handoff().is_err());
        assert_eq!(frames[1].handoff().map(|h| h.source).ok().as_deref(), Some("s"));
    }

    #[test]
    fn outcomes_round_trip_as_json() {
        let answer = BatchAnswer {
            outcomes: vec![Outcome { status: 429, duplicate: false, retry_after: Some(3), body: "{}".to_owned() }],
        };
        let text = serde_json::to_string(&answer).expect("frames");
        assert_eq!(serde_json::from_str::<BatchAnswer>(&text).expect("outcomes parse"), answer);
    }


    #[test]
    fn a_lone_delivery_leads_and_company_waits_for_the_return() {
        let mut gate = Gate::default();
        let t = UnixTime(1_000);
        assert!(gate.try_lead(t));
        assert!(!gate.try_lead(t));
        gate.enqueue("b", 10);
        assert!(!gate.try_lead(t));
        gate.enqueue("c", 10);
        // The first hand-off returns: b and c go together, b sending.
        assert_eq!(gate.next_batch(t), vec!["b", "c"]);
        assert!(!gate.is_idle());
        // Theirs returns with nothing waiting: idle, and the next delivery goes at once.
        assert!(gate.next_batch(t).is_empty());
        assert!(gate.is_idle());
        assert!(gate.try_lead(t));
    }

    #[test]
    fn a_batch_is_capped_and_the_rest_goes_next() {
        let mut gate = Gate::default();
        let t = UnixTime(0);
        assert!(gate.try_lead(t));
        for i in 0..MAX_BATCH_DELIVERIES + 3 {
            gate.enqueue(i, 1);
        }
        let first = gate.next_batch(t);
        assert_eq!(first, (0..MAX_BATCH_DELIVERIES).collect::<Vec<_>>());
        assert_eq!(gate.next_batch(t), vec![MAX_BATCH_DELIVERIES, MAX_BATCH_DELIVERIES + 1, MAX_BATCH_DELIVERIES + 2]);
        // By bytes: a large body waits for the next batch, but goes alone if it is first.
        assert!(gate.next_batch(t).is_empty());
        let mut gate = Gate::default();
        assert!(gate.try_lead(t));
        gate.enqueue("small", 10);
        gate.enqueue("large", MAX_BATCH_BODY_BYTES);
        assert_eq!(gate.next_batch(t), vec!["small"]);
        assert_eq!(gate.next_batch(t), vec!["large"]);
    }

    #[test]
    fn a_stale_hand_off_no_longer_holds_deliveries_back() {
        let mut gate: Gate<()> = Gate::default();
        assert!(gate.try_lead(UnixTime(0)));
        assert!(!gate.try_lead(UnixTime(STALE_HANDOFF_MS)));
        assert!(gate.try_lead(UnixTime(STALE_HANDOFF_MS + 1)));
    }

    proptest! {
        /// Whatever deliveries are framed come back, in order, unchanged.
        #[test]
        fn any_frames_round_trip(parts in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..64), proptest::collection::vec(any::<u8>(), 0..256)),
            1..=MAX_BATCH_DELIVERIES,
        )) {
            let mut body = Vec::new();
            for (handoff, raw) in &parts {
                push_frame(&mut body, handoff, raw).expect("short parts frame");
            }
            let frames = parse_frames(&body).expect("frames");
            prop_assert_eq!(frames.len(), parts.len());
            for (frame, (handoff, raw)) in frames.iter().zip(&parts) {
                prop_assert_eq!(frame.handoff, handoff.as_slice());
                prop_assert_eq!(frame.body, raw.as_slice());
            }
        }

        /// Any bytes at all: frames or an error, never a panic; and a cut batch is an error.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_frames(&bytes);
        }

        /// A whole batch cut anywhere short of its end is refused, never read as fewer frames
        /// unless the cut falls exactly between frames.
        #[test]
        fn a_cut_batch_is_refused_or_ends_on_a_frame(
            parts in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..16), proptest::collection::vec(any::<u8>(), 0..32)), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut body = Vec::new();
            let mut ends = vec![0];
            for (handoff, raw) in &parts {
                push_frame(&mut body, handoff, raw).expect("short parts frame");
                ends.push(body.len());
            }
            let at = cut.index(body.len());
            match parse_frames(&body[..at]) {
                Ok(frames) => {
                    prop_assert!(ends.contains(&at));
                    prop_assert_eq!(Some(&at), ends.get(frames.len()));
                }
                Err(_) => prop_assert!(at == 0 || !ends.contains(&at)),
            }
        }
    }
}
