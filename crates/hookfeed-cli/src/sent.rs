//! What `hookfeed send --id` sent before, so that sending an id again resends the same
//! event, as a provider's retry (or `stripe events resend`) does.
//!
//! A sample's body carries its creation time (`created_at`, `created`, `timestamp`). Stamped
//! afresh on every send, a second `send --id X` would be a different body under the same id,
//! which the feed answers `conflict`. So the first send of an id to a source remembers the
//! time it stamped, and later sends of that id to the same URL reuse it: the same event type and `--set`
//! overrides make the same body, answered `duplicate`. The signature's own timestamp stays
//! the attempt's, fresh each time, as the providers' are.
//!
//! The record is one JSON line per id in `$HOOKFEED_STATE_DIR/sent.jsonl` (else
//! `$XDG_STATE_HOME/hookfeed`, else `~/.local/state/hookfeed`), the newest 1,000 kept. It is a
//! convenience: when it cannot be read, sends stamp the current time; when it cannot be
//! written, a note says so on stderr.

use std::path::PathBuf;

use hookfeed_core::UnixTime;
use serde_json::{json, Value};

/// Ids remembered at most; the oldest go first.
const KEPT: usize = 1_000;
/// The record's file name in the state directory.
const FILE: &str = "sent.jsonl";

/// The directory the record lives in, if any can be named.
fn state_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    var("HOOKFEED_STATE_DIR")
        .or_else(|| var("XDG_STATE_HOME").map(|dir| dir.join("hookfeed")))
        .or_else(|| var("HOME").map(|home| home.join(".local/state/hookfeed")))
}

/// The record's lines, oldest first (none when there is no record).
fn lines() -> Vec<String> {
    state_dir()
        .and_then(|dir| std::fs::read_to_string(dir.join(FILE)).ok())
        .map(|text| text.lines().filter(|line| !line.trim().is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn entry_of(line: &str) -> Option<(String, String, i64)> {
    let value: Value = serde_json::from_str(line).ok()?;
    Some((value["url"].as_str()?.to_owned(), value["id"].as_str()?.to_owned(), value["created_ms"].as_i64()?))
}

/// The creation time the first send of `event_id` to `url` (a source's
/// `{server}/hooks/{source}`) stamped, if one was remembered. Another server, or another
/// source, is another feed: it gets a fresh time.
pub fn created(url: &str, event_id: &str) -> Option<UnixTime> {
    lines()
        .iter()
        .rev()
        .filter_map(|line| entry_of(line))
        .find(|(to, id, _)| to == url && id == event_id)
        .map(|(_, _, millis)| UnixTime(millis))
}

/// Remembers that `event_id`, sent to `url`, was stamped `created` (unless it is remembered
/// already). A failure to write is a note on stderr, not an error: the send goes on.
pub fn remember(url: &str, event_id: &str, created: UnixTime) {
    if self::created(url, event_id).is_some() {
        return;
    }
    let Some(dir) = state_dir() else {
        eprintln!(
            "note: neither HOOKFEED_STATE_DIR nor HOME is set, so a resend of {event_id} will not repeat its body"
        );
        return;
    };
    let mut kept = lines();
    kept.push(json!({ "url": url, "id": event_id, "created_ms": created.as_millis() }).to_string());
    let start = kept.len().saturating_sub(KEPT);
    let text = kept[start..].join("\n") + "\n";
    // Written beside and renamed over, so that a reader (another send) never sees half a file.
    let partial = dir.join(format!("{FILE}.{}", std::process::id()));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&partial, text))
        .and_then(|()| std::fs::rename(&partial, dir.join(FILE)));
    if let Err(error) = written {
        eprintln!(
            "note: could not record {event_id} in {} ({error}), so a resend will not repeat its body",
            dir.join(FILE).display()
        );
    }
}
