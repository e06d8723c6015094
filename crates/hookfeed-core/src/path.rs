//! Document paths: `collection/id`, as Firestore spells them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use hookfeed_wire::path::{MAX_COLLECTION_LEN, MAX_ID_LEN};

/// The part of a refused name an error quotes: enough to recognise it, never the whole of
/// a hostile 8,000-character input.
fn quoted(input: &str) -> String {
    crate::refusal::quote(input)
}

/// Why a string is not a document path or collection name. Errors quote at most 80 bytes
/// of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not of the form `collection/id`.
    #[error("`{0}` is not a document path: expected `collection/id`")]
    NotADocument(String),
    /// The collection name has characters outside `[A-Za-z0-9_-]` or is too long.
    #[error("`{0}` is not a collection name: use 1-64 of A-Z a-z 0-9 _ -")]
    BadCollection(String),
    /// The id is empty, too long, `.`/`..`, or contains `/` or control characters.
    #[error("`{0}` is not a document id: use 1-256 characters without `/`")]
    BadId(String),
}

/// Checks a collection name.
pub fn check_collection(name: &str) -> Result<(), PathError> {
    if hookfeed_wire::path::is_collection(name) {
        Ok(())
    } else {
        Err(PathError::BadCollection(quoted(name)))
    }
}

fn check_id(id: &str) -> Result<(), PathError> {
    if hookfeed_wire::path::is_document_id(id) {
        Ok(())
    } else {
        Err(PathError::BadId(quoted(id)))
    }
}

/// A document's path, `collection/id`, validated on construction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocPath {
    text: String,
    split: usize,
}

impl DocPath {
    /// The path of document `id` in `collection`.
    pub fn new(collection: &str, id: &str) -> Result<Self, PathError> {
        check_collection(collection)?;
        check_id(id)?;
        Ok(Self { text: format!("{collection}/{id}"), split: collection.len() })
    }

    /// The collection part.
    pub fn collection(&self) -> &str {
        &self.text[..self.split]
    }

    /// The id part.
    pub fn id(&self) -> &str {
        &self.text[self.split + 1..]
    }

    /// The whole path.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for DocPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (collection, id) = text.split_once('/').ok_or_else(|| PathError::NotADocument(quoted(text)))?;
        Self::new(collection, id)
    }
}

impl fmt::Display for DocPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for DocPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DocPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_collection_and_id() {
        let path: DocPath = "projects/42".parse().expect("valid");
        assert_eq!(path.collection(), "projects");
        assert_eq!(path.id(), "42");
        assert_eq!(path.to_string(), "projects/42");
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["projects", "/42", "projects/", "projects/4/2", "pro jects/1", "a/..", "a/\u{0}"] {
            assert!(bad.parse::<DocPath>().is_err(), "{bad:?} should be refused");
        }
    }
}
