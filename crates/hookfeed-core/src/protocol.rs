//! The WebSocket wire protocol between a feed and its subscribers: JSON text frames,
//! defined once here for the Worker, the browser module and the CLI.
//!
//! ```text
//! client → {"type":"listen","id":1,"target":{"doc":"projects/42"},"since":17}
//!          {"type":"listen","id":2,"target":{"collection":"projects","where":[{"field":"status","op":"==","value":"processing"}]}}
//!          {"type":"unlisten","id":1}
//! server → {"type":"snapshot","id":1,"seq":17,"docs":[{"path":"projects/42","data":{…}}]}
//!          {"type":"change","id":1,"seq":18,"path":"projects/42","kind":"modified","data":{…}}
//!          {"type":"error","id":1,"code":"permission-denied","message":"…"}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use hookfeed_wire::{names, ChangeKind, ErrorCode};

use crate::ledger::Seq;
use crate::path::{check_collection, DocPath};
use crate::query::{Filter, OrderBy};

/// Largest client frame accepted.
pub const MAX_CLIENT_FRAME_BYTES: usize = 16 * 1024;
/// Most `where` clauses in one listen.
pub const MAX_FILTERS: usize = 10;

/// What a listen watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TargetWire", into = "TargetWire")]
pub enum Target {
    /// One document.
    Document(DocPath),
    /// A collection, filtered, ordered and limited.
    Collection(CollectionQuery),
}

/// A collection listen.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionQuery {
    /// The collection.
    pub collection: String,
    /// `where` clauses, all of which must hold.
    pub filters: Vec<Filter>,
    /// `orderBy` clauses.
    pub order_by: Vec<OrderBy>,
    /// `limit`.
    pub limit: Option<u32>,
}

impl CollectionQuery {
    /// Whether a document of the collection belongs to the result (before `limit`): every
    /// `where` holds, and every `orderBy` field is present (Firestore leaves out documents
    /// without it).
    pub fn matches(&self, path: &DocPath, data: &Map<String, Value>) -> bool {
        path.collection() == self.collection
            && self.filters.iter().all(|f| f.matches(data))
            && crate::query::has_order_fields(data, &self.order_by)
    }
}

impl Target {
    /// Whether a change to `path` with `data` concerns this target.
    pub fn matches(&self, path: &DocPath, data: &Map<String, Value>) -> bool {
        match self {
            Self::Document(doc) => doc == path,
            Self::Collection(q) => q.matches(path, data),
        }
    }

    /// Whether `path` is one the target reads at all, whatever its data: the document, or
    /// any document of the collection.
    pub fn holds(&self, path: &DocPath) -> bool {
        match self {
            Self::Document(doc) => doc == path,
            Self::Collection(q) => path.collection() == q.collection,
        }
    }

    /// The collection the target reads.
    pub fn collection(&self) -> &str {
        match self {
            Self::Document(doc) => doc.collection(),
            Self::Collection(q) => &q.collection,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collection: Option<String>,
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Filter>,
    #[serde(default, rename = "orderBy", skip_serializing_if = "Vec::is_empty")]
    order_by: Vec<OrderBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

impl TryFrom<TargetWire> for Target {
    type Error = String;

    fn try_from(wire: TargetWire) -> Result<Self, Self::Error> {
        match (wire.doc, wire.collection) {
            (Some(doc), None) => {
                if !wire.filters.is_empty() || !wire.order_by.is_empty() || wire.limit.is_some() {
                    return Err("a document target takes no where, orderBy or limit".into());
                }
                doc.parse().map(Target::Document).map_err(|e| e.to_string())
            }
            (None, Some(collection)) => {
                check_collection(&collection).map_err(|e| e.to_string())?;
                if wire.filters.len() > MAX_FILTERS {
                    return Err(format!("at most {MAX_FILTERS} where clauses"));
                }
                Ok(Target::Collection(CollectionQuery {
                    collection,
                    filters: wire.filters,
                    order_by: wire.order_by,
                    limit: wire.limit,
                }))
            }
            _ => Err("a target names exactly one of `doc` or `collection`".into()),
        }
    }
}

impl From<Target> for TargetWire {
    fn from(target: Target) -> Self {
        match target {
            Target::Document(doc) => TargetWire {
                doc: Some(doc.to_string()),
                collection: None,
                filters: Vec::new(),
                order_by: Vec::new(),
                limit: None,
            },
            Target::Collection(q) => TargetWire {
                doc: None,
                collection: Some(q.collection),
                filters: q.filters,
                order_by: q.order_by,
                limit: q.limit,
            },
        }
    }
}

/// A request to watch a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenRequest {
    /// The client's id for this listen, echoed on every reply.
    pub id: u32,
    /// What to watch.
    pub target: Target,
    /// Resume: the last seq the client has seen for this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Seq>,
}

impl ListenRequest {
    /// The seq to resume after, if the listen can resume with a delta. A limited query
    /// cannot (a document that did not change may have entered its window): it gets its
    /// whole window again.
    pub fn resume_since(&self) -> Option<Seq> {
        match &self.target {
            Target::Collection(q) if q.limit.is_some() => None,
            _ => self.since,
        }
    }
}

/// A frame from a subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Start watching.
    Listen(ListenRequest),
    /// Stop watching.
    Unlisten {
        /// The listen's id.
        id: u32,
    },
}

/// One document in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEntry {
    /// Its path.
    pub path: DocPath,
    /// Its data.
    pub data: Map<String, Value>,
}

