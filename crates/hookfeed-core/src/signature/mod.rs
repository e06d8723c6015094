//! Signature schemes: one module each, behind one small trait.
//!
//! Every scheme MACs the raw bytes received (never re-serialised JSON) with HMAC-SHA256,
//! accepts any of several active secrets (rotation) and any of several signatures in its
//! header, and compares in constant time. Schemes with a signed timestamp check it in both
//! directions against the caller's `now` and the source's tolerance.

pub mod github;
pub mod percify;
pub mod standard_webhooks;
pub mod stripe;
pub mod twin_actor;

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

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
        header: &'static str,
    },
    /// The header is present but not in the scheme's format.
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// The header's canonical name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signature in the header is not valid hex or base64.
    #[error("bad encoding in header `{header}`: expected {expected}")]
    BadEncoding {
        /// The header's canonical name.
        header: &'static str,
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

/// What a delivery's headers say was signed, read before any MAC is computed: the bytes
/// that precede the body in the signed content, the signatures offered, and what the
/// headers claim once one of them matches.
///
/// Every scheme signs `prefix ++ body`, so each scheme only parses its headers (and checks
/// its replay window); computing and comparing MACs is written once, here. The MAC may come
/// from this crate ([`SignedContent::verify`]) or from the caller's engine, such as the
/// Workers runtime's WebCrypto for large bodies ([`SignedContent::check`]).
#[derive(Debug, Clone)]
pub struct SignedContent<'h> {
    /// What precedes the body, as pieces of the headers (no copy): at most `{id}`, `.`,
    /// `{ts}`, `.`.
    prefix: [&'h [u8]; 4],
    /// How many of `prefix`'s pieces are used.
    pieces: usize,
    candidates: Tags,
    claims: SignedHeaders<'h>,
}

impl<'h> SignedContent<'h> {
    /// The signed content is `prefix ++ body` (the prefix in up to four pieces, joined);
    /// `candidates` are the signatures offered.
    pub(crate) fn new(prefix: &[&'h [u8]], candidates: Tags, claims: SignedHeaders<'h>) -> Self {
        let mut pieces: [&'h [u8]; 4] = [&[]; 4];
        for (slot, piece) in pieces.iter_mut().zip(prefix) {
            *slot = piece;
        }
        Self { prefix: pieces, pieces: prefix.len().min(4), candidates, claims }
    }

    /// The bytes the signed content holds before the body (`"{t}."`, `"{id}.{ts}."`, or
    /// nothing), joined, for a caller whose MAC engine wants one buffer.
    pub fn prefix(&self) -> Vec<u8> {
        self.prefix.concat()
    }

    /// HMAC-SHA256 of `prefix ++ body` under `secret`, in software, without joining them.
    pub fn mac(&self, secret: &Secret, body: &[u8]) -> Tag {
        let mut parts: [&[u8]; 5] = [&[]; 5];
        parts[..self.pieces].copy_from_slice(&self.prefix[..self.pieces]);
        parts[self.pieces] = body;
        mac(secret, &parts[..=self.pieces])
    }

    /// Accepts when any of `macs` (one per active secret, over `prefix ++ body`) equals any
    /// signature offered. Every pair is compared in constant time, with no early exit.
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
    fn signed_content<'h>(&self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h>;

    /// Checks `body` against the signature headers under any of `secrets`.
    fn verify<'h>(
        &self,
        headers: &'h dyn Headers,
        body: &[u8],
        secrets: &[Secret],
        window: ReplayWindow,
    ) -> Result<SignedHeaders<'h>, SignatureError> {
        self.signed_content(headers, window)?.verify(body, secrets)
    }

    /// The headers [`verify`](Self::verify) reads, so a caller can fetch just those.
    fn header_names(&self) -> &'static [&'static str];

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
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`, so callers never build `"{t}.{body}"`
/// in a fresh buffer.
pub(crate) fn mac(secret: &Secret, parts: &[&[u8]]) -> [u8; 32] {
    // new_from_slice only fails for fixed-size keys; HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(secret.expose()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA256 tag as sent in a header.
pub type Tag = [u8; 32];

/// The signatures found in a header: at most [`MAX_SIGNATURES`], kept on the stack.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    tags: [Tag; MAX_SIGNATURES],
    len: usize,
}

impl Tags {
    pub(crate) const fn new() -> Self {
        Self { tags: [[0; 32]; MAX_SIGNATURES], len: 0 }
    }

    /// Adds a tag, refusing more than [`MAX_SIGNATURES`].
    pub(crate) fn push(&mut self, tag: Tag, header: &'static str) -> Result<(), SignatureError> {
        let slot = self
            .tags
            .get_mut(self.len)
            .ok_or(SignatureError::MalformedHeader { header, reason: "too many signatures" })?;
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

/// True when any candidate equals the MAC of `parts` under any secret (subscriber tokens).
pub(crate) fn any_matches(secrets: &[Secret], parts: &[&[u8]], candidates: &[Tag]) -> bool {
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        matched |= equals_any(&mac(secret, parts), candidates);
    }
    matched.into()
}

/// The value of a header, refusing absent and oversized ones.
pub(crate) fn required<'h>(headers: &'h dyn Headers, name: &'static str) -> Result<&'h str, SignatureError> {
    let value = headers.header(name).ok_or(SignatureError::MissingHeader { header: name })?;
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::MalformedHeader { header: name, reason: "longer than 8 KiB" });
    }
    Ok(value.trim())
}

/// A Unix timestamp in whole seconds, as the `t=` and `webhook-timestamp` headers carry it.
pub(crate) fn parse_unix_secs(text: &str, header: &'static str) -> Result<UnixTime, SignatureError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedHeader { header, reason: "timestamp is not Unix seconds" });
    }
    text.parse::<i64>()
        .map(UnixTime::from_secs)
        .map_err(|_| SignatureError::MalformedHeader { header, reason: "timestamp is not Unix seconds" })
}

/// Hex-decodes one signature, as a 32-byte MAC.
pub(crate) fn decode_hex_mac(text: &str, header: &'static str) -> Result<Tag, SignatureError> {
    let text = text.trim();
    if text.len() != 64 {
        return Err(SignatureError::BadEncoding { header, expected: "64 hex digits (HMAC-SHA256)" });
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(text, &mut tag).map_err(|_| SignatureError::BadEncoding { header, expected: "hex" })?;
    Ok(tag)
}

/// The `t=<unix>,v1=<hex>[,v1=<hex>…]` header shared by Twin.Actor and Stripe.
///
/// Unknown keys (Stripe's `v0`, future versions) are skipped; `t` must appear once.
pub(crate) fn parse_timestamped_hex<'v>(
    value: &'v str,
    header: &'static str,
) -> Result<(UnixTime, &'v str, Tags), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Tags::new();
    for item in value.split(',') {
        let (key, val) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::MalformedHeader { header, reason: "expected comma-separated key=value pairs" })?;
        match key.trim() {
            "t" if timestamp.is_some() => {
                return Err(SignatureError::MalformedHeader { header, reason: "more than one `t=`" })
            }
            "t" => timestamp = Some((parse_unix_secs(val.trim(), header)?, val.trim())),
            "v1" => signatures.push(decode_hex_mac(val, header)?, header)?,
            _ => {}
        }
    }
    let (timestamp, timestamp_text) =
        timestamp.ok_or(SignatureError::MalformedHeader { header, reason: "no `t=` timestamp" })?;
    if signatures.is_empty() {
        return Err(SignatureError::MalformedHeader { header, reason: "no `v1=` signature" });
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
