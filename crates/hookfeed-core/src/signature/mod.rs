//! Signature schemes: one module each, behind one small trait.
//!
//! Every scheme MACs the raw bytes received (never re-serialised JSON) with HMAC (SHA-256
//! for the built-in schemes; SHA-1, SHA-256 or SHA-512 for a configured [`HmacProfile`]),
//! accepts any of several active secrets (rotation) and any of several signatures in its
//! header, and compares in constant time. Schemes with a signed timestamp check it in both
//! directions against the caller's `now` and the source's tolerance.

pub mod configured;
pub mod github;
pub mod percify;
pub mod standard_webhooks;
pub mod stripe;
pub mod twin_actor;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

pub use configured::{HmacProfile, URL_HEADER};
pub use github::Github;
pub use percify::Percify;
pub use standard_webhooks::StandardWebhooks;
pub use stripe::Stripe;
pub use twin_actor::TwinActor;

use serde_json::{Map, Value};

use crate::delivery::DeliveryError;
use crate::event::EventParts;
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

/// Why a delivery's signature was refused. Every variant answers 401; none says which
/// byte differed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The scheme's signature (or id/timestamp) header is absent.
    #[error("missing header `{header}`: is this source configured with the provider's scheme?")]
    MissingHeader {
        /// The header's canonical name.
        header: Cow<'static, str>,
    },
    /// The header is present but not in the scheme's format.
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// The header's canonical name.
        header: Cow<'static, str>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signature in the header is not valid hex or base64.
    #[error("bad encoding in header `{header}`: expected {expected}")]
    BadEncoding {
        /// The header's canonical name.
        header: Cow<'static, str>,
        /// The encoding the scheme uses.
        expected: &'static str,
    },
    /// The signed timestamp is older than the source's tolerance allows.
    #[error("timestamp too old: signed {age_secs} s ago, tolerance is {tolerance_secs} s (replayed, or a retry that kept its first timestamp: widen the source's tolerance)")]
    TimestampTooOld {
        /// How long ago the delivery was signed.
        age_secs: i64,
        /// The source's tolerance.
        tolerance_secs: u64,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("timestamp too new: signed {ahead_secs} s in the future, tolerance is {tolerance_secs} s (check the sender's clock)")]
    TimestampTooNew {
        /// How far ahead of `now` the timestamp is.
        ahead_secs: i64,
        /// The source's tolerance.
        tolerance_secs: u64,
    },
    /// No signature in the header matches any active secret of the source.
    #[error("no signature matched: the body was altered, or the source's secret differs from the provider's")]
    NoMatch,
    /// A header the provider sends beside the signature disagrees with the signed body.
    #[error("header `{header}` does not match the body's `{field}`")]
    HeaderBodyMismatch {
        /// The header's canonical name.
        header: &'static str,
        /// The body field it must equal.
        field: &'static str,
    },
}

impl SignatureError {
    /// A stable machine-readable code for logs and JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader { .. } => "missing_header",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::BadEncoding { .. } => "bad_encoding",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampTooNew { .. } => "timestamp_too_new",
            Self::NoMatch => "signature_mismatch",
            Self::HeaderBodyMismatch { .. } => "header_body_mismatch",
        }
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
    /// ([`ReplayKey`](crate::ledger::ReplayKey)).
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

/// What [`SignatureScheme::signed_content`] gives: what to MAC and compare, or why the
/// headers are refused.
pub type SignedContentResult<'h> = Result<SignedContent<'h>, SignatureError>;

/// What [`SignatureScheme::read_event`] gives.
pub type EventResult = Result<EventParts, DeliveryError>;

/// One signature scheme: how a provider signs, and how to check it.
pub trait SignatureScheme {
    /// Reads the signature headers: the signed content's prefix, the signatures offered,
    /// and what the headers claim; checks the signed timestamp against `window`. Refuses
    /// missing, oversized or malformed headers. Computes no MAC.
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h>;

