//! Verified bodies read as one normalized event, whatever the provider's format.

use serde_json::{Map, Value};

use crate::signature::{Scheme, SignatureError, SignedHeaders};
use crate::time::UnixTime;

/// Longest event id or type accepted.
pub const MAX_ID_LEN: usize = 255;

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
    /// A required field is absent or not a string.
    #[error("missing or non-string field `{0}`")]
    MissingField(&'static str),
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
            Self::NotAnObject => "invalid_json",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}

/// Either kind of refusal [`parse_event`] can give: a bad body, or headers that disagree
/// with it (which is a signature-level refusal: the headers are not signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    Event(EventError),
    Signature(SignatureError),
}

impl From<EventError> for ParseFailure {
    fn from(e: EventError) -> Self {
        Self::Event(e)
    }
}

/// Reads a verified body in `scheme`'s format.
pub(crate) fn parse_event(
    scheme: Scheme,
    source: &str,
    signed: &SignedHeaders<'_>,
    body: &[u8],
) -> Result<Event, ParseFailure> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    let Value::Object(mut object) = value else {
        return Err(EventError::NotAnObject.into());
    };

    let (id, event_type, created, data) = match scheme {
        Scheme::Percify => (
            take_string(&mut object, "id")?,
            take_string(&mut object, "type")?,
            rfc3339_field(&object, "created")?,
            object.remove("data").unwrap_or_else(empty),
        ),
        Scheme::TwinActor => {
            let id = take_string(&mut object, "id")?;
            let event_type = take_string(&mut object, "type")?;
            cross_check(signed.event_id, &id, crate::signature::twin_actor::ID_HEADER, "id")?;
            cross_check(signed.event_type, &event_type, crate::signature::twin_actor::EVENT_HEADER, "type")?;
            let created = rfc3339_field(&object, "created_at")?;
            (id, event_type, created, object.remove("data").unwrap_or_else(empty))
        }
        Scheme::Stripe => {
            let created = match object.get("created") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(UnixTime::from_secs(
                    n.as_i64().ok_or(EventError::InvalidField { field: "created", reason: "not Unix seconds" })?,
                )),
                Some(_) => return Err(EventError::InvalidField { field: "created", reason: "not Unix seconds" }.into()),
            };
            (
                take_string(&mut object, "id")?,
                take_string(&mut object, "type")?,
                created,
                object.remove("data").unwrap_or_else(empty),
            )
        }
        Scheme::StandardWebhooks => {
            // The spec puts the message id in `webhook-id`; the body has `type`,
            // `timestamp` (RFC 3339) and `data`.
            let id = signed.event_id.ok_or(EventError::MissingField("id"))?.to_owned();
            let created = rfc3339_field(&object, "timestamp")?.or(signed.timestamp);
            (id, take_string(&mut object, "type")?, created, object.remove("data").unwrap_or_else(empty))
        }
        Scheme::Github => {
            let id = signed.event_id.ok_or(EventError::MissingField("id"))?.to_owned();
            let event = signed.event_type.ok_or(EventError::MissingField("type"))?.to_owned();
            // `issues` + `"action": "opened"` → `issues.opened`, the dotted form every
            // other provider uses, so rules can match `issues.*`.
            let event_type = match object.get("action").and_then(Value::as_str) {
                Some(action) => format!("{event}.{action}"),
                None => event,
            };
            (id, event_type, None, Value::Object(object))
        }
    };
    check_token(&id, "id")?;
    check_token(&event_type, "type")?;
    Ok(Event { source: source.to_owned(), id, event_type, created, data })
}

fn empty() -> Value {
    Value::Object(Map::new())
}

fn take_string(object: &mut Map<String, Value>, field: &'static str) -> Result<String, EventError> {
    match object.remove(field) {
        Some(Value::String(s)) => Ok(s),
        // Numeric ids are common enough to accept as their decimal text.
        Some(Value::Number(n)) if field == "id" => Ok(n.to_string()),
        _ => Err(EventError::MissingField(field)),
    }
}

fn rfc3339_field(object: &Map<String, Value>, field: &'static str) -> Result<Option<UnixTime>, EventError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => UnixTime::parse_rfc3339(s)
            .map(Some)
            .ok_or(EventError::InvalidField { field, reason: "not an RFC 3339 timestamp" }),
        Some(_) => Err(EventError::InvalidField { field, reason: "not an RFC 3339 timestamp" }),
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

fn cross_check(
    header_value: Option<&str>,
    body_value: &str,
    header: &'static str,
    field: &'static str,
) -> Result<(), ParseFailure> {
    match header_value {
        Some(h) if h != body_value => {
            Err(ParseFailure::Signature(SignatureError::HeaderBodyMismatch { header, field }))
        }
        _ => Ok(()),
    }
}
