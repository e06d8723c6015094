//! The feed's frames: building the client's `listen` and `unlisten` frames as JSON text,
//! and reading the server's `snapshot`, `change` and `error` frames. Frame text is built by
//! hand and parsed by the browser's `JSON.parse`, which keeps serde out of the download.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use js_sys::JSON;
use wasm_bindgen::JsValue;

use crate::doc::JsDoc;
use crate::js::{array, console_error, get};
use crate::view::ChangeKind;
use hookfeed_wire::names as wire;

/// Appends `n` in decimal (without pulling in `core::fmt` for it).
fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| d as char));
}

/// Appends `,"name":` to a frame being built.
fn push_key(frame: &mut String, name: &str) {
    frame.push_str(",\"");
    frame.push_str(name);
    frame.push_str("\":");
}

/// The start of a client frame: `{"type":"<kind>","id":<id>` (the caller closes it).
fn frame_of(kind: &str, id: u32) -> String {
    let mut frame = String::from("{\"");
    frame.push_str(wire::TYPE);
    frame.push_str("\":\"");
    frame.push_str(kind);
    frame.push('"');
    push_key(&mut frame, wire::ID);
    push_number(&mut frame, u64::from(id));
    frame
}

/// `{"type":"listen","id":<id>,"target":<target>}`, with `"since":<seq>` when `since` is
/// not 0 (a resume). `target` is JSON text.
pub fn listen(id: u32, target: &str, since: u64) -> String {
    let mut frame = frame_of(wire::LISTEN, id);
    push_key(&mut frame, wire::TARGET);
    frame.push_str(target);
    if since > 0 {
        push_key(&mut frame, wire::SINCE);
        push_number(&mut frame, since);
    }
    frame.push('}');
    frame
}

/// `{"type":"unlisten","id":<id>}`.
pub fn unlisten(id: u32) -> String {
    let mut frame = frame_of(wire::UNLISTEN, id);
    frame.push('}');
    frame
}

/// What a server frame reports.
pub enum Kind {
    /// `snapshot`: the target's documents (all of them, or with `since` what changed since then).
    Snapshot,
    /// `change`: one document changed.
    Change,
    /// `error`: the listen was refused or failed.
    Error,
}

/// A frame from the feed, parsed by the browser's `JSON.parse`; its fields are read as
/// the listener needs them.
pub struct ServerFrame {
    /// A snapshot's or a change's seq (0 when missing).
    pub seq: u64,
    frame: JsValue,
}

/// Reads a frame: each message in it (one, or several in a batched frame: a JSON array
/// of them, in order) with the listen it is for, what it reports, and its fields. What no
/// listener acts on is left out: `pong`, a type this module does not know, a message
/// without an id (logged to the console).
pub fn read(text: &str) -> Vec<(u32, Kind, ServerFrame)> {
    let Ok(frame) = JSON::parse(text) else { return Vec::new() }; // "pong"
    if js_sys::Array::is_array(&frame) {
        return array(&frame).iter().filter_map(read_message).collect();
    }
    read_message(frame).into_iter().collect()
}

/// Reads one message of a frame.
fn read_message(frame: JsValue) -> Option<(u32, Kind, ServerFrame)> {
    let Some(id) = get(&frame, wire::ID).as_f64().map(|id| id as u32) else {
        console_error(&frame);
        return None;
    };
    let kind = match get(&frame, wire::TYPE).as_string().as_deref() {
        Some(wire::SNAPSHOT) => Kind::Snapshot,
        Some(wire::CHANGE) => Kind::Change,
        Some(wire::ERROR) => Kind::Error,
        _ => return None,
    };
    let seq = get(&frame, wire::SEQ).as_f64().unwrap_or(0.0) as u64;
    Some((id, kind, ServerFrame { seq, frame }))
}

impl ServerFrame {
    fn get(&self, name: &str) -> JsValue {
        get(&self.frame, name)
    }

    /// A snapshot's documents: path and data (those without a path are skipped).
    pub fn docs(&self) -> Vec<(String, JsDoc)> {
        array(&self.get(wire::DOCS))
            .iter()
            .filter_map(|d| Some((get(&d, wire::PATH).as_string()?, JsDoc(get(&d, wire::DATA)))))
            .collect()
    }

    /// A snapshot's removed paths (with `since`).
    pub fn removed(&self) -> Vec<String> {
        array(&self.get(wire::REMOVED)).iter().filter_map(|p| p.as_string()).collect()
    }

