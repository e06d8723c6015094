//! Checks a profile when its configuration loads, so that verification only reads headers
//! and never meets a shape it was not written for. Every error names the field to fix.

use super::config::{bad, ProfileConfig, ProfileError, ValueSource, MAX_CONFIG_TEXT};
use super::template::{parse_template, Piece};
use crate::signature::content::{MAX_HEADER_LEN, MAX_PIECES};

/// Checks `config` and splits its content template into the pieces before and after
/// `{body}`.
pub(super) fn check_profile(config: &ProfileConfig) -> Result<(Vec<Piece>, Vec<Piece>), ProfileError> {
    let sig = &config.signature;
    check_header("signature.header", &sig.header)?;
    check_entry_text("signature.prefix", sig.prefix.as_deref(), sig.separator.as_deref())?;
    check_separator("signature.separator", sig.separator.as_deref())?;
    if let Some(timestamp) = &config.timestamp {
        check_header("timestamp.header", &timestamp.header)?;
        check_entry_text("timestamp.prefix", timestamp.prefix.as_deref(), timestamp.separator.as_deref())?;
        check_separator("timestamp.separator", timestamp.separator.as_deref())?;
        if timestamp.header.eq_ignore_ascii_case(&sig.header) {
            // One header holds both (`t=…,v1=…`): each entry must be told apart.
            let (Some(ts), Some(prefix)) = (&timestamp.prefix, &sig.prefix) else {
                return Err(bad(
                    "timestamp.prefix",
                    "the timestamp shares the signature's header: give both entries a prefix (`t=`, `v1=`)",
                ));
            };
            if ts.starts_with(prefix.as_str()) || prefix.starts_with(ts.as_str()) {
                return Err(bad("timestamp.prefix", "must not begin like `signature.prefix`, nor it like this"));
            }
            if timestamp.separator != sig.separator {
                return Err(bad("timestamp.separator", "must be the signature's: they share a header"));
            }
        }
    }
    let own_headers: Vec<&str> =
        std::iter::once(sig.header.as_str()).chain(config.timestamp.as_ref().map(|t| t.header.as_str())).collect();
    for (field, source) in [("id.header", &config.id), ("type.header", &config.event_type)] {
        if let Some(header) = &source.header {
            if own_headers.iter().any(|h| h.eq_ignore_ascii_case(header)) {
                return Err(bad(field, "must be a header of its own, not the signature's or timestamp's"));
            }
        }
    }
    check_text("secret.prefix", config.secret.prefix.as_deref())?;
    check_source("id", &config.id)?;
    check_source("type", &config.event_type)?;
    if let Some(created) = &config.created {
        check_path("created.field", &created.field)?;
        if created.window && config.timestamp.is_some() {
            return Err(bad("created.window", "the profile signs a timestamp: the replay window applies to it"));
        }
    }
    let (before, after) = parse_template(&config.content)?;
    for piece in before.iter().chain(&after) {
        match piece {
            Piece::Timestamp if config.timestamp.is_none() => {
                return Err(bad("content", "`{timestamp}` needs a `timestamp` saying where it is"))
            }
            Piece::Id if config.id.header.is_none() => {
                return Err(bad("content", "`{id}` is signed from a header: set `id.header`"))
            }
            _ => {}
        }
    }
    Ok((before, after))
}

fn check_header(field: &'static str, name: &str) -> Result<(), ProfileError> {
    // RFC 9110 token characters: what a header name may be made of.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > MAX_CONFIG_TEXT || !name.bytes().all(token) {
        return Err(bad(field, format!("`{}` is not a header name", crate::refusal::quote(name))));
    }
    Ok(())
}

fn check_text(field: &'static str, text: Option<&str>) -> Result<(), ProfileError> {
    match text {
        Some("") => Err(bad(field, "is empty: leave it out instead")),
        Some(text) if text.len() > MAX_CONFIG_TEXT || text.len() > MAX_HEADER_LEN => {
            Err(bad(field, "longer than 256 bytes"))
        }
        _ => Ok(()),
    }
}

/// Separators are made of `,` `;` `|` `&` and spaces: none of them can occur in hex,
/// base64, a Unix time or an RFC 3339 time, so splitting never cuts a value.
fn check_separator(field: &'static str, separator: Option<&str>) -> Result<(), ProfileError> {
    check_text(field, separator)?;
    if separator.is_some_and(|s| !s.chars().all(|c| matches!(c, ',' | ';' | '|' | '&' | ' '))) {
        return Err(bad(field, "use `,` `;` `|` `&` or spaces"));
    }
    Ok(())
}

/// A prefix of a header's entries: printable ASCII without surrounding spaces (entries are
/// trimmed) and without the separator's characters (it would be split).
fn check_entry_text(field: &'static str, prefix: Option<&str>, separator: Option<&str>) -> Result<(), ProfileError> {
    check_text(field, prefix)?;
    let Some(prefix) = prefix else { return Ok(()) };
    let printable = prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !printable || prefix.trim() != prefix {
        return Err(bad(field, "use printable ASCII without leading or trailing spaces"));
    }
    if separator.is_some_and(|s| prefix.chars().any(|c| s.contains(c))) {
        return Err(bad(field, "must not contain the separator's characters"));
    }
    Ok(())
}

fn check_path(field: &'static str, path: &str) -> Result<(), ProfileError> {
    if path.is_empty() || path.len() > MAX_CONFIG_TEXT || path.split('.').any(str::is_empty) {
        return Err(bad(field, format!("`{}` is not a dotted field path", crate::refusal::quote(path))));
    }
    Ok(())
}

fn check_source(field: &'static str, source: &ValueSource) -> Result<(), ProfileError> {
    match (&source.header, &source.field) {
        (Some(header), None) => check_header(field, header),
        (None, Some(fields)) if !fields.paths().is_empty() && fields.paths().len() <= MAX_PIECES => {
            fields.paths().iter().try_for_each(|path| check_path(field, path))
        }
        (None, Some(_)) => Err(bad(field, "give 1 to 8 fields")),
        _ => Err(bad(field, "set exactly one of `header` or `field`")),
    }
}
