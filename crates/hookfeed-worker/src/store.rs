//! The feed's SQLite: schema, core's [`FeedStore`] over it, and its transactions.

use hookfeed_core::delivery_log::{LogCursor, LogOutcome, LogQuery, LogRow};
use hookfeed_core::fanout::StoredDoc;
use hookfeed_core::ledger::{Appended, FeedStore, LogEntry, LoggedEvent, RedeliveryRecord, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::projection::DocumentState;
use hookfeed_core::pushdown::{FieldEquals, INDEX_PREFIX};
use hookfeed_core::{Event, UnixTime};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue};

/// The tables a feed keeps; `IF NOT EXISTS` makes applying it idempotent.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ordered_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    digest TEXT NOT NULL,
    raw BLOB NOT NULL,
    path TEXT,
    UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_received_at ON events (received_at);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    data TEXT NOT NULL,
    clocks TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT,
    event_type TEXT,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT,
    message TEXT,
    seq INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_by_at ON deliveries (at);
CREATE TABLE IF NOT EXISTS replay_keys (
    key BLOB PRIMARY KEY,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    window_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replay_keys_by_at ON replay_keys (at);
";

/// Creates the tables a feed keeps, if they are not there, and adds the columns later
/// versions added to a feed created before them.
pub fn create_schema(sql: &SqlStorage) -> worker::Result<()> {
    sql.exec(SCHEMA, None)?;
    #[derive(Deserialize)]
    struct Found {
        found: f64,
    }
    let late: Found =
        sql.exec("SELECT count(*) AS found FROM pragma_table_info('events') WHERE name = 'late'", None)?.one()?;
    if late.found == 0.0 {
        // 1 when the event arrived after a newer one for its document (`Ingested::Stored::late`).
        sql.exec("ALTER TABLE events ADD COLUMN late INTEGER NOT NULL DEFAULT 0", None)?;
    }
    let logged: Found =
        sql.exec("SELECT count(*) AS found FROM pragma_table_info('events') WHERE name = 'logged_at'", None)?.one()?;
    if logged.found == 0.0 {
        // When the event was committed (`delivery_log::commit_stamp`): the delivery log's order. NULL
        // for events stored before it, which the log reads at their `received_at`.
        sql.exec("ALTER TABLE events ADD COLUMN logged_at INTEGER", None)?;
    }
    Ok(())
}

/// How many events `source` stored in the minute before `now` (by commit stamp): what its
/// rate budget spent, for a feed that woke with its limiter empty.
pub fn stored_in_last_minute(sql: &SqlStorage, source: &str, now: UnixTime) -> worker::Result<u32> {
    #[derive(Deserialize)]
    struct Count {
        n: f64,
    }
    let count: Count = sql
        .exec(
            // `received_at` first, for its index: a delivery is committed within a request's
            // lifetime of its arrival, well under the extra minute allowed.
            "SELECT count(*) AS n FROM events
             WHERE received_at > ?3 AND source = ?1 AND coalesce(logged_at, received_at) > ?2",
            vec![text(source), int(now.as_millis() - 60_000), int(now.as_millis() - 120_000)],
        )?
        .one()?;
    Ok(count.n as u32)
}

/// The latest commit stamp the delivery log holds (Unix milliseconds), if any row: where a
/// feed that woke goes on stamping from.
pub fn last_commit_stamp(sql: &SqlStorage) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Last {
        at: Option<f64>,
    }
    let last: Last = sql
        .exec(
            "SELECT max(coalesce((SELECT max(coalesce(logged_at, received_at)) FROM events), 0),
                        coalesce((SELECT max(at) FROM deliveries), 0)) AS at",
            None,
        )?
        .one()?;
    Ok(last.at.map(|at| at as i64).filter(|at| *at > 0))
}

/// Marks a stored event as having arrived out of order (inside the ingest transaction).
pub fn mark_late(sql: &SqlStorage, seq: Seq) -> worker::Result<()> {
    sql.exec("UPDATE events SET late = 1 WHERE seq = ?", vec![int(seq as i64)])?;
    Ok(())
}

