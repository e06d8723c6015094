//! Events projected into documents: which document an event updates, and with what.
//!
//! A [`ProjectionRule`] names the event types it applies to, the collection, and the
//! field of `data` that holds the document id. Built-in rules cover every event type of
//! both providers; other sources bring rules in their configuration. Updates carry a
//! [`Version`] so that [`DocumentState::merge`] converges whatever the arrival order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Event;
use crate::path::{check_collection, DocPath, PathError};
use crate::time::UnixTime;

/// Statuses after which a document's state is final: never overwritten by an older or a
/// non-terminal event.
pub const TERMINAL_STATUSES: [&str; 2] = ["completed", "failed"];

/// How one family of event types maps onto documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionRule {
    /// Event types it applies to: exact (`voice.cloned`) or a prefix pattern (`project.*`).
    pub types: Vec<String>,
    /// The collection the documents live in.
    pub collection: String,
    /// Dotted path of the document id inside the event's `data` (`project_id`, `object.id`).
    pub id_field: String,
    /// Set `status` to the event type's last segment (`project.processing` → `processing`).
    #[serde(default)]
    pub status_from_type: bool,
    /// Keep a `progress` field 0-100: 0 when created, 100 when completed, else `data.progress`.
    #[serde(default)]
    pub progress: bool,
    /// Extra names for fields: `{"video_url": "final_video_url"}` copies the former into the latter.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// The lifecycle of the documents' `status`, first to last (`["pending", "paid",
    /// "shipped", "delivered"]`): of two events stamped the same instant, the one setting a
    /// later status wins. Empty: `created` first, then any other, then the terminal ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<String>,
    /// Statuses after which a document is final, never overwritten by an older event or a
    /// non-terminal one (default: [`TERMINAL_STATUSES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<Vec<String>>,
}

/// Why a configured rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// Its collection is not a valid collection name.
    #[error(transparent)]
    Collection(#[from] PathError),
    /// Its `statuses` list one status twice, or too many.
    #[error("`statuses` must list each status once, at most {MAX_STATUSES} of them")]
    Statuses,
}

/// Most statuses a rule's lifecycle may list.
pub const MAX_STATUSES: usize = 64;

impl ProjectionRule {
    /// Whether the rule applies to `event_type`.
    pub fn matches(&self, event_type: &str) -> bool {
        self.types.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => pattern == event_type,
        })
    }

    /// Checks a configured rule.
    pub fn validate(&self) -> Result<(), RuleError> {
        check_collection(&self.collection)?;
        let unique = self.statuses.iter().enumerate().all(|(i, s)| !self.statuses[..i].contains(s));
        if !unique || self.statuses.len() > MAX_STATUSES {
            return Err(RuleError::Statuses);
        }
        Ok(())
    }

    /// Whether `status` is final under this rule.
    pub fn is_terminal(&self, status: &str) -> bool {
        match &self.terminal {
            Some(terminal) => terminal.iter().any(|t| t == status),
            None => TERMINAL_STATUSES.contains(&status),
        }
    }

    /// Where `status` stands in the lifecycle, for ties within one instant: with declared
    /// [`statuses`](Self::statuses), 1 + its place in them (0 when not listed); otherwise
    /// 1 for `created`, 2 for any other, 3 for a terminal one. 0 without a status.
    pub fn stage(&self, status: Option<&str>) -> u8 {
        let Some(status) = status else { return 0 };
        if !self.statuses.is_empty() {
            return self.statuses.iter().position(|s| s == status).map_or(0, |i| (i + 1).min(255) as u8);
        }
        match status {
            "created" => 1,
            _ if self.is_terminal(status) => 3,
            _ => 2,
        }
    }
}

impl ProjectionRule {
    /// A rule for `types` that puts each event's data into `collection`, at the id found
    /// at `id_field` of the data, with every option off.
    pub fn new(types: &[&str], collection: &str, id_field: &str) -> Self {
        Self {
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            collection: collection.to_owned(),
            id_field: id_field.to_owned(),
            status_from_type: false,
            progress: false,
            rename: BTreeMap::new(),
            statuses: Vec::new(),
            terminal: None,
        }
    }
}

