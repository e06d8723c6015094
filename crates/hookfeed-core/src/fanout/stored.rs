//! A document as the fan-out reads it: its data and the seq of its last change.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ledger::Seq;
use crate::path::DocPath;

/// A stored document as the feed reads it for a snapshot (and, as JSON
/// `{path, data, seq}`, as a hub loads it from the feed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDoc {
    /// Its path.
    pub path: DocPath,
    /// Its data.
    pub data: Map<String, Value>,
    /// The seq of its last change.
    pub seq: Seq,
}
