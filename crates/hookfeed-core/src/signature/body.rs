//! What a built-in scheme's bodies look like: where the event id, type, time and payload
//! are ([`BodyLayout`]), and the example bodies its provider documents ([`SampleBody`]).
//! Reading a verified body, stamping a sample and the CLI's reading of a file to send all
//! follow the one layout each scheme declares.

use serde_json::{Map, Value};

use super::content::SignedHeaders;
use crate::event::{EventError, EventParts};
use crate::time::{TimeFormat, UnixTime};

/// Where a body keeps one value: a top-level field, or nowhere (a header carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The top-level field of this name.
    Body(&'static str),
    /// Not in the body: the signature headers carry it ([`SignedHeaders`]).
    Header,
}

/// Where one scheme's bodies keep what makes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLayout {
    /// The event id.
    pub id: Field,
    /// The event type.
    pub event_type: Field,
    /// The top-level field that says when the event happened, and how it is written.
    pub created: Option<(&'static str, TimeFormat)>,
    /// The top-level field holding the payload; `None`: the whole body is the payload.
    pub data: Option<&'static str>,
}

impl BodyLayout {
    /// The common envelope: `id`, `type`, the time at `created` written as `format`, and
    /// the payload in `data`.
    pub const fn envelope(created: &'static str, format: TimeFormat) -> Self {
        Self {
            id: Field::Body("id"),
            event_type: Field::Body("type"),
            created: Some((created, format)),
            data: Some("data"),
        }
    }

    /// Reads a verified body (a JSON object): id and type from the body or the signed
    /// headers, the time if the body has one, and the payload (an empty object if absent).
    pub fn read(&self, mut object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        let id = read_text(&mut object, self.id, signed.event_id, "id")?;
        let event_type = read_text(&mut object, self.event_type, signed.event_type, "type")?;
        let created = match self.created {
            Some((field, format)) => match object.get(field) {
                Some(value) => format.read_json(value).map_err(|reason| EventError::InvalidField { field, reason })?,
                None => None,
            },
            None => None,
        };
        let data = match self.data {
            Some(field) => object.remove(field).unwrap_or_else(|| Value::Object(Map::new())),
            None => Value::Object(object),
        };
        Ok(EventParts { id, event_type, created, data })
    }

    /// The event id a body (a JSON object) carries, as [`read`](Self::read) would take it,
    /// without taking it.
    pub fn id_text(&self, object: &Map<String, Value>) -> Option<String> {
        text_of(object, self.id, "id")
    }

    /// The event type a body (a JSON object) carries, as [`read`](Self::read) would take it,
    /// without taking it.
    pub fn type_text(&self, object: &Map<String, Value>) -> Option<String> {
        text_of(object, self.event_type, "type")
    }

    /// The event id `body` carries, if this layout keeps it in the body: what a sender
    /// must also put in a header that names it.
    pub fn event_id_in(&self, body: &[u8]) -> Option<String> {
        top_level_text(body, self.id)
    }

    /// The event type `body` carries, if this layout keeps it in the body.
    pub fn event_type_in(&self, body: &[u8]) -> Option<String> {
        top_level_text(body, self.event_type)
    }

    /// Writes `event_id` and `created` where this layout keeps them in the body (an id a
    /// header carries is the sender's to put there).
    pub fn stamp(&self, object: &mut Map<String, Value>, event_id: &str, created: UnixTime) {
        if let Field::Body(field) = self.id {
            object.insert(field.to_owned(), event_id.into());
        }
        if let Some((field, format)) = self.created {
            object.insert(field.to_owned(), format.to_json(created));
        }
    }

    /// The payload object inside `object`, created empty if absent; `None` if the body
    /// holds something else there.
    pub fn data_mut<'b>(&self, object: &'b mut Map<String, Value>) -> Option<&'b mut Map<String, Value>> {
        match self.data {
            Some(field) => object.entry(field).or_insert_with(|| Value::Object(Map::new())).as_object_mut(),
            None => Some(object),
        }
    }
}

/// A scheme's [`SampleBody`]s from its folder under `samples/`, one JSON file per event
/// type: `samples!("stripe": "payment_intent.succeeded")`.
macro_rules! samples {
    ($folder:literal: $($event_type:literal),+ $(,)?) => {
        &[$($crate::signature::body::SampleBody {
            event_type: $event_type,
            body: include_str!(concat!("../../samples/", $folder, "/", $event_type, ".json")),
        }),+]
    };
}
pub(super) use samples;

/// One example body a provider documents, for one event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleBody {
    /// Its event type; for a scheme whose type is in a header, that header's value.
    pub event_type: &'static str,
    /// The body, as the provider documents it.
    pub body: &'static str,
}

/// A value a body keeps as text: the field (taken out of the body), or the signed
/// header's value. Numeric ids are common enough to accept as their decimal text.
fn read_text(
    object: &mut Map<String, Value>,
    field: Field,
    from_header: Option<&str>,
    name: &'static str,
) -> Result<String, EventError> {
    match field {
        Field::Header => from_header.map(str::to_owned).ok_or(EventError::MissingField(name)),
        Field::Body(key) => match object.remove(key) {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Number(n)) if name == "id" => Ok(n.to_string()),
            _ => Err(EventError::MissingField(name)),
        },
    }
}

/// The text [`read_text`] would take from the body, without taking it.
fn text_of(object: &Map<String, Value>, field: Field, name: &'static str) -> Option<String> {
    let Field::Body(key) = field else { return None };
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if name == "id" => Some(n.to_string()),
        _ => None,
    }
}

fn top_level_text(body: &[u8], field: Field) -> Option<String> {
    let Field::Body(key) = field else { return None };
    match serde_json::from_slice::<Value>(body).ok()?.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