/// The order in which updates win, field by field, compared in this order:
///
/// | | rule |
/// |---|---|
/// | 1 | a terminal status (the rule's [`terminal`](ProjectionRule::terminal), default `completed`, `failed`) over any other |
/// | 2 | the later time: the body's `created`, else the signed timestamp, else when the edge first received it |
/// | 3 | the later lifecycle stage ([`ProjectionRule::stage`]: the rule's declared `statuses`, else `created` < other < terminal) |
/// | 4 | the higher progress |
/// | 5 | the source's name, then the event's content digest, by their bytes (a stated, arbitrary tiebreak) |
///
/// Never arrival order, so every replica and every replay picks the same winner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Whether the update sets a terminal status.
    pub terminal: bool,
    /// The event's ordering time.
    pub at: UnixTime,
    /// Lifecycle stage of the status it sets: 0 none, 1 created, 2 any other, 3 terminal.
    #[serde(default)]
    pub stage: u8,
    /// The progress it sets, in hundredths of a percent (0 when none).
    #[serde(default)]
    pub progress: u32,
    /// The event's source.
    pub source: String,
    /// What the event says: the SHA-256 of its raw body, hex. The last tiebreak is by
    /// content, not by the event's id, which an unsigned header may carry and which, for two
    /// copies of the same content, depends on which arrived first. (Clocks stored before
    /// held the id under `event_id`: they still read.)
    #[serde(alias = "event_id")]
    pub content: String,
}

/// The fields one event writes into one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocUpdate {
    /// The document.
    pub path: DocPath,
    /// Top-level fields to set.
    pub fields: Map<String, Value>,
    /// Which update wins a field both write.
    pub version: Version,
}

/// What a set of rules makes of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// The event updates a document.
    Update(DocUpdate),
    /// No rule covers the event type: it is only logged.
    NoRule,
    /// A rule matched but the event has no usable document id: it is only logged.
    NoDocumentId {
        /// The id field the rule reads.
        field: String,
    },
}

/// Projects `event`, ordered at `at`, by the first rule that matches its type; `content`
/// is its body's digest, the last tiebreak ([`Version::content`]).
pub fn project(event: &Event, at: UnixTime, content: &str, rules: &[ProjectionRule]) -> Projection {
    let Some(rule) = rules.iter().find(|r| r.matches(&event.event_type)) else {
        return Projection::NoRule;
    };
    let id = match rule.id_field.strip_prefix('=') {
        // `=credits`: a fixed document, for account-wide events.
        Some(fixed) => Some(fixed.to_owned()),
        None => lookup(&event.data, &rule.id_field).and_then(id_text),
    };
    let Some(path) = id.and_then(|id| DocPath::new(&rule.collection, &id).ok()) else {
        return Projection::NoDocumentId { field: rule.id_field.clone() };
    };

    let mut fields = match &event.data {
        Value::Object(data) => data.clone(),
        _ => Map::new(),
    };
    for (from, to) in &rule.rename {
        if let Some(value) = fields.get(from).cloned() {
            fields.insert(to.clone(), value);
        }
    }
    let suffix = event.event_type.rsplit('.').next().unwrap_or(&event.event_type);
    if rule.status_from_type {
        fields.insert("status".to_owned(), Value::from(suffix));
    }
    let status = fields.get("status").and_then(Value::as_str).map(str::to_owned);
    if rule.progress {
        let progress = match status.as_deref() {
            Some("completed") => Some(100.0),
            Some("created") => Some(0.0),
            _ => fields.get("progress").and_then(Value::as_f64).map(|p| p.clamp(0.0, 100.0)),
        };
        if let Some(p) = progress {
            let value = if p.fract() == 0.0 { Value::from(p as i64) } else { Value::from(p) };
            fields.insert("progress".to_owned(), value);
        }
    }
    let terminal = status.as_deref().is_some_and(|s| rule.is_terminal(s));
    let progress = fields.get("progress").and_then(Value::as_f64).map_or(0, |p| (p.clamp(0.0, 100.0) * 100.0) as u32);
    Projection::Update(DocUpdate {
        path,
        fields,
        version: Version {
            terminal,
            at,
            stage: rule.stage(status.as_deref()),
            progress,
            source: event.source.clone(),
            content: content.to_owned(),
        },
    })
}

