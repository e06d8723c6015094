//! What a delivery's headers say was signed ([`SignedContent`]), and everything it is built
//! from: the headers, the replay window, the signatures offered. Computing and comparing
//! MACs over it is written once, here.

use sha2::Sha256;

use super::error::{owned, SignatureError};
use crate::mac::{equals_any, Algorithm, Tag};
use crate::secret::Secret;
use crate::time::UnixTime;

/// Longest header value a scheme will parse; longer ones are refused as malformed rather
/// than scanned, so a hostile header costs nothing.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// Most signatures accepted in one header (rotation sends one per active secret).
pub const MAX_SIGNATURES: usize = 16;

/// Request headers, looked up case-insensitively by name.
pub trait Headers {
    /// The value of the first header called `name` (any case), if present.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

/// What the signature headers claimed, once the signature is proven.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedHeaders<'h> {
    /// The signed timestamp, for schemes that sign one.
    pub timestamp: Option<UnixTime>,
    /// The delivery's event id from a header (`X-Webhook-ID`, `webhook-id`, `X-GitHub-Delivery`).
    pub event_id: Option<&'h str>,
    /// The event type from a header (`X-Webhook-Event`, `X-GitHub-Event`).
    pub event_type: Option<&'h str>,
}

/// What a scheme needs to sign a delivery (the CLI and the tests sign; providers do in production).
#[derive(Debug, Clone, Copy)]
pub struct SigningInput<'a> {
    /// The exact bytes that will be sent.
    pub body: &'a [u8],
    /// The signing time.
    pub timestamp: UnixTime,
    /// The event id, for schemes that send it in a header.
    pub event_id: &'a str,
    /// The event type, for schemes that send it in a header.
    pub event_type: &'a str,
}

/// The replay window a verification runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The verifier's current time.
    pub now: UnixTime,
    /// How far a signed timestamp may be from `now`, either way.
    pub tolerance_secs: u64,
}

impl ReplayWindow {
    /// Refuses a timestamp outside `now ± tolerance`.
    pub fn check(&self, signed_at: UnixTime) -> Result<(), SignatureError> {
        let tolerance = i64::try_from(self.tolerance_secs).unwrap_or(i64::MAX);
        let age = self.now.secs_since(signed_at);
        if age > tolerance {
            Err(SignatureError::TimestampTooOld { age_secs: age, tolerance_secs: self.tolerance_secs })
        } else if -age > tolerance {
            Err(SignatureError::TimestampTooNew { ahead_secs: -age, tolerance_secs: self.tolerance_secs })
        } else {
            Ok(())
        }
    }
}

/// Most pieces of headers and literal text a signed content holds around the body.
pub const MAX_PIECES: usize = 8;

/// What a delivery's headers say was signed, read before any MAC is computed: the bytes
/// around the body in the signed content, the signatures offered, the hash, and what the
/// headers claim once one of them matches.
///
/// Every scheme signs `prefix ++ body ++ suffix` (the built-in ones with an empty suffix),
/// so each scheme only parses its headers (and checks its replay window); computing and
/// comparing MACs is written once, here. The MAC may come from this crate
/// ([`SignedContent::verify`]) or from the caller's engine, such as the Workers runtime's
/// WebCrypto for large bodies ([`SignedContent::check`]).
#[derive(Debug, Clone)]
pub struct SignedContent<'h> {
    /// What surrounds the body, as pieces of the headers or the profile (no copy): the
    /// first `body_at` precede it, the rest up to `pieces` follow it.
    around: [&'h [u8]; MAX_PIECES],
    /// How many of `around`'s pieces are used.
    pieces: usize,
    /// How many of them precede the body.
    body_at: usize,
    algorithm: Algorithm,
    candidates: Tags,
    claims: SignedHeaders<'h>,
}

