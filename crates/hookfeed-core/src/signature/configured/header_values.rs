//! Reading the values a profile's headers hold: entries between separators, prefixes,
//! signatures in hex or base64, and times.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

use super::config::Encoding;
use crate::mac::{Algorithm, Tag};
use crate::signature::error::{owned, SignatureError};
use crate::signature::header::parse_unix;
use crate::time::{TimeFormat, UnixTime};

/// The entries of a header: the whole value, or its parts between separators, trimmed.
pub(super) fn entries<'v>(value: &'v str, separator: Option<&'v str>) -> impl Iterator<Item = &'v str> {
    let (whole, parts) = match separator {
        Some(separator) => (None, Some(value.split(separator))),
        None => (Some(value), None),
    };
    whole.into_iter().chain(parts.into_iter().flatten()).map(str::trim).filter(|e| !e.is_empty())
}

pub(super) fn strip<'e>(entry: &'e str, prefix: Option<&str>) -> Option<&'e str> {
    match prefix {
        Some(prefix) => entry.strip_prefix(prefix),
        None => Some(entry),
    }
}

/// Decodes one signature; it must have the algorithm's length.
pub(super) fn decode(
    encoded: &str,
    encoding: Encoding,
    algorithm: Algorithm,
    header: &str,
) -> Result<Tag, SignatureError> {
    let expected = match (encoding, algorithm) {
        (Encoding::Hex, Algorithm::Sha1) => "40 hex digits (HMAC-SHA1)",
        (Encoding::Hex, Algorithm::Sha256) => "64 hex digits (HMAC-SHA256)",
        (Encoding::Hex, Algorithm::Sha512) => "128 hex digits (HMAC-SHA512)",
        (Encoding::Base64, Algorithm::Sha1) => "base64 of a 20-byte HMAC-SHA1",
        (Encoding::Base64, Algorithm::Sha256) => "base64 of a 32-byte HMAC-SHA256",
        (Encoding::Base64, Algorithm::Sha512) => "base64 of a 64-byte HMAC-SHA512",
    };
    let refuse = || SignatureError::BadEncoding { header: owned(header), expected };
    let len = algorithm.tag_len();
    let mut bytes = [0u8; 96];
    match encoding {
        Encoding::Hex => {
            if encoded.len() != 2 * len {
                return Err(refuse());
            }
            hex::decode_to_slice(encoded, &mut bytes[..len]).map_err(|_| refuse())?;
        }
        Encoding::Base64 => {
            // 96 bytes hold any base64 that can decode to 64; longer is refused unread.
            if encoded.len() > 128 {
                return Err(refuse());
            }
            let decoded = STANDARD
                .decode_slice(encoded, &mut bytes)
                .or_else(|_| STANDARD_NO_PAD.decode_slice(encoded, &mut bytes))
                .map_err(|_| refuse())?;
            if decoded != len {
                return Err(refuse());
            }
        }
    }
    Ok(Tag::from_slice(&bytes[..len]))
}

pub(super) fn parse_time(text: &str, format: TimeFormat, header: &str) -> Result<UnixTime, SignatureError> {
    match format {
        TimeFormat::Unix => parse_unix(text, header, 12).map(UnixTime::from_secs),
        TimeFormat::UnixMs => parse_unix(text, header, 15).map(UnixTime),
        TimeFormat::Rfc3339 => UnixTime::parse_rfc3339(text).ok_or_else(|| SignatureError::MalformedHeader {
            header: owned(header),
            reason: "timestamp is not RFC 3339 (ISO 8601 with a time zone)",
        }),
    }
}
