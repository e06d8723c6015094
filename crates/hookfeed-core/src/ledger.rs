//! Exactly-once, convergent ingest: dedup by (source, event id), then merge the event's
//! projection into its document.
//!
//! The algorithm is written once, here, over the [`FeedStore`] trait; the Worker
//! implements the trait on Durable Object SQLite (inside one transaction), and
//! [`MemoryStore`] implements it for tests and benchmarks.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::delivery::VerifiedDelivery;
use crate::path::DocPath;
use crate::projection::{project, DocumentState, Projection, ProjectionRule};
pub use crate::replay::ReplayKey;
use crate::time::UnixTime;

/// A position in a feed's log; strictly increasing.
pub type Seq = u64;

/// What the log remembers of an event for dedup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Its position in the log.
    pub seq: Seq,
    /// SHA-256 of its raw body, hex.
    pub digest: String,
}

/// What [`FeedStore::append_event`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Appended at this seq.
    New(Seq),
    /// Not appended: this event (same source and id) was logged before.
    Existing(LoggedEvent),
}

/// One row of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry<'a> {
    /// The source it arrived at.
    pub source: &'a str,
    /// The provider's event id.
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// The time it is ordered by.
    pub ordered_at: UnixTime,
    /// When it was received.
    pub received_at: UnixTime,
    /// SHA-256 of the raw body, hex.
    pub digest: String,
    /// The raw body.
    pub raw: &'a [u8],
    /// The document it was projected into, if any.
    pub path: Option<&'a DocPath>,
    /// Its signed content's key: a delivery with the same key is the same delivery.
    pub replay_key: ReplayKey,
    /// How long after arrival a replay of it may still verify, when a clock stops it
    /// ([`VerifiedDelivery::replay_window_secs`]): the key is kept at least that long. `None`:
    /// no clock, the key is kept for the replay retention.
    pub replay_window_secs: Option<u64>,
}

/// Storage for one feed. Implementations run all calls of one [`ingest`] in one transaction.
pub trait FeedStore {
    /// The storage's failure.
    type Error;

    /// Appends to the log unless the same delivery was stored before: one with the same
    /// [`ReplayKey`] (whatever its id), or an event with the same (source, id), in which
    /// case it returns that one; a new event's key is kept with it.
    fn append_event(&mut self, entry: &LogEntry<'_>) -> Result<Appended, Self::Error>;
    /// A document's stored state.
    fn load_document(&mut self, path: &DocPath) -> Result<Option<DocumentState>, Self::Error>;
    /// Stores a document's state. `changed_at` is the seq its data changed at; `None`
    /// when only its clocks did (the document keeps the seq of its last change, which
    /// resumes read).
    fn save_document(
        &mut self,
        path: &DocPath,
        state: &DocumentState,
        changed_at: Option<Seq>,
    ) -> Result<(), Self::Error>;
}

pub use hookfeed_wire::ChangeKind;

/// A document change to fan out.
#[derive(Debug, Clone, PartialEq)]
pub struct DocChange {
    /// The document.
    pub path: DocPath,
    /// How it changed.
    pub kind: ChangeKind,
    /// The seq of the change.
    pub seq: Seq,
    /// Its data before the change (`None` when added).
    pub before: Option<Map<String, Value>>,
    /// Its data after the change.
    pub data: Map<String, Value>,
}

/// What [`ingest`] did with a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Logged for the first time.
    Stored {
        /// Its seq in the log.
        seq: Seq,
        /// What the projection made of it.
        projection: ProjectionOutcome,
        /// The document change, unless the event changed nothing (it was older than
        /// what the document already holds).
        change: Option<DocChange>,
        /// It arrived after a newer event for its document: a field the newer event
        /// set kept the newer value (the delivery log shows it as `out_of_order`).
        late: bool,
    },
    /// The same event (same id, same body) was already logged: nothing changes.
    Duplicate {
        /// The seq it was first logged at.
        seq: Seq,
    },
    /// An event with this id but a different body was already logged: the first one
    /// stands, and this one is reported, not applied.
    Conflict {
        /// The seq of the logged event.
        seq: Seq,
    },
}

/// The delivery-log row a redelivery adds. A stored event is its own row (the log reads
/// the events table too), so only duplicates and conflicts add one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeliveryRecord {
    /// `duplicate` or `conflict`.
    pub outcome: &'static str,
    /// A machine-readable code, for conflicts.
    pub code: Option<&'static str>,
    /// What happened, for people.
    pub message: String,
    /// The seq of the event first logged.
    pub seq: Seq,
}

