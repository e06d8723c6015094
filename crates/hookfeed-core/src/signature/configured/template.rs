//! A profile's content template (`{timestamp}.{body}`): the pieces around the body.

use super::config::{bad, ProfileError, MAX_CONFIG_TEXT};
use crate::signature::content::MAX_PIECES;

/// The placeholders a content template may use.
const PLACEHOLDERS: &str = "{body}, {timestamp}, {id}, {url}";

/// One piece of a content template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Text(String),
    Timestamp,
    Id,
    Url,
}

/// Splits a template into the pieces before and after `{body}`.
pub(super) fn parse_template(content: &str) -> Result<(Vec<Piece>, Vec<Piece>), ProfileError> {
    if content.len() > MAX_CONFIG_TEXT {
        return Err(bad("content", "longer than 256 bytes"));
    }
    let mut before = Vec::new();
    let mut after: Option<Vec<Piece>> = None;
    let mut rest = content;
    while !rest.is_empty() {
        let (piece, next) = match rest.find('{') {
            Some(0) => {
                let end = rest.find('}').ok_or_else(|| bad("content", format!("unclosed `{{`: use {PLACEHOLDERS}")))?;
                let piece = match &rest[..=end] {
                    "{body}" if after.is_some() => return Err(bad("content", "`{body}` appears twice")),
                    "{body}" => {
                        after = Some(Vec::new());
                        rest = &rest[end + 1..];
                        continue;
                    }
                    "{timestamp}" => Piece::Timestamp,
                    "{id}" => Piece::Id,
                    "{url}" => Piece::Url,
                    other => {
                        return Err(bad(
                            "content",
                            format!("unknown placeholder `{}`: use {PLACEHOLDERS}", crate::refusal::quote(other)),
                        ))
                    }
                };
                (piece, &rest[end + 1..])
            }
            Some(start) => (Piece::Text(rest[..start].to_owned()), &rest[start..]),
            None => (Piece::Text(rest.to_owned()), ""),
        };
        if let Piece::Text(text) = &piece {
            if text.contains('}') {
                return Err(bad("content", format!("unmatched `}}`: use {PLACEHOLDERS}")));
            }
        }
        after.as_mut().unwrap_or(&mut before).push(piece);
        rest = next;
    }
    let after = after.ok_or_else(|| bad("content", "must contain `{body}`: the raw body is always signed"))?;
    if before.len() + after.len() > MAX_PIECES {
        return Err(bad("content", "more than 8 pieces besides `{body}`"));
    }
    Ok((before, after))
}