/// Serde for the protocol's enums that hookfeed-wire defines (as their wire spelling).
mod spelled {
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// An enum with one spelling per variant.
    pub trait Spelled: Sized {
        fn spelling(&self) -> &'static str;
        fn from_spelling(text: &str) -> Option<Self>;
    }

    impl Spelled for super::ChangeKind {
        fn spelling(&self) -> &'static str {
            self.as_str()
        }
        fn from_spelling(text: &str) -> Option<Self> {
            Self::parse(text)
        }
    }

    impl Spelled for super::ErrorCode {
        fn spelling(&self) -> &'static str {
            self.as_str()
        }
        fn from_spelling(text: &str) -> Option<Self> {
            Self::parse(text)
        }
    }

    pub fn serialize<S: Serializer, T: Spelled>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.spelling())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Spelled>(deserializer: D) -> Result<T, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        T::from_spelling(&text).ok_or_else(|| de::Error::custom(format!("unknown value `{text}`")))
    }
}

/// A frame from the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The target's current documents, as of `seq`.
    Snapshot {
        /// The listen's id.
        id: u32,
        /// The feed's seq the snapshot is current at.
        seq: Seq,
        /// The documents (one or none for a document target). On a resume (`since` set),
        /// only those that changed after `since` and match the target.
        docs: Vec<DocEntry>,
        /// Set on a resume: the snapshot is a delta after this seq, to merge into what
        /// the client holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Seq>,
        /// On a resume: documents that changed after `since` and no longer match.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<DocPath>,
    },
    /// One document changed.
    Change {
        /// The listen's id.
        id: u32,
        /// The change's seq.
        seq: Seq,
        /// The document.
        path: DocPath,
        /// How it changed.
        #[serde(with = "spelled")]
        kind: ChangeKind,
        /// Its data after the change (absent when removed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Map<String, Value>>,
    },
    /// A listen (or the connection, without `id`) failed.
    Error {
        /// The listen's id, if the error concerns one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u32>,
        /// Firestore's code.
        #[serde(with = "spelled")]
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
}

/// Why a client frame was refused (answered with `invalid-argument`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame is larger than [`MAX_CLIENT_FRAME_BYTES`].
    #[error("frame of {0} bytes is over the 16 KiB limit")]
    TooLarge(usize),
    /// The frame is not a valid message.
    #[error("invalid message: {0}")]
    Invalid(String),
}

/// Reads one client frame.
pub fn parse_client_message(frame: &str) -> Result<ClientMessage, ProtocolError> {
    if frame.len() > MAX_CLIENT_FRAME_BYTES {
        return Err(ProtocolError::TooLarge(frame.len()));
    }
    serde_json::from_str(frame).map_err(|e| ProtocolError::Invalid(e.to_string()))
}

