//! What tail prints: each listen's first snapshot, one line per change
//! (`12:04:05 modified projects/42 status=completed …`), and the summaries and values in
//! those lines.

use std::io::Write;

use hookfeed_core::ledger::ChangeKind;
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{DocEntry, Target};
use serde_json::{Map, Value};

use crate::clock;
use crate::error::CliError;

/// How much of a change's other fields a change line shows.
pub(super) const SUMMARY_CHARS: usize = 100;

/// A listen's first snapshot: one line per document, or one saying there is none yet.
pub(super) fn snapshot(out: &mut dyn Write, label: &str, target: &Target, docs: &[DocEntry]) -> Result<(), CliError> {
    for doc in docs {
        writeln!(out, "snapshot {} {}", doc.path, Value::Object(doc.data.clone()))?;
    }
    if docs.is_empty() {
        let empty = match target {
            Target::Document(_) => "(does not exist yet)",
            Target::Collection(q) if q.filters.is_empty() => "(no documents yet)",
            Target::Collection(_) => "(no matching documents yet)",
        };
        writeln!(out, "snapshot {label}: {empty}")?;
    }
    Ok(())
}

/// A resumed listen's snapshot: what changed while away, as change lines.
pub(super) fn resume(out: &mut dyn Write, offset: i64, docs: &[DocEntry], removed: &[DocPath]) -> Result<(), CliError> {
    for doc in docs {
        change_line(out, offset, "changed", doc.path.as_str(), Some(&doc.data))?;
    }
    for path in removed {
        change_line(out, offset, ChangeKind::Removed.as_str(), path.as_str(), None)?;
    }
    Ok(())
}

/// `12:04:05 modified projects/42 status=completed progress=100 …`, the time in the zone
/// `offset` seconds from UTC.
pub(super) fn change_line(
    out: &mut dyn Write,
    offset: i64,
    kind: &str,
    path: &str,
    data: Option<&Map<String, Value>>,
) -> Result<(), CliError> {
    let at = clock::time_of_day(clock::now()?, offset);
    match data.map(summarize).filter(|s| !s.is_empty()) {
        Some(summary) => writeln!(out, "{at} {kind} {path} {summary}")?,
        None => writeln!(out, "{at} {kind} {path}")?,
    }
    Ok(())
}

/// `status=completed progress=100 final_video_url=…`: status and progress first, then the
/// other fields, shortened to about [`SUMMARY_CHARS`] characters.
fn summarize(data: &Map<String, Value>) -> String {
    const FIRST: [&str; 2] = ["status", "progress"];
    let pair = |key: &str, value: &Value| format!("{key}={}", show(value));
    let head: Vec<String> = FIRST.iter().filter_map(|key| data.get(*key).map(|v| pair(key, v))).collect();
    let rest: Vec<String> =
        data.iter().filter(|(key, _)| !FIRST.contains(&key.as_str())).map(|(k, v)| pair(k, v)).collect();
    let rest = shorten(&rest.join(" "), SUMMARY_CHARS);
    let mut summary = head.join(" ");
    if !rest.is_empty() {
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(&rest);
    }
    summary
}

/// A value as it reads after `key=`: plain strings bare, everything else as compact JSON.
pub(super) fn show(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// `text`, cut to `max` characters with an ellipsis.
pub(super) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if text.chars().count() > max => format!("{}…", &text[..at]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn summaries_lead_with_status_and_progress_and_shorten_the_rest() {
        let data = object(json!({"progress": 100, "status": "completed", "project_id": 42, "note": "two words"}));
        assert_eq!(summarize(&data), "status=completed progress=100 note=\"two words\" project_id=42");
        let long = object(json!({"status": "processing", "url": "x".repeat(300)}));
        let summary = summarize(&long);
        assert!(summary.starts_with("status=processing url=xxx"), "{summary}");
        assert_eq!(summary.chars().count(), "status=processing ".len() + SUMMARY_CHARS);
        assert!(summary.ends_with('…'));
        assert_eq!(summarize(&Map::new()), "");
    }
}