impl<'h> SignedContent<'h> {
    /// The signed content is `prefix ++ body` (the prefix in up to four pieces, joined),
    /// MACed with HMAC-SHA256; `candidates` are the signatures offered.
    pub(crate) fn new(prefix: &[&'h [u8]], candidates: Tags, claims: SignedHeaders<'h>) -> Self {
        Self::around(prefix, &[], Algorithm::Sha256, candidates, claims)
    }

    /// The signed content is `prefix ++ body ++ suffix` under `algorithm`. Pieces past
    /// [`MAX_PIECES`] in all are dropped: callers bound them ([`HmacProfile`] refuses longer
    /// templates when it is configured).
    pub(crate) fn around(
        prefix: &[&'h [u8]],
        suffix: &[&'h [u8]],
        algorithm: Algorithm,
        candidates: Tags,
        claims: SignedHeaders<'h>,
    ) -> Self {
        let mut around: [&'h [u8]; MAX_PIECES] = [&[]; MAX_PIECES];
        let mut pieces = 0;
        for (slot, piece) in around.iter_mut().zip(prefix.iter().chain(suffix)) {
            *slot = piece;
            pieces += 1;
        }
        Self { around, pieces, body_at: prefix.len().min(pieces), algorithm, candidates, claims }
    }

    /// The bytes the signed content holds before the body (`"{t}."`, `"{id}.{ts}."`, or
    /// nothing), joined, for a caller whose MAC engine wants one buffer.
    pub fn prefix(&self) -> Vec<u8> {
        self.around[..self.body_at].concat()
    }

    /// The bytes the signed content holds after the body (nothing for most schemes), joined.
    pub fn suffix(&self) -> Vec<u8> {
        self.around[self.body_at..self.pieces].concat()
    }

    /// The hash the MAC uses.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// SHA-256 of everything the signature covers besides the body (the pieces before and
    /// after it, each framed by its length, and where the body sits among them): with
    /// the body's own digest, what identifies the signed content, so that a replay is
    /// known whatever unsigned headers come with it
    /// ([`ReplayKey`](crate::replay::ReplayKey)).
    pub fn context_digest(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut hash = Sha256::new();
        hash.update((self.body_at as u64).to_be_bytes());
        for piece in &self.around[..self.pieces] {
            hash.update((piece.len() as u64).to_be_bytes());
            hash.update(piece);
        }
        hash.finalize().into()
    }

    /// The MAC of `prefix ++ body ++ suffix` under `secret`, in software, without joining them.
    pub fn mac(&self, secret: &Secret, body: &[u8]) -> Tag {
        let mut parts: [&[u8]; MAX_PIECES + 1] = [&[]; MAX_PIECES + 1];
        parts[..self.body_at].copy_from_slice(&self.around[..self.body_at]);
        parts[self.body_at] = body;
        parts[self.body_at + 1..=self.pieces].copy_from_slice(&self.around[self.body_at..self.pieces]);
        self.algorithm.mac(secret, &parts[..=self.pieces])
    }

    /// Accepts when any of `macs` (one per active secret, over `prefix ++ body ++ suffix`)
    /// equals any signature offered. Every pair is compared in constant time, with no
    /// early exit.
    pub fn check(self, macs: &[Tag]) -> Result<SignedHeaders<'h>, SignatureError> {
        let mut matched = subtle::Choice::from(0);
        for expected in macs {
            matched |= self.matches(expected);
        }
        self.accept(matched)
    }

    /// Computes the MAC under each of `secrets` in software and compares as
    /// [`check`](Self::check) does.
    pub fn verify(self, body: &[u8], secrets: &[Secret]) -> Result<SignedHeaders<'h>, SignatureError> {
        let mut matched = subtle::Choice::from(0);
        for secret in secrets {
            matched |= self.matches(&self.mac(secret, body));
        }
        self.accept(matched)
    }

    /// Whether `expected` equals any candidate, compared with every one in constant time.
    fn matches(&self, expected: &Tag) -> subtle::Choice {
        equals_any(expected, self.candidates.as_slice())
    }

    fn accept(self, matched: subtle::Choice) -> Result<SignedHeaders<'h>, SignatureError> {
        if bool::from(matched) {
            Ok(self.claims)
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

/// The signatures found in a header: at most [`MAX_SIGNATURES`], kept on the stack.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    tags: [Tag; MAX_SIGNATURES],
    len: usize,
}

impl Tags {
    pub(crate) const fn new() -> Self {
        Self { tags: [Tag::EMPTY; MAX_SIGNATURES], len: 0 }
    }

    /// Adds a tag, refusing more than [`MAX_SIGNATURES`].
    pub(crate) fn push(&mut self, tag: Tag, header: &str) -> Result<(), SignatureError> {
        let Some(slot) = self.tags.get_mut(self.len) else {
            return Err(SignatureError::MalformedHeader { header: owned(header), reason: "too many signatures" });
        };
        *slot = tag;
        self.len += 1;
        Ok(())
    }

    /// One tag.
    pub(crate) fn one(tag: Tag) -> Self {
        let mut tags = Self::new();
        tags.tags[0] = tag;
        tags.len = 1;
        tags
    }

    pub(crate) fn as_slice(&self) -> &[Tag] {
        &self.tags[..self.len]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_is_checked_in_both_directions() {
        let window = ReplayWindow { now: UnixTime::from_secs(1_000_000), tolerance_secs: 300 };
        assert_eq!(window.check(UnixTime::from_secs(1_000_000 - 300)), Ok(()));
        assert_eq!(window.check(UnixTime::from_secs(1_000_000 + 300)), Ok(()));
        assert!(matches!(
            window.check(UnixTime::from_secs(1_000_000 - 301)),
            Err(SignatureError::TimestampTooOld { age_secs: 301, tolerance_secs: 300 })
        ));
        assert!(matches!(
            window.check(UnixTime::from_secs(1_000_000 + 301)),
            Err(SignatureError::TimestampTooNew { ahead_secs: 301, tolerance_secs: 300 })
        ));
    }

    #[test]
    fn headers_are_found_in_any_case() {
        let headers = [("X-Webhook-Signature", "a"), ("content-type", "b")];
        assert_eq!(headers.header("x-webhook-signature"), Some("a"));
        assert_eq!(headers.header("Content-Type"), Some("b"));
        assert_eq!(headers.header("missing"), None);
    }
}