impl Ingested {
    /// The row the delivery log gets for this outcome, if any.
    pub fn redelivery_record(&self) -> Option<RedeliveryRecord> {
        match self {
            Self::Stored { .. } => None,
            Self::Duplicate { seq } => Some(RedeliveryRecord {
                outcome: "duplicate",
                code: None,
                message: format!("already stored at seq {seq}"),
                seq: *seq,
            }),
            Self::Conflict { seq } => Some(RedeliveryRecord {
                outcome: "conflict",
                code: Some("conflict"),
                message: format!("event id already stored at seq {seq} with a different body; the first stands"),
                seq: *seq,
            }),
        }
    }
}

/// How long a feed keeps its log, and when it wakes to prune it.
pub mod retention {
    use crate::time::UnixTime;

    /// Days the event log (and so dedup by event id) is kept unless configured: providers
    /// retry for hours (Twin.Actor for over 3), so days, not minutes.
    pub const DEFAULT_DAYS: u32 = 7;
    /// Days the replay key of a delivery no clock protects (no signed timestamp, no
    /// `created` window: GitHub, Shopify, HeyGen, Paystack, …) is kept unless configured
    /// (`HOOKFEED_REPLAY_DAYS`): a captured delivery replayed within it is a duplicate.
    /// Keys of time-protected deliveries go with the log, since their window refuses an
    /// older replay anyway.
    pub const DEFAULT_REPLAY_DAYS: u32 = 365;
    /// Bytes a replay key costs the feed's SQLite, about: 16 for the key, 8 for the seq and
    /// its time, and the row's and the index's overhead. A source with 10,000 deliveries a
    /// day no clock protects keeps about 3.65 million keys, about 220 MB, at the default.
    pub const REPLAY_KEY_BYTES: u64 = 60;
    /// Rows of the delivery log (duplicates and conflicts) kept at most, whatever their age.
    pub const MAX_DELIVERY_ROWS: i64 = 10_000;
    /// How often the log is pruned, in milliseconds.
    pub const PRUNE_EVERY_MS: i64 = 60 * 60 * 1000;

    /// Events, delivery rows and time-protected replay keys received before this are
    /// pruned (with `days` the log's retention); other replay keys with `days` the replay
    /// retention, never shorter than the log's.
    pub fn cutoff(now: UnixTime, days: u32) -> UnixTime {
        UnixTime(now.as_millis() - i64::from(days.max(1)) * 24 * 60 * 60 * 1000)
    }

    /// Until when a delivery's replay key is kept (the feed's prune deletes it after this,
    /// in SQL): the log's `log_days` and, where a clock protects it, its own
    /// `replay_window_secs`, whichever is longer; where none does, `replay_days`.
    pub fn replay_key_kept_until(
        received: UnixTime,
        replay_window_secs: Option<u64>,
        log_days: u32,
        replay_days: u32,
    ) -> UnixTime {
        let days = |d: u32| i64::from(d.max(1)) * 24 * 60 * 60 * 1000;
        let kept_ms = match replay_window_secs {
            Some(window) => days(log_days).max(i64::try_from(window.saturating_mul(1000)).unwrap_or(i64::MAX)),
            None => days(replay_days.max(log_days)),
        };
        UnixTime(received.as_millis().saturating_add(kept_ms))
    }

    /// When the feed's alarm must next fire: the next pruning, or the next socket's token
    /// expiry (Unix seconds) if that comes first.
    pub fn next_alarm(now: UnixTime, next_expiry: Option<i64>) -> UnixTime {
        let prune = UnixTime(now.as_millis() + PRUNE_EVERY_MS);
        next_expiry.map_or(prune, |exp| UnixTime::from_secs(exp).min(prune))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_log_is_kept_for_whole_days_and_the_alarm_comes_at_the_first_due_task() {
            let now = UnixTime::from_secs(10 * 86_400);
            assert_eq!(cutoff(now, 7), UnixTime::from_secs(3 * 86_400));
            assert_eq!(cutoff(now, 0), UnixTime::from_secs(9 * 86_400), "at least a day");
            assert_eq!(next_alarm(now, None), UnixTime(now.as_millis() + PRUNE_EVERY_MS));
            assert_eq!(next_alarm(now, Some(10 * 86_400 + 5)), UnixTime::from_secs(10 * 86_400 + 5));
            assert_eq!(next_alarm(now, Some(11 * 86_400)), UnixTime(now.as_millis() + PRUNE_EVERY_MS));
        }
    }
}

/// What projection made of an event, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionOutcome {
    /// Merged into this document.
    Document(DocPath),
    /// No rule for the event type.
    NoRule,
    /// A rule matched, but the event lacks this id field.
    NoDocumentId(String),
}

