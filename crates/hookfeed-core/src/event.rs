//! Verified bodies read as one normalized event, whatever the provider's format.

use serde_json::{Map, Value};

use crate::delivery::DeliveryError;
use crate::signature::{SignatureError, SignatureScheme, SignedHeaders};
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
            Self::NotAnObject => "invalid_json",
            Self::MissingField(_) | Self::NoEventTime => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}

/// What a scheme reads out of a verified body ([`SignatureScheme::read_event`]).
///
/// [`SignatureScheme::read_event`]: crate::signature::SignatureScheme::read_event
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
    scheme: &dyn SignatureScheme,
    source: &str,
    signed: &SignedHeaders<'_>,
    body: &[u8],
) -> Result<Event, ParseFailure> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    let Value::Object(object) = value else {
        return Err(EventError::NotAnObject.into());
    };

    let EventParts { id, event_type, created, data } = scheme.read_event(object, signed).map_err(|e| match e {
        DeliveryError::Event(e) => ParseFailure::Event(e),
        DeliveryError::Signature(e) => ParseFailure::Signature(e),
    })?;
    check_token(&id, "id")?;
    check_token(&event_type, "type")?;
    Ok(Event { source: source.to_owned(), id, event_type, created, data })
}

/// The payload field `data` of a body, or an empty object.
pub(crate) fn take_data(object: &mut Map<String, Value>) -> Value {
    object.remove("data").unwrap_or_else(|| Value::Object(Map::new()))
}

/// A required string field, taken out of the body (numeric ids as their decimal text).
pub(crate) fn take_string(object: &mut Map<String, Value>, field: &'static str) -> Result<String, EventError> {
    match object.remove(field) {
        Some(Value::String(s)) => Ok(s),
        // Numeric ids are common enough to accept as their decimal text.
        Some(Value::Number(n)) if field == "id" => Ok(n.to_string()),
        _ => Err(EventError::MissingField(field)),
    }
}

/// An optional RFC 3339 time field.
pub(crate) fn rfc3339_field(object: &Map<String, Value>, field: &'static str) -> Result<Option<UnixTime>, EventError> {
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

/// Refuses a header the provider sends beside the signature (unsigned) that disagrees with
/// the signed body.
pub(crate) fn cross_check(
    header_value: Option<&str>,
    body_value: &str,
    header: &'static str,
    field: &'static str,
) -> Result<(), SignatureError> {
    match header_value {
        Some(h) if h != body_value => Err(SignatureError::HeaderBodyMismatch { header, field }),
        _ => Ok(()),
    }
}