/// Documents as last committed, kept in memory so that ingest need not read back what
/// the feed wrote itself: a feed is the only writer of its SQLite, so after a commit the
/// two agree. Bounded; a miss reads SQLite.
#[derive(Default)]
pub struct DocumentCache {
    docs: HashMap<DocPath, DocumentState>,
}

impl DocumentCache {
    /// Documents kept at most (a feed's working set: the jobs in flight).
    const CAPACITY: usize = 4096;

    /// Applies what a committed transaction wrote. Only after the commit: a rolled-back
    /// write must not be remembered.
    pub fn commit(&mut self, written: Vec<(DocPath, DocumentState)>) {
        for (path, state) in written {
            if self.docs.len() >= Self::CAPACITY && !self.docs.contains_key(&path) {
                // Any victim will do: a miss costs one read.
                if let Some(victim) = self.docs.keys().next().cloned() {
                    self.docs.remove(&victim);
                }
            }
            self.docs.insert(path, state);
        }
    }
}

/// Core's storage trait over the feed's SQLite.
pub struct SqlFeedStore<'a> {
    sql: &'a SqlStorage,
    cache: &'a RefCell<DocumentCache>,
    written: Vec<(DocPath, DocumentState)>,
    /// The commit stamp the events it appends are logged at.
    logged_at: UnixTime,
}

impl<'a> SqlFeedStore<'a> {
    /// A store over `sql`, reading documents through `cache`, logging what it appends at
    /// `logged_at` (the transaction's [`commit_stamp`](hookfeed_core::delivery_log::commit_stamp)).
    pub fn new(sql: &'a SqlStorage, cache: &'a RefCell<DocumentCache>, logged_at: UnixTime) -> Self {
        Self { sql, cache, written: Vec::new(), logged_at }
    }

    /// The documents this store wrote, for [`DocumentCache::commit`] once they are committed.
    pub fn into_written(self) -> Vec<(DocPath, DocumentState)> {
        self.written
    }
}

#[derive(Deserialize)]
struct EventRow {
    seq: f64,
    digest: String,
}

#[derive(Deserialize)]
struct DocRow {
    data: String,
    clocks: String,
}

#[derive(Deserialize)]
struct SeqRow {
    seq: f64,
}

fn text(s: &str) -> SqlStorageValue {
    SqlStorageValue::String(s.to_owned())
}

fn int(n: i64) -> SqlStorageValue {
    SqlStorageValue::Integer(n)
}

fn json_error(e: serde_json::Error) -> worker::Error {
    worker::Error::RustError(format!("stored JSON is unreadable: {e}"))
}

