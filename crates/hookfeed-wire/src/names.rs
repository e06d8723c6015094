//! The protocol's field and frame names, for clients that build and read frames without
//! serde (the browser module keeps serde out of its download). hookfeed-core pins every
//! name to the serde forms of its protocol types in a test, so the two cannot drift.

/// The frame tag field.
pub const TYPE: &str = "type";
/// `listen` frames.
pub const LISTEN: &str = "listen";
/// `unlisten` frames.
pub const UNLISTEN: &str = "unlisten";
/// `snapshot` frames.
pub const SNAPSHOT: &str = "snapshot";
/// `change` frames.
pub const CHANGE: &str = "change";
/// `error` frames.
pub const ERROR: &str = "error";
/// Listen id field.
pub const ID: &str = "id";
/// Listen target field.
pub const TARGET: &str = "target";
/// Resume field.
pub const SINCE: &str = "since";
/// Document target field.
pub const DOC: &str = "doc";
/// Collection target field.
pub const COLLECTION: &str = "collection";
/// `where` clauses field.
pub const WHERE: &str = "where";
/// `orderBy` clauses field.
pub const ORDER_BY: &str = "orderBy";
/// `limit` field.
pub const LIMIT: &str = "limit";
/// Filter/order field-path field.
pub const FIELD: &str = "field";
/// Filter operator field.
pub const OP: &str = "op";
/// Filter operand field.
pub const VALUE: &str = "value";
/// Order direction field.
pub const DIRECTION: &str = "direction";
/// Descending order.
pub const DESC: &str = "desc";
/// Every `where` operator, spelled as in Firestore.
pub const FILTER_OPS: [&str; 10] =
    ["==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains", "array-contains-any"];
/// The feed's seq field (snapshot and change frames).
pub const SEQ: &str = "seq";
/// A snapshot's documents.
pub const DOCS: &str = "docs";
/// A resumed snapshot's documents that left the target.
pub const REMOVED: &str = "removed";
/// A document's path (snapshot entries and change frames).
pub const PATH: &str = "path";
/// A document's data.
pub const DATA: &str = "data";
/// How a document changed.
pub const KIND: &str = "kind";
/// An error frame's Firestore code.
pub const CODE: &str = "code";
/// An error frame's message.
pub const MESSAGE: &str = "message";
