//! The delivery log as people read it (`GET /deliveries`, `hookfeed deliveries`, the demo
//! page): rows from three places, one order, pages that do not skip or repeat.
//!
//! A feed's stored events and redelivery rows live in its SQLite; refusals live in the
//! edge isolate's memory ([`refusal`](crate::refusal)). Each row gets a [`LogCursor`]:
//! its time (a feed's rows: their [`commit_stamp`], in commit order) and a key unique within
//! the log (`e…` an event's seq, `d…` a
//! redelivery row's id, `r…` a refusal's number). Rows are listed newest first by
//! (time, key), and a page asks for the rows strictly before a cursor, so a row that
//! arrives while someone pages never shifts the pages after it.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::refusal::{quote, Refusal};
use crate::time::UnixTime;

/// Most rows one page holds.
pub const MAX_PAGE: usize = 1_000;
/// Rows a page holds unless asked.
pub const DEFAULT_PAGE: usize = 100;

/// What a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogOutcome {
    /// Stored and projected.
    Stored,
    /// Stored, but it arrived after a newer event for its document: only the fields
    /// nothing newer had set were applied.
    OutOfOrder,
    /// The same event again: acknowledged, nothing changed.
    Duplicate,
    /// The same event id with another body: acknowledged, the first stands.
    Conflict,
    /// Refused at the edge (signature, replay window, size, shape, rate).
    Rejected,
}

impl LogOutcome {
    /// Every outcome, in the order a delivery's fortunes run.
    pub const ALL: [Self; 5] = [Self::Stored, Self::OutOfOrder, Self::Duplicate, Self::Conflict, Self::Rejected];

    /// Its name in the log and in filters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::OutOfOrder => "out_of_order",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
            Self::Rejected => "rejected",
        }
    }

    /// The outcome called `name`.
    pub fn parse(name: &str) -> Result<Self, LogQueryError> {
        Self::ALL.into_iter().find(|o| o.as_str() == name).ok_or_else(|| LogQueryError::Outcome(quote(name)))
    }
}

impl fmt::Display for LogOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The time a feed stamps a commit's rows with: `now`, or one millisecond after the last
/// stamp if the clock has not moved past it. Stamps strictly increase in commit order, so a
/// row committed after another always lists after it, however long its delivery took to
/// arrive: a reader that follows the log from a cursor never misses one (a stamp taken
/// when a slow delivery's request began would list it before rows committed earlier).
pub fn commit_stamp(last: Option<i64>, now: UnixTime) -> UnixTime {
    UnixTime(last.map_or(now.as_millis(), |last| now.as_millis().max(last.saturating_add(1))))
}

/// Where a row stands in the log: when the feed committed it (Unix milliseconds; for the
/// edge's refusals, when refused) and its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogCursor {
    /// When the delivery arrived, Unix milliseconds.
    pub at_ms: i64,
    /// `e` + an event's seq, `d` + a redelivery row's id, or `r` + a refusal's number,
    /// each zero-padded to 12 digits so that keys sort as their numbers do.
    pub key: String,
}

impl LogCursor {
    /// The cursor of a stored event.
    pub fn event(at_ms: i64, seq: u64) -> Self {
        Self { at_ms, key: format!("e{seq:012}") }
    }

    /// The cursor of a redelivery row.
    pub fn redelivery(at_ms: i64, id: u64) -> Self {
        Self { at_ms, key: format!("d{id:012}") }
    }

    /// The cursor of a refusal the edge remembers.
    pub fn refusal(at_ms: i64, number: u64) -> Self {
        Self { at_ms, key: format!("r{number:012}") }
    }

    /// Reads a cursor as [`Display`](fmt::Display) writes it: `<at_ms>.<key>`.
    pub fn parse(text: &str) -> Result<Self, LogQueryError> {
        let bad = || LogQueryError::Cursor(quote(text));
        let (at, key) = text.split_once('.').ok_or_else(bad)?;
        let at_ms: i64 = at.parse().map_err(|_| bad())?;
        let mut chars = key.chars();
        let kind_ok = matches!(chars.next(), Some('e' | 'd' | 'r'));
        let digits = chars.as_str();
        if !kind_ok || digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) || at_ms < 0 {
            return Err(bad());
        }
        Ok(Self { at_ms, key: key.to_owned() })
    }
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.at_ms, self.key)
    }
}

impl Ord for LogCursor {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at_ms, &self.key).cmp(&(other.at_ms, &other.key))
    }
}

impl PartialOrd for LogCursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// As its text (`<at_ms>.<key>`), the form pages and `before` carry.
impl Serialize for LogCursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One row of the delivery log, as `GET /deliveries` answers it: a feed writes its stored
/// events and redeliveries as these, the edge adds its refusals ([`LogRow::refusal`]), and
/// `hookfeed deliveries` reads them. Fields a row does not have are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRow {
    /// Where it stands in the log.
    pub cursor: LogCursor,
    /// When it arrived (RFC 3339).
    pub at: String,
    /// Its source (or [`UNKNOWN_SOURCE`](crate::refusal::UNKNOWN_SOURCE)).
    pub source: String,
    /// Its event id, when known (never for a refusal).
    pub event_id: Option<String>,
    /// Its event type, when known (never for a refusal).
    pub event_type: Option<String>,
    /// What it came to.
    pub outcome: LogOutcome,
    /// The status it was answered with.
    pub status: u16,
    /// The machine-readable reason, for refusals and conflicts.
    pub code: Option<String>,
    /// What happened, for people.
    pub message: Option<String>,
    /// The client address a refusal came from; only refusals carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Its seq in the feed's log, for stored events.
    pub seq: Option<u64>,
}

