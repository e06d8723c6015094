//! Reading signature headers: the parsers the built-in schemes share. Each refuses an
//! absent, oversized or malformed value with an error naming the header; none panics.

use super::content::{Headers, Tags, MAX_HEADER_LEN};
use super::error::{owned, SignatureError};
use crate::mac::{hmac_sha256, Tag};
use crate::secret::Secret;
use crate::time::UnixTime;

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
        value.push_str(&hex::encode(hmac_sha256(secret, parts).as_bytes()));
    }
    value
}