    /// Checks `body` against the signature headers under any of `secrets`.
    fn verify<'h>(
        &'h self,
        headers: &'h dyn Headers,
        body: &[u8],
        secrets: &[Secret],
        window: ReplayWindow,
    ) -> Result<SignedHeaders<'h>, SignatureError> {
        self.signed_content(headers, window)?.verify(body, secrets)
    }

    /// The headers [`verify`](Self::verify) reads, so a caller can fetch just those. A
    /// configured profile that signs `{url}` lists [`configured::URL_HEADER`], which the
    /// caller fills with the request's URL.
    fn header_names(&self) -> Vec<&str>;

    /// The headers a provider would send for `input`, one signature per secret.
    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)>;

    /// Reads a verified body (a JSON object) in the provider's format: event id, type,
    /// creation time and payload. `signed` holds what the signature headers proved.
    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> EventResult;

    /// A secret in the form the provider hands out, for tests, examples and dry runs.
    fn example_secret(&self) -> &'static str {
        "demo-secret-for-tests"
    }

    /// Reads a configured secret (already trimmed). By default, its bytes as the key.
    fn parse_secret(&self, configured: &str) -> Result<Secret, SecretError> {
        if configured.is_empty() {
            Err(SecretError::Empty)
        } else {
            Ok(Secret::from_bytes(configured.as_bytes()))
        }
    }

    /// The replay tolerance a source gets unless configured.
    fn default_tolerance_secs(&self) -> u64 {
        300
    }

    /// Whether the replay window applies to the body's `created`: for a scheme that signs
    /// no timestamp.
    fn window_on_body_created(&self) -> bool {
        false
    }

    /// Whether its events say when they happened (a `created` it reads from the body). A
    /// signed timestamp does not count: providers sign each attempt, so a retry's is newer
    /// than the event. Without one, a source that projects must say where the time is
    /// (`"created"` in its configuration), or projection would follow arrival order.
    fn reads_event_time(&self) -> bool {
        true
    }
}

/// The schemes hookfeed verifies, one line each: the variant, its configuration name and
/// its implementation. Everything else about a scheme (headers, signed content, secret
/// format, replay window, body format, example secret) lives in the scheme's module.
macro_rules! schemes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal => $imp:expr ),+ $(,)?) => {
        /// The signature schemes hookfeed verifies, by their configuration name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Scheme {
            $( $(#[$doc])* $variant, )+
        }

        impl Scheme {
            /// Every scheme, in documentation order.
            pub const ALL: [Scheme; [$($name),+].len()] = [$(Self::$variant),+];

            /// The configuration name (`twin-actor`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The scheme's implementation.
            pub fn verifier(self) -> &'static dyn SignatureScheme {
                match self {
                    $(Self::$variant => &$imp,)+
                }
            }
        }
    };
}

schemes! {
    /// Percify: hex HMAC of the raw body, no timestamp.
    Percify = "percify" => percify::Percify,
    /// Twin.Actor: `t=…,v1=…` over `"{t}.{body}"`.
    TwinActor = "twin-actor" => twin_actor::TwinActor,
    /// Standard Webhooks: `v1,<base64>` over `"{id}.{ts}.{body}"`, `whsec_` base64 secrets.
    StandardWebhooks = "standard-webhooks" => standard_webhooks::StandardWebhooks,
    /// Stripe: `t=…,v1=…` over `"{t}.{body}"`, the `whsec_…` string as key.
    Stripe = "stripe" => stripe::Stripe,
    /// GitHub: `sha256=<hex>` of the raw body.
    Github = "github" => github::Github,
}

impl Scheme {
    /// Reads a configured secret the way this scheme's provider hands it out.
    pub fn parse_secret(self, configured: &str) -> Result<Secret, SecretError> {
        self.verifier().parse_secret(configured.trim())
    }