impl FeedStore for SqlFeedStore<'_> {
    type Error = worker::Error;

    fn append_event(&mut self, entry: &LogEntry<'_>) -> worker::Result<Appended> {
        // Signed content stored before, whatever id its unsigned headers give it now: the
        // same delivery (its body is the same, so is its digest).
        let replayed: Vec<SeqRow> = self
            .sql
            .exec(
                "SELECT seq FROM replay_keys WHERE key = ?",
                vec![SqlStorageValue::Blob(entry.replay_key.0.to_vec())],
            )?
            .to_array()?;
        if let Some(row) = replayed.first() {
            return Ok(Appended::Existing(LoggedEvent { seq: row.seq as Seq, digest: entry.digest.clone() }));
        }
        // A new event is one more statement, its key; a redelivery of an event id costs a
        // second read.
        let inserted: Vec<SeqRow> = self
            .sql
            .exec(
                "INSERT INTO events (source, event_id, event_type, ordered_at, received_at, digest, raw, path, logged_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING RETURNING seq",
                vec![
                    text(entry.source),
                    text(entry.event_id),
                    text(entry.event_type),
                    int(entry.ordered_at.as_millis()),
                    int(entry.received_at.as_millis()),
                    text(&entry.digest),
                    SqlStorageValue::Blob(entry.raw.to_vec()),
                    entry.path.map_or(SqlStorageValue::Null, |p| text(p.as_str())),
                    int(self.logged_at.as_millis()),
                ],
            )?
            .to_array()?;
        if let Some(row) = inserted.first() {
            self.sql.exec(
                "INSERT INTO replay_keys (key, seq, at, window_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                vec![
                    SqlStorageValue::Blob(entry.replay_key.0.to_vec()),
                    int(row.seq as i64),
                    int(entry.received_at.as_millis()),
                    entry.replay_window_secs.map_or(SqlStorageValue::Null, |secs| {
                        int(secs.saturating_mul(1000).min(i64::MAX as u64) as i64)
                    }),
                ],
            )?;
            return Ok(Appended::New(row.seq as Seq));
        }
        let logged: EventRow = self
            .sql
            .exec(
                "SELECT seq, digest FROM events WHERE source = ? AND event_id = ?",
                vec![text(entry.source), text(entry.event_id)],
            )?
            .one()?;
        Ok(Appended::Existing(LoggedEvent { seq: logged.seq as Seq, digest: logged.digest }))
    }

    fn load_document(&mut self, path: &DocPath) -> worker::Result<Option<DocumentState>> {
        // Taken, not copied: a save puts it back once committed, and a document the event
        // left alone is simply read again next time.
        if let Some(state) = self.cache.borrow_mut().docs.remove(path) {
            return Ok(Some(state));
        }
        let rows: Vec<DocRow> = self
            .sql
            .exec("SELECT data, clocks FROM documents WHERE path = ?", vec![text(path.as_str())])?
            .to_array()?;
        rows.into_iter()
            .next()
            .map(|r| {
                Ok(DocumentState {
                    data: serde_json::from_str(&r.data).map_err(json_error)?,
                    clocks: serde_json::from_str(&r.clocks).map_err(json_error)?,
                })
            })
            .transpose()
    }

    fn save_document(&mut self, path: &DocPath, state: &DocumentState, changed_at: Option<Seq>) -> worker::Result<()> {
        // Only a change of the data moves the document's seq (what resumes read); a new
        // clock for the same data keeps it. A document is always inserted with a change.
        self.sql.exec(
            "INSERT INTO documents (path, collection, data, clocks, seq) VALUES (?1, ?2, ?3, ?4, coalesce(?5, 0))
             ON CONFLICT (path) DO UPDATE SET data = excluded.data, clocks = excluded.clocks,
                 seq = coalesce(?5, documents.seq)",
            vec![
                text(path.as_str()),
                text(path.collection()),
                text(&serde_json::to_string(&state.data)?),
                text(&serde_json::to_string(&state.clocks)?),
                changed_at.map_or(SqlStorageValue::Null, |seq| int(seq as i64)),
            ],
        )?;
        self.written.push((path.clone(), state.clone()));
        Ok(())
    }
}

#[derive(Deserialize)]
struct StoredRow {
    path: String,
    data: String,
    seq: f64,
}

/// The stored documents of one path, or of a collection (changed after `since`, if given;
/// only those where `narrow` holds, if given: an owner's read costs the owner's documents,
/// over the field's index when [`create_field_index`] made one).
pub fn read_documents(
    sql: &SqlStorage,
    path: Option<&DocPath>,
    collection: &str,
    since: Option<Seq>,
    narrow: Option<&FieldEquals>,
) -> worker::Result<Vec<StoredDoc>> {
    let since = int(since.unwrap_or(0) as i64);
    let rows: Vec<StoredRow> = match (path, narrow) {
        (Some(path), _) => {
            sql.exec("SELECT path, data, seq FROM documents WHERE path = ?", vec![text(path.as_str())])?
        }
        (None, None) => sql.exec(
            "SELECT path, data, seq FROM documents WHERE collection = ? AND seq > ? ORDER BY path",
            vec![text(collection), since],
        )?,
        // The expression is the index's, character for character, or SQLite would not use it.
        (None, Some(narrow)) => sql.exec(
            &format!(
                "SELECT path, data, seq FROM documents WHERE collection = ? AND {} = ? AND seq > ? ORDER BY path",
                narrow.expression()
            ),
            vec![text(collection), text(narrow.value()), since],
        )?,
    }
    .to_array()?;
    rows.into_iter()
        .filter_map(|r| {
            let path = r.path.parse().ok()?;
            Some(
                serde_json::from_str(&r.data)
                    .map(|data| StoredDoc { path, data, seq: r.seq as Seq })
                    .map_err(json_error),
            )
        })
        .collect()
}

