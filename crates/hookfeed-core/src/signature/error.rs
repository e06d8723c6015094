//! Why a delivery's signature or a configured secret was refused: the errors of the
//! signature layer, in a leaf module so that every scheme and every caller can name them.

use std::borrow::Cow;

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

/// A header name for an error. Configured profiles name their headers at run time, so
/// errors own the name; it is copied only on the refusal path.
pub(crate) fn owned(header: &str) -> Cow<'static, str> {
    Cow::Owned(header.to_owned())
}
