//! The outgoing delivery `send` and `sign` build: choosing the scheme, reading bodies, the
//! ids and types a body carries, signing through core, and tampering.

use std::io::Read;
use std::path::Path;

use hookfeed_core::samples::event_types;
use hookfeed_core::signature::SigningInput;
use hookfeed_core::{BuiltinScheme, Secret, UnixTime};

use crate::error::CliError;

/// The scheme to sign with: `explicit`, else the source's name when it is a scheme name.
pub fn resolve_scheme(explicit: Option<BuiltinScheme>, source: &str) -> Result<BuiltinScheme, CliError> {
    match explicit {
        Some(scheme) => Ok(scheme),
        None => {
            source.parse::<BuiltinScheme>().map_err(|_| CliError::SchemeRequired { source_name: source.to_owned() })
        }
    }
}

/// Refuses a source name the server could never have configured (same rule as core's).
pub fn check_source_name(name: &str) -> Result<(), CliError> {
    hookfeed_core::source::check_source_name(name).map_err(|_| CliError::BadSourceName(name.to_owned()))
}

/// `scheme`'s known event types, comma-separated, for messages.
pub fn known_types(scheme: BuiltinScheme) -> String {
    event_types(scheme).collect::<Vec<_>>().join(", ")
}

/// Reads a body from `path`, or stdin for `-` or no path. The bytes are kept exactly.
pub fn read_body(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    match path {
        Some(path) if path != Path::new("-") => {
            std::fs::read(path).map_err(|source| CliError::Read { path: path.display().to_string(), source })
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|source| CliError::Read { path: "stdin".into(), source })?;
            Ok(body)
        }
    }
}

/// The body's own event id, where the scheme's bodies carry it, so the id header agrees
/// with the body.
pub fn body_event_id(scheme: BuiltinScheme, body: &[u8]) -> Option<String> {
    scheme.body_layout().event_id_in(body)
}

/// The body's own event type, where the scheme's bodies carry it (GitHub's lives only in
/// its header).
pub fn body_event_type(scheme: BuiltinScheme, body: &[u8]) -> Option<String> {
    scheme.body_layout().event_type_in(body)
}

/// The headers `scheme`'s provider sends with `body`, one signature per secret where the
/// scheme's header carries several.
pub fn sign(
    scheme: BuiltinScheme,
    body: &[u8],
    timestamp: UnixTime,
    event_id: &str,
    event_type: &str,
    secrets: &[Secret],
) -> Vec<(String, String)> {
    scheme.implementation().sign(&SigningInput { body, timestamp, event_id, event_type }, secrets)
}

/// Alters the body after signing so that it stays what it was (JSON stays JSON) but no
/// longer matches its signature: one letter or digit inside the last string value changes.
/// A body without such a string (not JSON) gets a trailing space instead.
pub fn tamper(body: &mut Vec<u8>) {
    match last_value_char(body) {
        Some(at) => {
            let b = body[at];
            body[at] = match b {
                b'0'..=b'8' => b + 1,
                b'9' => b'0',
                _ => b ^ 0x20, // flips the case of an ASCII letter
            };
        }
        None => body.push(b' '),
    }
}

/// The index of the last ASCII letter or digit inside a JSON string that is a value (not a
/// key) and is not part of an escape sequence.
fn last_value_char(body: &[u8]) -> Option<usize> {
    let mut found = None;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'"' {
            i += 1;
            continue;
        }
        // A string from i to its closing quote; remember its plain alphanumerics.
        let mut candidate = None;
        let mut j = i + 1;
        while j < body.len() && body[j] != b'"' {
            if body[j] == b'\\' {
                j += 2; // skip the escaped byte (and \uXXXX's hex digits count as escaped below)
                if body.get(j - 1) == Some(&b'u') {
                    j += 4;
                }
                continue;
            }
            if body[j].is_ascii_alphanumeric() {
                candidate = Some(j);
            }
            j += 1;
        }
        let next = body.iter().skip(j + 1).find(|b| !b.is_ascii_whitespace());
        if next != Some(&b':') && candidate.is_some() {
            found = candidate;
        }
        i = j + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn tampering_changes_a_string_value_and_keeps_the_json() {
        let original = br#"{"id":"evt_1","data":{"project_id":42,"note":"a\"b\u00e9"},"type":"project.completed"}"#;
        let mut body = original.to_vec();
        tamper(&mut body);
        assert_ne!(body, original);
        let before: Value = serde_json::from_slice(original).expect("json");
        let after: Value = serde_json::from_slice(&body).expect("still json");
        assert_eq!(after["type"], "project.completeD");
        assert_eq!(after["data"], before["data"]);
    }

    #[test]
    fn tampering_skips_keys_and_escapes() {
        let mut body = br#"{"key_only": 1, "s": "\u00e9"}"#.to_vec();
        tamper(&mut body);
        assert_eq!(body, br#"{"key_only": 1, "s": "\u00e9"} "#);
    }

    #[test]
    fn tampering_a_non_json_body_still_changes_it() {
        let mut body = b"plain".to_vec();
        tamper(&mut body);
        assert_eq!(body, b"plain ");
    }

    #[test]
    fn the_scheme_defaults_to_a_source_named_after_one() {
        assert_eq!(resolve_scheme(None, "twin-actor").expect("scheme"), BuiltinScheme::TwinActor);
        assert_eq!(resolve_scheme(Some(BuiltinScheme::Stripe), "billing").expect("scheme"), BuiltinScheme::Stripe);
        assert!(matches!(resolve_scheme(None, "billing"), Err(CliError::SchemeRequired { .. })));
    }
}
