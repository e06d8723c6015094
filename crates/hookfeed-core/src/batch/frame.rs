//! A batch's frames: one length-prefixed hand-off and body per delivery (the format is
//! drawn in the [parent module](super)).

use super::caps::MAX_BATCH_DELIVERIES;
use crate::delivery::Handoff;

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
        let (handoff, after) =
            take_part(rest).map_err(|needed| FrameError::Truncated { frame, at: at(rest), needed })?;
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
    fn a_bad_handoff_is_its_frames_error_alone() {
        let mut body = Vec::new();
        push_frame(&mut body, b"not json", b"a").expect("frames");
        push_frame(&mut body, br#"{"source":"s","received_at":1}"#, b"b").expect("frames");
        let frames = parse_frames(&body).expect("frames");
        assert!(frames[0].handoff().is_err());
        assert_eq!(frames[1].handoff().map(|h| h.source).ok().as_deref(), Some("s"));
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
