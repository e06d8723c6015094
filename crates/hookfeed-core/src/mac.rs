//! HMAC, written once: the hash under it, the tag it produces, and the one constant-time
//! comparison of tags. Signature schemes and subscriber tokens both MAC through here.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// The hash under an HMAC: SHA-256 for every built-in scheme and for tokens; a configured
/// profile picks one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (20-byte tags), still used by a few providers.
    Sha1,
    /// HMAC-SHA256 (32-byte tags).
    #[default]
    Sha256,
    /// HMAC-SHA512 (64-byte tags).
    Sha512,
}

impl Algorithm {
    /// The tag length in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The hash's name in WebCrypto (`SHA-256`), for a caller that MACs there.
    pub const fn webcrypto_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        }
    }

    /// The configuration name (`sha256`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// The HMAC of the concatenation of `parts` under `secret`, so callers never build
    /// `"{t}.{body}"` in a fresh buffer.
    pub fn mac(self, secret: &Secret, parts: &[&[u8]]) -> Tag {
        match self {
            Self::Sha1 => hmac::<Hmac<Sha1>>(secret, parts),
            Self::Sha256 => hmac::<Hmac<Sha256>>(secret, parts),
            Self::Sha512 => hmac::<Hmac<Sha512>>(secret, parts),
        }
    }
}

/// The one HMAC function: `M` over the concatenation of `parts`, keyed by `secret`.
fn hmac<M: Mac + hmac::digest::KeyInit>(secret: &Secret, parts: &[&[u8]]) -> Tag {
    // new_from_slice only fails for fixed-size keys; HMAC takes keys of any length.
    let Ok(mut mac) = <M as Mac>::new_from_slice(secret.expose()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    for part in parts {
        mac.update(part);
    }
    Tag::from_slice(&mac.finalize().into_bytes())
}

/// HMAC-SHA256 of the concatenation of `parts`: what every built-in scheme and every
/// subscriber token signs with.
pub fn hmac_sha256(secret: &Secret, parts: &[&[u8]]) -> Tag {
    Algorithm::Sha256.mac(secret, parts)
}

/// Longest tag of any [`Algorithm`] (SHA-512's).
pub const MAX_TAG_LEN: usize = 64;

/// A MAC as sent in a header or computed: up to [`MAX_TAG_LEN`] bytes, on the stack.
///
/// Equality is constant-time over all [`MAX_TAG_LEN`] bytes and the length, so tags of
/// different hashes never compare equal and no comparison depends on where they differ.
#[derive(Clone, Copy)]
pub struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: u8,
}

impl Tag {
    /// The empty tag (matches nothing that was computed).
    pub const EMPTY: Self = Self { bytes: [0; MAX_TAG_LEN], len: 0 };

    /// A tag of `bytes`; longer than [`MAX_TAG_LEN`] is cut there (no HMAC here is longer).
    pub fn from_slice(bytes: &[u8]) -> Self {
        let len = bytes.len().min(MAX_TAG_LEN);
        let mut tag = Self::EMPTY;
        tag.bytes[..len].copy_from_slice(&bytes[..len]);
        tag.len = len as u8;
        tag
    }

    /// The tag's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl From<[u8; 32]> for Tag {
    fn from(bytes: [u8; 32]) -> Self {
        Self::from_slice(&bytes)
    }
}

impl ConstantTimeEq for Tag {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.bytes.ct_eq(&other.bytes) & self.len.ct_eq(&other.len)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", hex::encode(self.as_bytes()))
    }
}

/// Whether `expected` equals any of `candidates`: every one is compared in constant time,
/// with no early exit. The one comparison of MACs in hookfeed.
pub fn equals_any(expected: &Tag, candidates: &[Tag]) -> subtle::Choice {
    let mut matched = subtle::Choice::from(0);
    for candidate in candidates {
        matched |= expected.ct_eq(candidate);
    }
    matched
}

/// True when `candidate` equals the HMAC-SHA256 of `parts` under any of `secrets`, every
/// secret tried in constant time (subscriber tokens).
pub fn matches_any_secret(secrets: &[Secret], parts: &[&[u8]], candidate: &Tag) -> bool {
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        matched |= equals_any(&hmac_sha256(secret, parts), std::slice::from_ref(candidate));
    }
    matched.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_different_lengths_never_compare_equal() {
        let secret = Secret::from_bytes(b"k");
        let sha256 = Algorithm::Sha256.mac(&secret, &[b"m"]);
        let sha512 = Algorithm::Sha512.mac(&secret, &[b"m"]);
        assert_eq!(sha256.as_bytes().len(), 32);
        assert_eq!(sha512.as_bytes().len(), 64);
        assert!(!bool::from(sha256.ct_eq(&sha512)));
        assert!(!bool::from(sha256.ct_eq(&Tag::from_slice(&sha512.as_bytes()[..32]))));
    }

    #[test]
    fn the_parts_are_maced_as_their_concatenation() {
        let secret = Secret::from_bytes(b"key");
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let whole = algorithm.mac(&secret, &[b"123.body"]);
            let parts = algorithm.mac(&secret, &[b"123", b".", b"body"]);
            assert!(bool::from(whole.ct_eq(&parts)));
            assert_eq!(whole.as_bytes().len(), algorithm.tag_len());
        }
    }
}