/// The field indexes the feed holds ([`create_field_index`]), by name.
pub fn field_indexes(sql: &SqlStorage) -> worker::Result<BTreeSet<String>> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    let names: Vec<Name> = sql
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, ?) = ?",
            vec![int(INDEX_PREFIX.len() as i64), text(INDEX_PREFIX)],
        )?
        .to_array()?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// Creates the index a read narrowed by `narrow`'s field uses, if it is not there: on
/// (collection, the field, seq), so that a collection's documents of one owner, changed
/// after a seq, are found without reading the others.
pub fn create_field_index(sql: &SqlStorage, narrow: &FieldEquals) -> worker::Result<()> {
    sql.exec(
        &format!(
            "CREATE INDEX IF NOT EXISTS {} ON documents (collection, {}, seq)",
            narrow.index_name(),
            narrow.expression()
        ),
        None,
    )?;
    Ok(())
}

/// The feed's latest seq: of the log, or of a document (the log may have been pruned).
pub fn head_seq(sql: &SqlStorage) -> worker::Result<Seq> {
    let row: SeqRow = sql
        .exec(
            "SELECT max(coalesce((SELECT max(seq) FROM events), 0), coalesce((SELECT max(seq) FROM documents), 0)) AS seq",
            None,
        )?
        .one()?;
    Ok(row.seq as Seq)
}

/// Adds a redelivery's row to the delivery log (inside the ingest transaction), and every
/// [`TRIM_EVERY`]th row trims the log to its newest `max_rows`: a replay loop (duplicates
/// are rows too) cannot grow it between the hourly prunes.
pub fn log_redelivery(
    sql: &SqlStorage,
    at: UnixTime,
    event: &Event,
    record: &RedeliveryRecord,
    max_rows: i64,
) -> worker::Result<()> {
    /// How often a redelivery row trims the log.
    const TRIM_EVERY: i64 = 256;
    #[derive(Deserialize)]
    struct IdRow {
        id: f64,
    }
    let inserted: Vec<IdRow> = sql
        .exec(
            "INSERT INTO deliveries (at, source, event_id, event_type, outcome, status, code, message, seq)
         VALUES (?, ?, ?, ?, ?, 200, ?, ?, ?) RETURNING id",
            vec![
                int(at.as_millis()),
                text(&event.source),
                text(&event.id),
                text(&event.event_type),
                text(record.outcome),
                record.code.map_or(SqlStorageValue::Null, text),
                text(&record.message),
                int(record.seq as i64),
            ],
        )?
        .to_array()?;
    if inserted.first().is_some_and(|row| row.id as i64 % TRIM_EVERY == 0) {
        sql.exec("DELETE FROM deliveries WHERE id <= (SELECT max(id) FROM deliveries) - ?", vec![int(max_rows)])?;
    }
    Ok(())
}

/// A row of [`read_deliveries`]' query, as SQLite gives it (numbers as `f64`).
#[derive(Deserialize)]
struct DeliveryColumns {
    at: f64,
    key: String,
    source: String,
    event_id: Option<String>,
    event_type: Option<String>,
    outcome: LogOutcome,
    status: f64,
    code: Option<String>,
    message: Option<String>,
    seq: Option<f64>,
}

impl From<DeliveryColumns> for LogRow {
    fn from(row: DeliveryColumns) -> Self {
        Self {
            cursor: LogCursor { at_ms: row.at as i64, key: row.key },
            at: UnixTime(row.at as i64).to_rfc3339(),
            source: row.source,
            event_id: row.event_id,
            event_type: row.event_type,
            outcome: row.outcome,
            status: row.status as u16,
            code: row.code,
            message: row.message,
            client: None,
            seq: row.seq.map(|s| s as u64),
        }
    }
}