    /// Whether a snapshot answers a `since`: a delta, not the whole target.
    pub fn is_delta(&self) -> bool {
        !self.get(wire::SINCE).is_undefined()
    }

    /// A change's path, kind and data (none for a removal); `None` without path or kind.
    pub fn change(&self) -> Option<(String, ChangeKind, Option<JsDoc>)> {
        let (Some(path), Some(kind)) =
            (self.get(wire::PATH).as_string(), self.get(wire::KIND).as_string().as_deref().and_then(ChangeKind::parse))
        else {
            return None;
        };
        let data = self.get(wire::DATA);
        Some((path, kind, (!data.is_undefined()).then_some(JsDoc(data))))
    }

    /// An error's code, `unknown` when missing.
    pub fn code(&self) -> String {
        self.get(wire::CODE).as_string().unwrap_or_else(|| "unknown".to_owned())
    }

    /// An error's message, empty when missing.
    pub fn message(&self) -> String {
        self.get(wire::MESSAGE).as_string().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): reading needs the browser's JSON.
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn client_frames_are_json_with_since_only_on_a_resume() {
        assert_eq!(listen(7, r#""projects/42""#, 0), r#"{"type":"listen","id":7,"target":"projects/42"}"#);
        assert_eq!(
            listen(7, r#""projects/42""#, 1234),
            r#"{"type":"listen","id":7,"target":"projects/42","since":1234}"#
        );
        assert_eq!(unlisten(3), r#"{"type":"unlisten","id":3}"#);
        let mut n = String::new();
        push_number(&mut n, u64::MAX);
        assert_eq!(n, "18446744073709551615");
    }

    #[wasm_bindgen_test]
    fn server_frames_are_read_by_type() {
        let snapshot = r#"{"type":"snapshot","id":1,"seq":5,"docs":[{"path":"p/a","data":{"n":1}},{"data":{}}],"removed":["p/b"],"since":2}"#;
        let Some((1, Kind::Snapshot, frame)) = one(snapshot) else { panic!("a snapshot") };
        assert_eq!(frame.seq, 5);
        assert!(frame.is_delta());
        assert_eq!(frame.docs().iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["p/a"], "no path: skipped");
        assert_eq!(frame.removed(), ["p/b"]);

        let Some((2, Kind::Change, frame)) = one(r#"{"type":"change","id":2,"seq":6,"path":"p/a","kind":"removed"}"#)
        else {
            panic!("a change")
        };
        let (path, kind, data) = frame.change().expect("path and kind");
        assert_eq!((frame.seq, path.as_str(), kind, data.is_none()), (6, "p/a", ChangeKind::Removed, true));
        let Some((_, _, frame)) = one(r#"{"type":"change","id":2,"kind":"added"}"#) else { panic!("a change") };
        assert!(frame.change().is_none(), "no path");

        let Some((3, Kind::Error, frame)) = one(r#"{"type":"error","id":3}"#) else { panic!("an error") };
        assert_eq!((frame.code().as_str(), frame.message().as_str()), ("unknown", ""));

        assert!(read("pong").is_empty());
        assert!(read(r#"{"type":"snapshot"}"#).is_empty(), "no id");
        assert!(read(r#"{"type":"later","id":1}"#).is_empty());
    }

    /// The only message of a frame.
    fn one(text: &str) -> Option<(u32, Kind, ServerFrame)> {
        let mut messages = read(text);
        assert!(messages.len() <= 1, "one message");
        messages.pop()
    }

    #[wasm_bindgen_test]
    fn a_batched_frame_is_read_as_its_messages_in_order() {
        let batched = r#"[{"type":"change","id":1,"seq":7,"path":"p/a","kind":"modified","data":{"n":1}},{"type":"later","id":1},{"type":"change","id":2,"seq":8,"path":"p/b","kind":"added","data":{}},{"type":"error","id":3,"code":"unavailable"}]"#;
        let read = read(batched);
        let seen: Vec<(u32, u64)> = read.iter().map(|(id, _, frame)| (*id, frame.seq)).collect();
        assert_eq!(seen, [(1, 7), (2, 8), (3, 0)], "in order, the unknown type left out");
        assert!(matches!(read[2].1, Kind::Error));
        assert!(super::read("[]").is_empty());
        assert!(super::read("[1,\"x\",null]").is_empty(), "no messages in it");
    }
}