    /// The replay tolerance a source of this scheme gets unless configured.
    pub fn default_tolerance_secs(self) -> u64 {
        self.verifier().default_tolerance_secs()
    }

    /// Whether the replay window applies to the body's `created` (no signed timestamp).
    pub fn window_on_body_created(self) -> bool {
        self.verifier().window_on_body_created()
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = UnknownScheme;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| UnknownScheme(name.to_owned()))
    }
}

impl Serialize for Scheme {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Scheme {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A scheme name that is not one of [`Scheme::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScheme(pub String);

impl fmt::Display for UnknownScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.name()).collect();
        write!(f, "unknown scheme `{}`: expected one of {}", crate::refusal::quote(&self.0), names.join(", "))
    }
}

impl std::error::Error for UnknownScheme {}

/// A configured secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is empty: anyone could sign.
    #[error("secret is empty")]
    Empty,
    /// A Standard Webhooks secret that is not `whsec_` + base64.
    #[error("standard-webhooks secrets are `whsec_` followed by base64")]
    NotBase64,
    /// A secret that does not decode as its profile says it is written.
    #[error("secret is not {expected}")]
    BadEncoding {
        /// How the profile says it is written.
        expected: &'static str,
    },
}

/// The hash under an HMAC: SHA-256 for every built-in scheme; a configured profile
/// picks one.
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

    /// The HMAC of the concatenation of `parts` under `secret`.
    pub fn mac(self, secret: &Secret, parts: &[&[u8]]) -> Tag {
        match self {
            Self::Sha1 => Tag::from_slice(&hmac_of::<Hmac<Sha1>>(secret, parts)),
            Self::Sha256 => Tag::from(mac(secret, parts)),
            Self::Sha512 => Tag::from_slice(&hmac_of::<Hmac<Sha512>>(secret, parts)),
        }
    }
}

/// HMAC with any of the hashes, over the concatenation of `parts`.
fn hmac_of<M: Mac + hmac::digest::KeyInit>(secret: &Secret, parts: &[&[u8]]) -> Vec<u8> {
    // new_from_slice only fails for fixed-size keys; HMAC takes keys of any length.
    let Ok(mut mac) = <M as Mac>::new_from_slice(secret.expose()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`, so callers never build `"{t}.{body}"`
/// in a fresh buffer.
pub(crate) fn mac(secret: &Secret, parts: &[&[u8]]) -> [u8; 32] {
    // new_from_slice only fails for fixed-size keys; HMAC takes keys of any length.
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(secret.expose()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
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
    /// A tag of `bytes`; longer than [`MAX_TAG_LEN`] is cut there (no HMAC here is longer).
    pub fn from_slice(bytes: &[u8]) -> Self {
        let len = bytes.len().min(MAX_TAG_LEN);
        let mut tag = Self { bytes: [0; MAX_TAG_LEN], len: len as u8 };
        tag.bytes[..len].copy_from_slice(&bytes[..len]);
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

/// The signatures found in a header: at most [`MAX_SIGNATURES`], kept on the stack.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    tags: [Tag; MAX_SIGNATURES],
    len: usize,
}

impl Tags {
    pub(crate) const fn new() -> Self {
        Self { tags: [Tag { bytes: [0; MAX_TAG_LEN], len: 0 }; MAX_SIGNATURES], len: 0 }
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

/// Whether `expected` equals any of `candidates`: every one is compared in constant time,
/// with no early exit. The one comparison of MACs in hookfeed.
fn equals_any(expected: &Tag, candidates: &[Tag]) -> subtle::Choice {
    let mut matched = subtle::Choice::from(0);
    for candidate in candidates {
        matched |= expected.ct_eq(candidate);
    }
    matched
}

/// True when any candidate equals the HMAC-SHA256 of `parts` under any secret
/// (subscriber tokens).
pub(crate) fn any_matches(secrets: &[Secret], parts: &[&[u8]], candidates: &[[u8; 32]]) -> bool {
    let candidates: Vec<Tag> = candidates.iter().map(|c| Tag::from(*c)).collect();
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        matched |= equals_any(&Tag::from(mac(secret, parts)), &candidates);
    }
    matched.into()
}

/// A header name for an error. Configured profiles name their headers at run time, so
/// errors own the name; it is copied only on the refusal path.
pub(crate) fn owned(header: &str) -> Cow<'static, str> {
    Cow::Owned(header.to_owned())
}

/// The value of a header, refusing absent and oversized ones.
pub(crate) fn required<'h>(headers: &'h dyn Headers, name: &str) -> Result<&'h str, SignatureError> {
    let value = headers.header(name).ok_or_else(|| SignatureError::MissingHeader { header: owned(name) })?;
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::MalformedHeader { header: owned(name), reason: "longer than 8 KiB" });
    }
    Ok(value.trim())
}

/// A Unix timestamp in whole seconds, as the `t=` and `webhook-timestamp` headers carry it.
pub(crate) fn parse_unix_secs(text: &str, header: &str) -> Result<UnixTime, SignatureError> {
    parse_unix(text, header, 12).map(UnixTime::from_secs)
}

/// A whole number of at most `digits` digits, for a Unix timestamp.
pub(crate) fn parse_unix(text: &str, header: &str, digits: usize) -> Result<i64, SignatureError> {
    let malformed = || SignatureError::MalformedHeader { header: owned(header), reason: "timestamp is not Unix time" };
    if text.is_empty() || text.len() > digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    text.parse::<i64>().map_err(|_| malformed())
}

/// Hex-decodes one signature, as a 32-byte MAC.
pub(crate) fn decode_hex_mac(text: &str, header: &str) -> Result<Tag, SignatureError> {
    let text = text.trim();
    if text.len() != 64 {
        return Err(SignatureError::BadEncoding { header: owned(header), expected: "64 hex digits (HMAC-SHA256)" });
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(text, &mut tag)
        .map_err(|_| SignatureError::BadEncoding { header: owned(header), expected: "hex" })?;
    Ok(Tag::from(tag))
}

/// The `t=<unix>,v1=<hex>[,v1=<hex>…]` header shared by Twin.Actor and Stripe.
///
/// Unknown keys (Stripe's `v0`, future versions) are skipped; `t` must appear once.
pub(crate) fn parse_timestamped_hex<'v>(
    value: &'v str,
    header: &str,
) -> Result<(UnixTime, &'v str, Tags), SignatureError> {
    let malformed = |reason| SignatureError::MalformedHeader { header: owned(header), reason };
    let mut timestamp = None;
    let mut signatures = Tags::new();
    for item in value.split(',') {
        let (key, val) =
            item.trim().split_once('=').ok_or_else(|| malformed("expected comma-separated key=value pairs"))?;
        match key.trim() {
            "t" if timestamp.is_some() => return Err(malformed("more than one `t=`")),
            "t" => timestamp = Some((parse_unix_secs(val.trim(), header)?, val.trim())),
            "v1" => signatures.push(decode_hex_mac(val, header)?, header)?,
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp.ok_or_else(|| malformed("no `t=` timestamp"))?;
    if signatures.is_empty() {
        return Err(malformed("no `v1=` signature"));
    }
    Ok((timestamp, timestamp_text, signatures))
}

/// Formats `t=<unix>,v1=<hex>…` with one signature per secret.
pub(crate) fn format_timestamped_hex(timestamp: UnixTime, parts: &[&[u8]], secrets: &[Secret]) -> String {
    let mut value = format!("t={}", timestamp.as_secs());
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&hex::encode(mac(secret, parts)));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.name().parse::<Scheme>(), Ok(scheme));
            let json = serde_json::to_string(&scheme).expect("serializes");
            assert_eq!(json, format!("\"{}\"", scheme.name()));
        }
        assert!("paypal".parse::<Scheme>().is_err());
    }

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