/// One page of the delivery log, newest first: stored events and redeliveries, filtered
/// and before `query.before`. Keys are built as [`LogCursor`] builds them, so pages agree
/// with the edge's merge.
pub fn read_deliveries(sql: &SqlStorage, query: &LogQuery) -> worker::Result<Vec<LogRow>> {
    let filter = |v: Option<&str>| v.map_or(SqlStorageValue::Null, text);
    let (before_at, before_key) = match &query.before {
        Some(cursor) => (int(cursor.at_ms), text(&cursor.key)),
        None => (SqlStorageValue::Null, SqlStorageValue::Null),
    };
    sql.exec(
        "SELECT at, key, source, event_id, event_type, outcome, status, code, message, seq FROM (
             SELECT at, 'd' || printf('%012d', id) AS key, source, event_id, event_type, outcome, status, code,
                    message, seq FROM deliveries
             UNION ALL
             SELECT coalesce(logged_at, received_at), 'e' || printf('%012d', seq), source, event_id, event_type,
                    CASE WHEN late THEN 'out_of_order' ELSE 'stored' END, 200, NULL,
                    CASE
                      WHEN path IS NULL THEN 'logged; not projected into a document'
                      WHEN late THEN 'arrived after a newer event for ' || path || ': fields it set later kept the newer values'
                      ELSE 'applied to ' || path
                    END, seq FROM events
         ) WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR event_id = ?3)
             AND (?4 IS NULL OR at < ?4 OR (at = ?4 AND key < ?5))
         ORDER BY at DESC, key DESC LIMIT ?6",
        vec![
            filter(query.source.as_deref()),
            filter(query.outcome.map(LogOutcome::as_str)),
            filter(query.event_id.as_deref()),
            before_at,
            before_key,
            int(query.limit as i64),
        ],
    )?
    .to_array::<DeliveryColumns>()
    .map(|rows| rows.into_iter().map(LogRow::from).collect())
}

/// How many events, documents and replay keys the feed holds.
pub fn counts(sql: &SqlStorage) -> worker::Result<(u64, u64, u64)> {
    #[derive(Deserialize)]
    struct Counts {
        events: f64,
        documents: f64,
        replay_keys: f64,
    }
    let counts: Counts = sql
        .exec(
            "SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM documents) AS documents,
                    (SELECT count(*) FROM replay_keys) AS replay_keys",
            None,
        )?
        .one()?;
    Ok((counts.events as u64, counts.documents as u64, counts.replay_keys as u64))
}

/// Deletes events and delivery rows received before `cutoff`, delivery rows past the
/// newest `max_rows`, and replay keys no longer needed, as
/// [`replay_key_kept_until`](hookfeed_core::ledger::retention::replay_key_kept_until)
/// says: a time-protected delivery's once both the log's `cutoff` and its own replay window
/// (at `now`) have passed, any other's once received before `replay_cutoff`.
pub fn prune(
    sql: &SqlStorage,
    now: UnixTime,
    cutoff: UnixTime,
    replay_cutoff: UnixTime,
    max_rows: i64,
) -> worker::Result<()> {
    sql.exec("DELETE FROM events WHERE received_at < ?", vec![int(cutoff.as_millis())])?;
    sql.exec(
        "DELETE FROM replay_keys WHERE at < ?1
             AND ((window_ms IS NOT NULL AND at + window_ms < ?2) OR (window_ms IS NULL AND at < ?3))",
        vec![int(cutoff.as_millis()), int(now.as_millis()), int(replay_cutoff.as_millis())],
    )?;
    sql.exec("DELETE FROM deliveries WHERE at < ?", vec![int(cutoff.as_millis())])?;
    sql.exec("DELETE FROM deliveries WHERE id <= (SELECT max(id) FROM deliveries) - ?", vec![int(max_rows)])?;
    Ok(())
}

/// Runs `body` in one SQLite transaction (`storage.transactionSync`): an error rolls back
/// every write it made. `body` must own what it uses: the platform keeps the callback.
pub fn transaction<T: 'static>(
    storage: &JsValue,
    body: impl FnOnce() -> worker::Result<T> + 'static,
) -> worker::Result<T> {
    let transaction_sync: js_sys::Function =
        js_sys::Reflect::get(storage, &JsValue::from_str("transactionSync"))?.dyn_into()?;
    let result: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let closure = Closure::once(move || -> Result<JsValue, JsValue> {
        match body() {
            Ok(value) => {
                *slot.borrow_mut() = Some(value);
                Ok(JsValue::UNDEFINED)
            }
            // Throwing is what makes transactionSync roll back.
            Err(e) => Err(JsValue::from(e)),
        }
    });
    transaction_sync.call1(storage, closure.as_ref())?;
    let value = result.borrow_mut().take();
    value.ok_or_else(|| worker::Error::RustError("transaction produced no result".to_owned()))
}