impl ServerMessage {
    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listen_frames_parse_for_documents_and_queries() {
        let doc = parse_client_message(r#"{"type":"listen","id":1,"target":{"doc":"projects/42"},"since":17}"#)
            .expect("valid");
        assert_eq!(
            doc,
            ClientMessage::Listen(ListenRequest {
                id: 1,
                target: Target::Document("projects/42".parse().expect("path")),
                since: Some(17),
            })
        );
        let query = parse_client_message(
            r#"{"type":"listen","id":2,"target":{"collection":"projects","where":[{"field":"status","op":"==","value":"failed"}],"limit":5}}"#,
        )
        .expect("valid");
        let ClientMessage::Listen(ListenRequest { target: Target::Collection(q), .. }) = query else {
            panic!("expected a collection listen")
        };
        assert_eq!(q.limit, Some(5));
        assert!(
            q.matches(&"projects/1".parse().expect("path"), json!({"status": "failed"}).as_object().expect("object"))
        );
    }

    #[test]
    fn the_wire_names_match_the_serde_forms() {
        use hookfeed_wire::names::*;
        let frame = format!(
            r#"{{"{TYPE}":"{LISTEN}","{ID}":1,"{SINCE}":2,"{TARGET}":{{"{COLLECTION}":"p","{WHERE}":[{{"{FIELD}":"a","{OP}":"==","{VALUE}":1}}],"{ORDER_BY}":[{{"{FIELD}":"a","{DIRECTION}":"{DESC}"}}],"{LIMIT}":3}}}}"#
        );
        assert!(parse_client_message(&frame).is_ok(), "{frame}");
        assert!(parse_client_message(&format!(r#"{{"{TYPE}":"{UNLISTEN}","{ID}":1}}"#)).is_ok());
        let doc = format!(r#"{{"{TYPE}":"{LISTEN}","{ID}":1,"{TARGET}":{{"{DOC}":"p/1"}}}}"#);
        assert!(parse_client_message(&doc).is_ok());
        for op in FILTER_OPS {
            let f: Result<crate::query::Filter, _> = serde_json::from_value(json!({FIELD: "a", OP: op, VALUE: 1}));
            assert!(f.is_ok(), "{op}");
        }
        for (message, tag) in [
            (ServerMessage::Snapshot { id: 1, seq: 1, docs: vec![], since: None, removed: vec![] }, SNAPSHOT),
            (ServerMessage::Error { id: None, code: ErrorCode::Internal, message: String::new() }, ERROR),
        ] {
            assert!(message.to_json().starts_with(&format!(r#"{{"{TYPE}":"{tag}""#)));
        }
        let change = ServerMessage::Change {
            id: 1,
            seq: 1,
            path: "a/b".parse().expect("path"),
            kind: ChangeKind::Added,
            data: None,
        };
        assert!(change.to_json().starts_with(&format!(r#"{{"{TYPE}":"{CHANGE}""#)));

        // Every field a client reads from the feed's frames.
        let fields = |message: ServerMessage| -> Value { serde_json::from_str(&message.to_json()).expect("json") };
        let path: DocPath = "a/b".parse().expect("path");
        let snapshot = fields(ServerMessage::Snapshot {
            id: 1,
            seq: 2,
            docs: vec![DocEntry { path: path.clone(), data: Map::new() }],
            since: Some(1),
            removed: vec![path.clone()],
        });
        for field in [ID, SEQ, DOCS, SINCE, REMOVED] {
            assert!(snapshot.get(field).is_some(), "snapshot frames have {field}");
        }
        for field in [PATH, DATA] {
            assert!(snapshot[DOCS][0].get(field).is_some(), "snapshot entries have {field}");
        }
        let change =
            fields(ServerMessage::Change { id: 1, seq: 2, path, kind: ChangeKind::Added, data: Some(Map::new()) });
        for field in [ID, SEQ, PATH, KIND, DATA] {
            assert!(change.get(field).is_some(), "change frames have {field}");
        }
        let error = fields(ServerMessage::Error { id: Some(1), code: ErrorCode::Internal, message: "m".into() });
        for field in [ID, CODE, MESSAGE] {
            assert!(error.get(field).is_some(), "error frames have {field}");
        }
    }

    #[test]
    fn bad_frames_are_refused_with_a_reason() {
        for bad in [
            r#"{"type":"listen","id":1,"target":{}}"#,
            r#"{"type":"listen","id":1,"target":{"doc":"projects"}}"#,
            r#"{"type":"listen","id":1,"target":{"doc":"a/b","collection":"a"}}"#,
            r#"{"type":"subscribe","id":1}"#,
            "not json",
        ] {
            assert!(matches!(parse_client_message(bad), Err(ProtocolError::Invalid(_))), "{bad}");
        }
        let huge = format!(r#"{{"type":"unlisten","id":1,"pad":"{}"}}"#, "x".repeat(MAX_CLIENT_FRAME_BYTES));
        assert!(matches!(parse_client_message(&huge), Err(ProtocolError::TooLarge(_))));
    }

    #[test]
    fn server_frames_serialise_as_documented() {
        let change = ServerMessage::Change {
            id: 1,
            seq: 18,
            path: "projects/42".parse().expect("path"),
            kind: ChangeKind::Modified,
            data: Some(json!({"status": "completed"}).as_object().cloned().expect("object")),
        };
        assert_eq!(
            change.to_json(),
            r#"{"type":"change","id":1,"seq":18,"path":"projects/42","kind":"modified","data":{"status":"completed"}}"#
        );
        let error = ServerMessage::Error { id: None, code: ErrorCode::PermissionDenied, message: "no".into() };
        assert_eq!(error.to_json(), r#"{"type":"error","code":"permission-denied","message":"no"}"#);
    }
}