/// SHA-256 of a raw body, hex: what dedup compares.
pub fn body_digest(raw: &[u8]) -> String {
    hex::encode(Sha256::digest(raw))
}

/// Logs and projects one verified delivery, exactly once per signed content and per
/// (source, event id): a replay of stored content, whatever its unsigned headers say, is
/// a duplicate; a provider's retry of an event (same id, re-signed) is one too.
pub fn ingest<S: FeedStore>(
    store: &mut S,
    delivery: &VerifiedDelivery,
    rules: &[ProjectionRule],
) -> Result<Ingested, S::Error> {
    let event = delivery.event();
    let sha: [u8; 32] = Sha256::digest(delivery.raw()).into();
    let digest = hex::encode(sha);
    let projection = project(event, delivery.ordered_at(), &digest, rules);
    let update = match &projection {
        Projection::Update(update) => Some(update),
        _ => None,
    };
    let appended = store.append_event(&LogEntry {
        source: &event.source,
        event_id: &event.id,
        event_type: &event.event_type,
        ordered_at: delivery.ordered_at(),
        received_at: delivery.received_at(),
        digest: digest.clone(),
        raw: delivery.raw(),
        path: update.map(|u| &u.path),
        replay_key: delivery.replay_key(&sha),
        replay_window_secs: delivery.replay_window_secs(),
    })?;
    let seq = match appended {
        Appended::New(seq) => seq,
        Appended::Existing(logged) if logged.digest == digest => return Ok(Ingested::Duplicate { seq: logged.seq }),
        Appended::Existing(logged) => return Ok(Ingested::Conflict { seq: logged.seq }),
    };
    let (outcome, change, late) = match projection {
        Projection::NoRule => (ProjectionOutcome::NoRule, None, false),
        Projection::NoDocumentId { field } => (ProjectionOutcome::NoDocumentId(field), None, false),
        Projection::Update(update) => {
            let existing = store.load_document(&update.path)?;
            let kind = if existing.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
            let before = existing.as_ref().map(|s| s.data.clone());
            let mut state = existing.unwrap_or_default();
            let late = state.is_newer_than(&update);
            let merged = state.apply(&update);
            if merged.clocks {
                // Saved even when the data is the same: a newer clock for a value already
                // held is what an older event arriving later must lose to.
                store.save_document(&update.path, &state, merged.data.then_some(seq))?;
            }
            let change =
                merged.data.then(|| DocChange { path: update.path.clone(), kind, seq, before, data: state.data });
            (ProjectionOutcome::Document(update.path), change, late)
        }
    };
    Ok(Ingested::Stored { seq, projection: outcome, change, late })
}

/// A [`FeedStore`] in memory, for tests, benchmarks and the CLI's dry runs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    events: BTreeMap<(String, String), LoggedEvent>,
    replay_keys: BTreeMap<ReplayKey, LoggedEvent>,
    documents: BTreeMap<DocPath, (DocumentState, Seq)>,
    next_seq: Seq,
}

impl MemoryStore {
    /// The documents' data, by path.
    pub fn documents(&self) -> BTreeMap<String, Map<String, Value>> {
        self.documents.iter().map(|(p, (s, _))| (p.to_string(), s.data.clone())).collect()
    }

    /// How many events are logged.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }
}

impl FeedStore for MemoryStore {
    type Error = std::convert::Infallible;

    fn append_event(&mut self, entry: &LogEntry<'_>) -> Result<Appended, Self::Error> {
        if let Some(logged) = self.replay_keys.get(&entry.replay_key) {
            return Ok(Appended::Existing(logged.clone()));
        }
        let key = (entry.source.to_owned(), entry.event_id.to_owned());
        if let Some(logged) = self.events.get(&key) {
            return Ok(Appended::Existing(logged.clone()));
        }
        self.next_seq += 1;
        let logged = LoggedEvent { seq: self.next_seq, digest: entry.digest.clone() };
        self.events.insert(key, logged.clone());
        self.replay_keys.insert(entry.replay_key, logged);
        Ok(Appended::New(self.next_seq))
    }

    fn load_document(&mut self, path: &DocPath) -> Result<Option<DocumentState>, Self::Error> {
        Ok(self.documents.get(path).map(|(s, _)| s.clone()))
    }

    fn save_document(
        &mut self,
        path: &DocPath,
        state: &DocumentState,
        changed_at: Option<Seq>,
    ) -> Result<(), Self::Error> {
        let seq = changed_at.or_else(|| self.documents.get(path).map(|(_, seq)| *seq)).unwrap_or(self.next_seq);
        self.documents.insert(path.clone(), (state.clone(), seq));
        Ok(())
    }
}
