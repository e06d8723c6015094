//! Reading a verified body's fields where a profile (or a source's `created`) says they are.

use serde_json::{Map, Value};

use super::config::{CreatedConfig, ValueSource};
use crate::event::EventError;
use crate::time::UnixTime;

/// The value at a dotted path of the body.
fn lookup<'v>(object: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut value = object.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

pub(super) fn read_value(
    object: &Map<String, Value>,
    source: &ValueSource,
    from_header: Option<&str>,
    name: &'static str,
) -> Result<String, EventError> {
    if source.header.is_some() {
        return from_header.map(str::to_owned).ok_or(EventError::MissingField(name));
    }
    let Some(fields) = &source.field else { return Err(EventError::MissingField(name)) };
    let mut joined = String::new();
    for path in fields.paths() {
        let text = match lookup(object, path) {
            Some(Value::String(s)) => s.clone(),
            // Numeric ids are common enough to accept as their decimal text.
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(EventError::MissingField(name)),
        };
        if !joined.is_empty() {
            joined.push('.');
        }
        joined.push_str(&text);
    }
    Ok(joined)
}

/// The time at `created`'s field of `object`, if it holds one; an error if it holds
/// something else.
pub(crate) fn read_time(object: &Map<String, Value>, created: &CreatedConfig) -> Result<Option<UnixTime>, EventError> {
    match lookup(object, &created.field) {
        None => Ok(None),
        Some(value) => {
            created.format.read_json(value).map_err(|reason| EventError::InvalidField { field: "created", reason })
        }
    }
}
