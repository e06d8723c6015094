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

mod caps;
mod frame;
mod queue;

use serde::{Deserialize, Serialize};

pub use caps::{fits, MAX_BATCH_BODY_BYTES, MAX_BATCH_DELIVERIES};
pub use frame::{parse_frames, push_frame, Frame, FrameError, PartTooLong};
pub use queue::{
    recheck_after_ms, Batch, BatchId, Queue, Step, Ticket, ANSWER_BOUND_MS, LEASE_MS, MAX_QUEUED_MS, QUEUE_BYTES_CAP,
    QUEUE_CAP,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn outcomes_round_trip_as_json() {
        let answer = BatchAnswer {
            outcomes: vec![Outcome { status: 429, duplicate: false, retry_after: Some(3), body: "{}".to_owned() }],
        };
        let text = serde_json::to_string(&answer).expect("frames");
        assert_eq!(serde_json::from_str::<BatchAnswer>(&text).expect("outcomes parse"), answer);
    }
}