fn lookup<'v>(data: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(data, |value, key| value.get(key))
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What [`DocumentState::apply`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// The data subscribers see (a change to fan out).
    pub data: bool,
    /// A field's clock (the state to store, even when the data is the same).
    pub clocks: bool,
}

/// A document as stored: its data, and for each field the version that wrote it.
///
/// Each field is last-writer-wins by [`Version`], which makes merging commutative,
/// associative and idempotent: any order of any duplicates ends in the same data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentState {
    /// What subscribers see.
    pub data: Map<String, Value>,
    /// Which version wrote each field.
    pub clocks: BTreeMap<String, Version>,
}

impl DocumentState {
    /// Whether a field `update` sets was already set by a newer version: the update
    /// arrived out of order, and [`merge`](Self::merge) keeps that field's newer value.
    pub fn is_newer_than(&self, update: &DocUpdate) -> bool {
        update.fields.iter().any(|(field, _)| self.clocks.get(field).is_some_and(|current| *current > update.version))
    }

    /// Applies `update` field by field; returns whether the data changed.
    pub fn merge(&mut self, update: &DocUpdate) -> bool {
        self.apply(update).data
    }

    /// Applies `update` field by field; says what changed. A field the update wins with
    /// the value it already holds changes only its clock, and that clock must be stored
    /// all the same: it is what makes an older event arriving later lose the field.
    pub fn apply(&mut self, update: &DocUpdate) -> Merged {
        let mut merged = Merged::default();
        for (field, value) in &update.fields {
            let wins = self.clocks.get(field).is_none_or(|current| update.version > *current);
            if wins {
                if self.data.get(field) != Some(value) {
                    self.data.insert(field.clone(), value.clone());
                    merged.data = true;
                }
                self.clocks.insert(field.clone(), update.version.clone());
                merged.clocks = true;
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, data: Value) -> Event {
        Event {
            source: "twin-actor".into(),
            id: format!("evt_{event_type}"),
            event_type: event_type.into(),
            created: None,
            data,
        }
    }

    fn update(event: &Event, at: i64) -> DocUpdate {
        match project(
            event,
            UnixTime::from_secs(at),
            &event.id,
            &crate::signature::BuiltinScheme::TwinActor.builtin_rules(),
        ) {
            Projection::Update(u) => u,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn project_completed_sets_status_progress_and_final_video_url() {
        let e = event("project.completed", json!({"project_id": 42, "video_url": "https://v/42.mp4"}));
        let u = update(&e, 10);
        assert_eq!(u.path.as_str(), "projects/42");
        assert_eq!(u.fields["status"], "completed");
        assert_eq!(u.fields["progress"], 100);
        assert_eq!(u.fields["final_video_url"], "https://v/42.mp4");
        assert!(u.version.terminal);
    }

    #[test]
    fn processing_keeps_the_reported_progress_clamped() {
        let u = update(&event("project.processing", json!({"project_id": 1, "progress": 140})), 1);
        assert_eq!(u.fields["progress"], 100);
        let u = update(&event("project.processing", json!({"project_id": 1, "progress": 37.5})), 1);
        assert_eq!(u.fields["progress"], 37.5);
    }

    #[test]
    fn a_partial_payload_with_only_an_id_still_projects() {
        let u = update(&event("project.failed", json!({"project_id": "7"})), 1);
        assert_eq!(u.path.as_str(), "projects/7");
        assert_eq!(u.fields["status"], "failed");
    }

    #[test]
    fn an_event_without_its_id_field_is_only_logged() {
        let p = project(
            &event("project.completed", json!({})),
            UnixTime(0),
            "c",
            &crate::signature::BuiltinScheme::TwinActor.builtin_rules(),
        );
        assert_eq!(p, Projection::NoDocumentId { field: "project_id".into() });
    }

    #[test]
    fn credits_events_go_to_the_account_document() {
        let u = update(&event("credits.low", json!({"balance": 3})), 1);
        assert_eq!(u.path.as_str(), "account/credits");
        assert_eq!(u.fields["status"], "low");
    }

    #[test]
    fn a_terminal_status_survives_later_and_older_non_terminal_updates() {
        let mut doc = DocumentState::default();
        assert!(doc.merge(&update(&event("project.completed", json!({"project_id": 1})), 10)));
        assert!(!doc.merge(&update(&event("project.processing", json!({"project_id": 1, "progress": 5})), 20)));
        assert!(!doc.merge(&update(&event("project.created", json!({"project_id": 1})), 5)));
        assert_eq!(doc.data["status"], "completed");
        assert_eq!(doc.data["progress"], 100);
    }

    #[test]
    fn an_older_update_fills_fields_the_newer_one_did_not_set() {
        let mut doc = DocumentState::default();
        doc.merge(&update(&event("project.processing", json!({"project_id": 1, "progress": 50})), 20));
        doc.merge(&update(&event("project.created", json!({"project_id": 1, "title": "Intro"})), 10));
        assert_eq!(doc.data["status"], "processing");
        assert_eq!(doc.data["title"], "Intro");
    }

    #[test]
    fn within_one_second_the_later_stage_and_higher_progress_win_in_any_order() {
        let created = update(&event("project.created", json!({"project_id": 1})), 10);
        let mut at_30 = event("project.processing", json!({"project_id": 1, "progress": 30}));
        at_30.id = "evt_a".into();
        let mut at_20 = event("project.processing", json!({"project_id": 1, "progress": 20}));
        at_20.id = "evt_z".into();
        let (u30, u20) = (update(&at_30, 10), update(&at_20, 10));
        for order in [[&created, &u20, &u30], [&u30, &u20, &created], [&u20, &created, &u30]] {
            let mut doc = DocumentState::default();
            for u in order {
                doc.merge(u);
            }
            assert_eq!(doc.data["status"], "processing");
            assert_eq!(doc.data["progress"], 30);
        }
    }

    #[test]
    fn a_declared_lifecycle_decides_ties_within_one_instant_not_the_event_ids() {
        // Issue 19: `order.paid` (id evt_z) must not beat `order.shipped` (id evt_a) stamped
        // the same second, whatever their ids or arrival.
        let orders = ProjectionRule {
            status_from_type: true,
            statuses: ["created", "paid", "shipped", "delivered"].map(str::to_owned).to_vec(),
            terminal: Some(vec!["delivered".to_owned(), "cancelled".to_owned()]),
            ..ProjectionRule::new(&["order.*"], "orders", "order_id")
        };
        let at = |event: &Event| match project(event, UnixTime::from_secs(10), &event.id, std::slice::from_ref(&orders))
        {
            Projection::Update(u) => u,
            other => panic!("{other:?}"),
        };
        let mut paid = event("order.paid", json!({"order_id": 1}));
        paid.id = "evt_z".into();
        let mut shipped = event("order.shipped", json!({"order_id": 1}));
        shipped.id = "evt_a".into();
        let (paid, shipped) = (at(&paid), at(&shipped));
        for order in [[&paid, &shipped], [&shipped, &paid]] {
            let mut doc = DocumentState::default();
            for u in order {
                doc.merge(u);
            }
            assert_eq!(doc.data["status"], "shipped");
        }
        // Its terminal statuses are its own: `delivered` is final, `completed` means nothing.
        assert!(at(&event("order.delivered", json!({"order_id": 1}))).version.terminal);
        assert!(!at(&event("order.completed", json!({"order_id": 1}))).version.terminal);
        assert_eq!(orders.stage(Some("refunded")), 0, "a status it does not list comes first");
        let twice = ProjectionRule { statuses: vec!["a".into(), "a".into()], ..orders.clone() };
        assert_eq!(twice.validate(), Err(RuleError::Statuses));
    }

    #[test]
    fn rules_match_exact_types_and_prefixes() {
        let r = ProjectionRule::new(&["project.*", "voice.cloned"], "x", "id");
        assert!(r.matches("project.completed"));
        assert!(r.matches("voice.cloned"));
        assert!(!r.matches("voice.deleted"));
        assert!(!r.matches("projects.completed"));
    }
}