impl LogRow {
    /// The row of the edge's refusal number `number` (its key in the log).
    pub fn refusal(number: u64, refusal: &Refusal) -> Self {
        Self {
            cursor: LogCursor::refusal(refusal.at.as_millis(), number),
            at: refusal.at.to_rfc3339(),
            source: refusal.source.clone(),
            event_id: None,
            event_type: None,
            outcome: LogOutcome::Rejected,
            status: refusal.status,
            code: Some(refusal.code.to_owned()),
            message: Some(refusal.message.clone()),
            client: Some(refusal.client.clone()),
            seq: None,
        }
    }
}

/// One page of the delivery log: its rows, newest first, and the `before` of the next
/// page when there may be one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    /// The rows, newest first.
    pub deliveries: Vec<LogRow>,
    /// The cursor to ask the next page with (`before`).
    #[serde(default)]
    pub next: Option<LogCursor>,
}

/// Why a log query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogQueryError {
    /// An outcome filter that names no outcome.
    #[error("outcome `{0}` is not one of stored, out_of_order, duplicate, conflict, rejected")]
    Outcome(String),
    /// A `before` that is not a cursor this log gave out.
    #[error("before `{0}` is not a cursor: pass the `next` of the previous page, as given")]
    Cursor(String),
    /// A limit that is not a positive whole number.
    #[error("limit `{0}` is not a whole number from 1 to 1000")]
    Limit(String),
}

/// One page's worth of filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Only this source's rows.
    pub source: Option<String>,
    /// Only rows with this outcome.
    pub outcome: Option<LogOutcome>,
    /// Only rows of this event id (refusals have none, so this leaves them out).
    pub event_id: Option<String>,
    /// Only rows before this cursor.
    pub before: Option<LogCursor>,
    /// Rows at most.
    pub limit: usize,
}

impl LogQuery {
    /// Reads a query from its parameters (`source`, `outcome`, `event_id`, `before`,
    /// `limit`), as `lookup` finds them.
    pub fn from_params(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LogQueryError> {
        let limit = match lookup("limit") {
            None => DEFAULT_PAGE,
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => return Err(LogQueryError::Limit(quote(&text))),
            },
        };
        Ok(Self {
            source: lookup("source").filter(|s| !s.is_empty()),
            outcome: lookup("outcome").filter(|o| !o.is_empty()).map(|o| LogOutcome::parse(&o)).transpose()?,
            event_id: lookup("event_id").filter(|e| !e.is_empty()),
            before: lookup("before").filter(|b| !b.is_empty()).map(|b| LogCursor::parse(&b)).transpose()?,
            limit,
        })
    }

    /// Whether the edge's refusals belong in the answer.
    pub fn wants_refusals(&self) -> bool {
        self.event_id.is_none() && self.outcome.is_none_or(|o| o == LogOutcome::Rejected)
    }

    /// Whether a row at `cursor` comes after `before` in the listing (is older).
    pub fn admits(&self, cursor: &LogCursor) -> bool {
        self.before.as_ref().is_none_or(|before| cursor < before)
    }
}

/// Rows from every part of the log, newest first, as one page: at most `limit`, and the
/// cursor to ask for the next page with, when there may be one.
pub fn page<T>(mut rows: Vec<(LogCursor, T)>, limit: usize) -> (Vec<(LogCursor, T)>, Option<LogCursor>) {
    rows.sort_by(|(a, _), (b, _)| b.cmp(a));
    let full = rows.len() >= limit;
    rows.truncate(limit);
    let next = if full { rows.last().map(|(cursor, _)| cursor.clone()) } else { None };
    (rows, next)
}

#[cfg(test)]
mod tests {

    #[test]
    fn commit_stamps_strictly_increase_whatever_the_clock_does() {
        let mut last = None;
        let mut stamps = Vec::new();
        for now in [100, 100, 100, 99, 250, 250, 10] {
            let stamp = commit_stamp(last, UnixTime(now));
            last = Some(stamp.as_millis());
            stamps.push(stamp.as_millis());
        }
        assert_eq!(stamps, [100, 101, 102, 103, 250, 251, 252]);
        assert_eq!(commit_stamp(None, UnixTime(7)), UnixTime(7));
    }

    use super::*;

