//! Verified bodies read as one normalized event, whatever the provider's format.

use serde_json::Value;

use crate::time::UnixTime;

/// Longest event id or type accepted.
pub const MAX_ID_LEN: usize = 255;

/// Deepest nesting of objects and arrays a body may have (the body itself is level 1).
/// A document's data travels wrapped in a few more levels (a change message, a batched
/// frame, a hub's page of documents), and every reader's JSON parser stops at 128: with
/// bodies capped well below that, whatever is stored can be read back everywhere. Firestore
/// itself keeps maps to 20 levels.
pub const MAX_BODY_DEPTH: usize = 64;

/// How deeply `value` nests objects and arrays (a scalar is 0), without recursion: linear
/// in the containers, and reached only once a body's signature verified.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        match value {
            Value::Object(map) => stack.extend(map.values().map(|child| (child, level + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, level + 1))),
            _ => continue,
        }
        deepest = deepest.max(level);
    }
    deepest
}

/// One provider event, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The source (endpoint) it arrived at.
    pub source: String,
    /// The provider's event id, unique per source.
    pub id: String,
    /// The event type (`project.completed`).
    pub event_type: String,
    /// When the provider says the event happened, if it says.
    pub created: Option<UnixTime>,
    /// The event's payload (`data` in most formats; the whole body for GitHub).
    pub data: Value,
}

/// Why a verified body is not a usable event. Every variant answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not JSON.
    #[error("body is not valid JSON (line {line}, column {column}): {reason}")]
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's description.
        reason: String,
    },
    /// The body is JSON but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// The body nests objects and arrays deeper than [`MAX_BODY_DEPTH`].
    #[error("body nests objects and arrays {0} levels deep, past the {MAX_BODY_DEPTH} a document may have")]
    TooDeep(usize),
    /// A required field is absent or not a string.
    #[error("missing or non-string field `{0}`")]
    MissingField(&'static str),
    /// A projected event says nothing of when it happened: applied by arrival, a retried
    /// older event would beat a newer one.
    #[error(
        "the event says nothing of when it happened, and it updates a document: send its time \
         (the provider's created field), or configure where it is (`created` of the source)"
    )]
    NoEventTime,
    /// A field has an unusable value.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl EventError {
    /// A stable machine-readable code for logs and JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson { .. } => "invalid_json",
            Self::NotAnObject | Self::TooDeep(_) => "invalid_json",
            Self::MissingField(_) | Self::NoEventTime => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}

/// What a scheme reads out of a verified body
/// ([`Scheme::read_event`](crate::signature::Scheme::read_event)).
#[derive(Debug, Clone, PartialEq)]
pub struct EventParts {
    /// The provider's event id.
    pub id: String,
    /// The event type (`project.completed`).
    pub event_type: String,
    /// When the provider says the event happened, if it says.
    pub created: Option<UnixTime>,
    /// The payload.
    pub data: Value,
}

impl EventParts {
    /// Refuses an empty id or type, or one too long or with control characters to be a
    /// document's key or a log's label.
    pub(crate) fn check(&self) -> Result<(), EventError> {
        check_token(&self.id, "id")?;
        check_token(&self.event_type, "type")
    }
}

fn check_token(value: &str, field: &'static str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::InvalidField { field, reason: "empty" });
    }
    if value.len() > MAX_ID_LEN || value.chars().any(char::is_control) {
        return Err(EventError::InvalidField { field, reason: "longer than 255 bytes or has control characters" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `levels` arrays, one in another.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(Value::Null, |inner, _| Value::Array(vec![inner]))
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&serde_json::json!(1)), 0);
        assert_eq!(depth(&serde_json::json!({})), 1);
        assert_eq!(depth(&serde_json::json!({"a": [1, {"b": {}}], "c": 2})), 4);
        assert_eq!(depth(&nested(120)), 120);
    }

    proptest! {
        /// Whatever the shape, the depth is the longest chain of containers.
        #[test]
        fn depth_is_the_deepest_branch(branches in prop::collection::vec(0usize..90, 1..6)) {
            let value = Value::Array(branches.iter().map(|&n| nested(n)).collect());
            prop_assert_eq!(depth(&value), 1 + branches.iter().copied().max().unwrap_or(0));
        }
    }
}