    #[test]
    fn cursors_round_trip_and_order_by_time_then_key() {
        let cursors = [
            LogCursor::event(1_000, 7),
            LogCursor::redelivery(1_000, 2),
            LogCursor::refusal(999, 123),
            LogCursor::event(1_001, 1),
        ];
        for cursor in &cursors {
            assert_eq!(LogCursor::parse(&cursor.to_string()).as_ref(), Ok(cursor));
        }
        let mut sorted = cursors.to_vec();
        sorted.sort();
        assert_eq!(sorted, [cursors[2].clone(), cursors[1].clone(), cursors[0].clone(), cursors[3].clone()]);
        assert_eq!(LogCursor::event(5, 42).to_string(), "5.e000000000042");
    }

    #[test]
    fn anything_but_a_cursor_is_refused_with_what_to_pass() {
        for bad in ["", "5", "5.", "x.e000000000001", "5.e1", "5.x000000000001", "-5.e000000000001", "5.e00000000000a"]
        {
            let err = LogCursor::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("`next` of the previous page"), "{bad}: {err}");
        }
        let long = "9".repeat(10_000);
        assert!(LogCursor::parse(&long).expect_err("long").to_string().len() < 200, "quotes a bounded part");
    }

    #[test]
    fn pages_walk_the_whole_log_once_however_it_is_split() {
        // Three parts of the log, several rows in the same millisecond.
        let mut all: Vec<(LogCursor, u32)> = Vec::new();
        for i in 0..40u32 {
            let at = 1_000 + i64::from(i / 3);
            all.push((LogCursor::event(at, u64::from(i)), i));
            if i % 4 == 0 {
                all.push((LogCursor::redelivery(at, u64::from(i)), 100 + i));
            }
            if i % 5 == 0 {
                all.push((LogCursor::refusal(at, u64::from(i)), 200 + i));
            }
        }
        for limit in [1, 3, 7, 100] {
            let mut seen = Vec::new();
            let mut query = LogQuery { limit, ..LogQuery::default() };
            loop {
                let rows: Vec<_> = all.iter().filter(|(c, _)| query.admits(c)).cloned().collect();
                let (rows, next) = page(rows, limit);
                seen.extend(rows.iter().map(|(_, v)| *v));
                match next {
                    Some(next) => query.before = Some(next),
                    None => break,
                }
            }
            let mut expected = all.clone();
            expected.sort_by(|(a, _), (b, _)| b.cmp(a));
            assert_eq!(seen, expected.iter().map(|(_, v)| *v).collect::<Vec<_>>(), "limit {limit}");
        }
    }

    #[test]
    fn a_refusal_row_says_who_was_refused_and_a_stored_row_reads_without_a_client() {
        let refusal = Refusal {
            at: UnixTime(1_000),
            source: "percify".into(),
            code: "signature_mismatch",
            status: 401,
            message: "no signature matched".into(),
            client: "203.0.113.9".into(),
        };
        let row = serde_json::to_value(LogRow::refusal(7, &refusal)).expect("serialises");
        assert_eq!(
            row,
            serde_json::json!({
                "cursor": "1000.r000000000007", "at": "1970-01-01T00:00:01Z", "source": "percify",
                "event_id": null, "event_type": null, "outcome": "rejected", "status": 401,
                "code": "signature_mismatch", "message": "no signature matched", "client": "203.0.113.9", "seq": null,
            })
        );
        let stored: LogPage = serde_json::from_value(serde_json::json!({"deliveries": [{
            "cursor": "5.e000000000042", "at": "1970-01-01T00:00:00.005Z", "source": "twin-actor",
            "event_id": "evt_1", "event_type": "project.completed", "outcome": "out_of_order", "status": 200,
            "code": null, "message": "applied to projects/42", "seq": 42,
        }]}))
        .expect("a feed's page reads");
        assert_eq!(stored.deliveries[0].cursor, LogCursor::event(5, 42));
        assert_eq!(stored.deliveries[0].outcome, LogOutcome::OutOfOrder);
        assert_eq!(stored.deliveries[0].client, None);
        assert_eq!(stored.next, None);
        assert!(!serde_json::to_string(&stored).expect("serialises").contains("client"), "only refusals carry one");
    }

    #[test]
    fn a_query_reads_its_parameters_or_says_which_one_is_wrong() {
        let params = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let q = LogQuery::from_params(params(&[
            ("source", "twin-actor"),
            ("outcome", "out_of_order"),
            ("before", "5.e000000000042"),
            ("limit", "20"),
        ]))
        .expect("valid");
        assert_eq!(q.outcome, Some(LogOutcome::OutOfOrder));
        assert_eq!(q.before, Some(LogCursor::event(5, 42)));
        assert_eq!(q.limit, 20);
        assert!(!q.wants_refusals());
        assert_eq!(LogQuery::from_params(params(&[])).expect("defaults").limit, DEFAULT_PAGE);
        assert!(LogQuery::from_params(params(&[])).expect("defaults").wants_refusals());
        assert!(!LogQuery::from_params(params(&[("event_id", "evt_1")])).expect("valid").wants_refusals());
        assert!(matches!(LogQuery::from_params(params(&[("outcome", "lost")])), Err(LogQueryError::Outcome(_))));
        for limit in ["0", "1001", "ten", "-1"] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("limit", limit)]));
            assert!(matches!(LogQuery::from_params(params(pairs)), Err(LogQueryError::Limit(_))), "{limit}");
        }
    }
}
