//! Exactly-once, convergent documents: any order of any duplicates ends in the same
//! documents; a terminal status never regresses; conflicts and per-source dedup.

use hookfeed_core::ledger::{ingest, Ingested, MemoryStore};
use hookfeed_core::{verify_delivery, BuiltinScheme, UnixTime, VerifiedDelivery};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{secret_text, signed_sample, source};

const NOW: i64 = 1_760_000_000;

#[derive(Debug, Clone)]
struct Spec {
    event_type: &'static str,
    project: u8,
    created_offset: i64,
    progress: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(vec!["project.created", "project.processing", "project.completed", "project.failed"]),
        1u8..4,
        0i64..20,
        0u8..=100,
    )
        .prop_map(|(event_type, project, created_offset, progress)| Spec {
            event_type,
            project,
            created_offset,
            progress,
        })
}

fn deliver(specs: &[Spec]) -> Vec<VerifiedDelivery> {
    deliveries_of(specs, true)
}

/// Deliveries of `specs`, each with a field of its own (`note`) or, without, only the
/// values they share: two events may then write the same value to a field.
fn deliveries_of(specs: &[Spec], note: bool) -> Vec<VerifiedDelivery> {
    let src = source(BuiltinScheme::TwinActor, "s");
    let now = UnixTime::from_secs(NOW);
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let created = UnixTime::from_secs(NOW - 100 + s.created_offset);
            let mut overrides = vec![
                ("project_id".to_owned(), Value::from(s.project)),
                ("progress".to_owned(), Value::from(s.progress)),
            ];
            if note {
                overrides.push(("note".to_owned(), Value::from(format!("event {i}"))));
            }
            let (_, body) = signed_sample(&src, s.event_type, &format!("evt_{i}"), created, &overrides);
            // Sign time is arrival time for this test; ordering comes from the body.
            let headers = resign(&src, &[], &body, now, s.event_type, &format!("evt_{i}"));
            verify_delivery(&src, &headers, &body, now).expect("verifies")
        })
        .collect()
}

fn resign(
    src: &hookfeed_core::Source,
    _old: &[(String, String)],
    body: &[u8],
    now: UnixTime,
    event_type: &str,
    event_id: &str,
) -> Vec<(String, String)> {
    src.scheme
        .implementation()
        .sign(&hookfeed_core::signature::SigningInput { body, timestamp: now, event_id, event_type }, &src.secrets)
}

fn apply(deliveries: &[&VerifiedDelivery]) -> MemoryStore {
    let rules = source(BuiltinScheme::TwinActor, "s").rules;
    let mut store = MemoryStore::default();
    for d in deliveries {
        ingest(&mut store, d, &rules).expect("in memory");
    }
    store
}

/// Every delivery repeated by its count, in two independent shuffles.
fn two_orders() -> impl Strategy<Value = (Vec<Spec>, Vec<usize>, Vec<usize>)> {
    prop::collection::vec((spec(), 1usize..4), 1..12).prop_flat_map(|items| {
        let specs: Vec<Spec> = items.iter().map(|(s, _)| s.clone()).collect();
        let sequence: Vec<usize> =
            items.iter().enumerate().flat_map(|(i, (_, copies))| std::iter::repeat_n(i, *copies)).collect();
        (Just(specs), Just(sequence.clone()).prop_shuffle(), Just(sequence).prop_shuffle())
    })
}

/// Like [`two_orders`], with values that repeat: few progress values, few times (ties in
/// the same second among them), no field of an event's own.
fn two_orders_of_repeated_values() -> impl Strategy<Value = (Vec<Spec>, Vec<usize>, Vec<usize>)> {
    let repeated = (
        prop::sample::select(vec!["project.processing", "project.processing", "project.created", "project.completed"]),
        Just(1u8),
        0i64..4,
        prop::sample::select(vec![30u8, 50]),
    )
        .prop_map(|(event_type, project, created_offset, progress)| Spec {
            event_type,
            project,
            created_offset,
            progress,
        });
    prop::collection::vec((repeated, 1usize..3), 1..8).prop_flat_map(|items| {
        let specs: Vec<Spec> = items.iter().map(|(s, _)| s.clone()).collect();
        let sequence: Vec<usize> =
            items.iter().enumerate().flat_map(|(i, (_, copies))| std::iter::repeat_n(i, *copies)).collect();
        (Just(specs), Just(sequence.clone()).prop_shuffle(), Just(sequence).prop_shuffle())
    })
}

#[test]
fn a_newer_event_writing_the_value_already_held_still_beats_an_older_one_arriving_later() {
    // Issue 19's example: E1 progress 50 (t-30), E3 progress 50 (t-10), E2 progress 30 (t-20).
    let specs = [
        Spec { event_type: "project.processing", project: 1, created_offset: 70, progress: 50 },
        Spec { event_type: "project.processing", project: 1, created_offset: 80, progress: 30 },
        Spec { event_type: "project.processing", project: 1, created_offset: 90, progress: 50 },
    ];
    let d = deliveries_of(&specs, false);
    let in_order = apply(&[&d[0], &d[1], &d[2]]);
    let e3_before_e2 = apply(&[&d[0], &d[2], &d[1]]);
    assert_eq!(in_order.documents()["projects/1"]["progress"], json!(50));
    assert_eq!(e3_before_e2.documents(), in_order.documents());
    // And E2, arriving after E3, is reported late.
    let rules = source(BuiltinScheme::TwinActor, "s").rules;
    let mut store = MemoryStore::default();
    for x in [&d[0], &d[2]] {
        ingest(&mut store, x, &rules).expect("in memory");
    }
    let late = ingest(&mut store, &d[1], &rules).expect("in memory");
    assert!(matches!(late, Ingested::Stored { late: true, change: None, .. }), "{late:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With repeated values and ties, as well as unique ones: any order ends the same.
    #[test]
    fn any_order_of_events_repeating_values_ends_in_the_same_documents((specs, order_a, order_b) in two_orders_of_repeated_values()) {
        let deliveries = deliveries_of(&specs, false);
        let a = apply(&order_a.iter().map(|&i| &deliveries[i]).collect::<Vec<_>>());
        let b = apply(&order_b.iter().map(|&i| &deliveries[i]).collect::<Vec<_>>());
        prop_assert_eq!(a.documents(), b.documents());
    }

    #[test]
    fn any_order_of_any_duplicates_ends_in_the_same_documents((specs, order_a, order_b) in two_orders()) {
        let deliveries = deliver(&specs);
        let a = apply(&order_a.iter().map(|&i| &deliveries[i]).collect::<Vec<_>>());
        let b = apply(&order_b.iter().map(|&i| &deliveries[i]).collect::<Vec<_>>());
        prop_assert_eq!(a.documents(), b.documents());
        prop_assert_eq!(a.event_count(), specs.len());
    }

    #[test]
    fn a_terminal_status_never_regresses((specs, order, _) in two_orders()) {
        let deliveries = deliver(&specs);
        let rules = source(BuiltinScheme::TwinActor, "s").rules;
        let mut store = MemoryStore::default();
        let mut terminal: std::collections::BTreeMap<String, ()> = Default::default();
        for &i in &order {
            ingest(&mut store, &deliveries[i], &rules).expect("in memory");
            for (path, doc) in store.documents() {
                let status = doc.get("status").and_then(Value::as_str).unwrap_or_default();
                let is_terminal = status == "completed" || status == "failed";
                prop_assert!(is_terminal || !terminal.contains_key(&path), "{} regressed to {}", path, status);
                if is_terminal {
                    terminal.insert(path, ());
                }
            }
        }
    }
}

#[test]
fn a_duplicate_is_reported_and_changes_nothing() {
    let specs = [Spec { event_type: "project.completed", project: 1, created_offset: 0, progress: 0 }];
    let deliveries = deliver(&specs);
    let rules = source(BuiltinScheme::TwinActor, "s").rules;
    let mut store = MemoryStore::default();
    let first = ingest(&mut store, &deliveries[0], &rules).expect("in memory");
    let Ingested::Stored { seq, change: Some(_), .. } = first else { panic!("stored: {first:?}") };
    assert_eq!(ingest(&mut store, &deliveries[0], &rules).expect("in memory"), Ingested::Duplicate { seq });
}

#[test]
fn the_same_id_with_another_body_is_a_conflict_and_the_first_stands() {
    let src = source(BuiltinScheme::TwinActor, "s");
    let now = UnixTime::from_secs(NOW);
    let mut store = MemoryStore::default();
    let (h1, b1) = signed_sample(&src, "project.completed", "evt_same", now, &[]);
    let (h2, b2) = signed_sample(&src, "project.failed", "evt_same", now, &[]);
    let first = verify_delivery(&src, &h1, &b1, now).expect("verifies");
    let second = verify_delivery(&src, &h2, &b2, now).expect("verifies");
    let Ingested::Stored { seq, .. } = ingest(&mut store, &first, &src.rules).expect("in memory") else {
        panic!("stored")
    };
    assert_eq!(ingest(&mut store, &second, &src.rules).expect("in memory"), Ingested::Conflict { seq });
    assert_eq!(store.documents()["projects/42"]["status"], json!("completed"));
}

#[test]
fn dedup_keys_are_per_source() {
    let twin = source(BuiltinScheme::TwinActor, "s");
    let percify = source(BuiltinScheme::Percify, "s");
    let now = UnixTime::from_secs(NOW);
    let mut store = MemoryStore::default();
    for src in [&twin, &percify] {
        let event_type = if src.scheme == BuiltinScheme::TwinActor { "project.completed" } else { "video.completed" };
        let (headers, body) = signed_sample(src, event_type, "evt_abc123", now, &[]);
        let delivery = verify_delivery(src, &headers, &body, now).expect("verifies");
        let outcome = ingest(&mut store, &delivery, &src.rules).expect("in memory");
        assert!(matches!(outcome, Ingested::Stored { .. }), "{}: {outcome:?}", src.name);
    }
    assert_eq!(store.event_count(), 2);
}

#[test]
fn a_late_older_event_is_logged_but_overwrites_nothing_newer() {
    let specs = [
        Spec { event_type: "project.completed", project: 1, created_offset: 10, progress: 0 },
        Spec { event_type: "project.processing", project: 1, created_offset: 5, progress: 30 },
    ];
    let deliveries = deliver(&specs);
    let rules = source(BuiltinScheme::TwinActor, "s").rules;
    let mut store = MemoryStore::default();
    let first = ingest(&mut store, &deliveries[0], &rules).expect("in memory");
    assert!(matches!(first, Ingested::Stored { late: false, .. }), "{first:?}");
    let late = ingest(&mut store, &deliveries[1], &rules).expect("in memory");
    assert!(matches!(late, Ingested::Stored { late: true, .. }), "the log shows it as out of order: {late:?}");
    assert_eq!(store.event_count(), 2);
    let doc = &store.documents()["projects/1"];
    assert_eq!(doc["status"], json!("completed"));
    assert_eq!(doc["progress"], json!(100));
    assert_eq!(doc["note"], json!("event 0"));
    // Fields only the older event has fill in: where a field lands must not depend on
    // arrival order, or replicas would diverge.
    assert_eq!(doc["current_scene"], json!(2));
}

/// A store whose document writes fail, as a full or unavailable disk would.
struct FailingStore(MemoryStore);

impl hookfeed_core::ledger::FeedStore for FailingStore {
    type Error = &'static str;

    fn append_event(
        &mut self,
        entry: &hookfeed_core::ledger::LogEntry<'_>,
    ) -> Result<hookfeed_core::ledger::Appended, Self::Error> {
        self.0.append_event(entry).map_err(|never| match never {})
    }

    fn load_document(
        &mut self,
        path: &hookfeed_core::path::DocPath,
    ) -> Result<Option<hookfeed_core::projection::DocumentState>, Self::Error> {
        self.0.load_document(path).map_err(|never| match never {})
    }

    fn save_document(
        &mut self,
        _: &hookfeed_core::path::DocPath,
        _: &hookfeed_core::projection::DocumentState,
        _: Option<u64>,
    ) -> Result<(), Self::Error> {
        Err("disk full")
    }
}

#[test]
fn a_storage_failure_is_reported_not_acknowledged() {
    let specs = [Spec { event_type: "project.completed", project: 1, created_offset: 0, progress: 0 }];
    let deliveries = deliver(&specs);
    let rules = source(BuiltinScheme::TwinActor, "s").rules;
    let mut store = FailingStore(MemoryStore::default());
    // The caller (the Worker) runs ingest in one transaction and answers 503 on this error,
    // so the log row appended before the failure is rolled back with it.
    assert_eq!(ingest(&mut store, &deliveries[0], &rules), Err("disk full"));
}

/// Owner scopes read a document field; a provider that does not echo the customer's user id
/// leaves it to the customer's backend, which signs its own event into the same document
/// through a Standard Webhooks source. Whichever arrives first, the document ends with
/// both the provider's status and the backend's owner.
#[test]
fn a_backends_own_event_gives_a_providers_document_its_owner_in_any_order() {
    let twin = source(BuiltinScheme::TwinActor, "s");
    let config: hookfeed_core::source::SourceConfig = serde_json::from_value(json!({
        "name": "backend", "scheme": "standard-webhooks",
        "rules": [{"types": ["project.owner"], "collection": "projects", "id_field": "project_id"}]
    }))
    .expect("valid config");
    let backend =
        config.resolve(&|_| Some(secret_text(BuiltinScheme::StandardWebhooks).to_owned())).expect("usable source");
    let now = UnixTime::from_secs(NOW);
    let (headers, body) =
        signed_sample(&twin, "project.completed", "evt_twin", now, &[("project_id".to_owned(), json!(7))]);
    let provider = verify_delivery(&twin, &headers, &body, now).expect("verifies");
    let owner_body = json!({"type": "project.owner", "timestamp": "2025-10-09T08:50:00Z",
                             "data": {"project_id": 7, "user_id": "alice"}})
    .to_string();
    let owner_headers = backend.scheme.implementation().sign(
        &hookfeed_core::signature::SigningInput {
            body: owner_body.as_bytes(),
            timestamp: now,
            event_id: "msg_owner_7",
            event_type: "project.owner",
        },
        &backend.secrets,
    );
    let owner = verify_delivery(&backend, &owner_headers, owner_body.as_bytes(), now).expect("verifies");
    let (provider, owner) = ((&provider, &twin.rules), (&owner, &backend.rules));
    for order in [[provider, owner], [owner, provider]] {
        let mut store = MemoryStore::default();
        for (delivery, rules) in order {
            ingest(&mut store, delivery, rules).expect("in memory");
        }
        let doc = &store.documents()["projects/7"];
        assert_eq!((&doc["user_id"], &doc["status"]), (&json!("alice"), &json!("completed")), "{doc:?}");
    }
}

/// A GitHub source that projects `issues.*` into `issues/{issue.number}`, its events'
/// time at `issue.updated_at`.
fn github_issues(created: bool) -> Result<hookfeed_core::Source, hookfeed_core::source::ConfigError> {
    let mut config = json!({"name": "gh", "scheme": "github",
        "rules": [{"types": ["issues.*"], "collection": "issues", "id_field": "issue.number"}]});
    if created {
        config["created"] = json!({"field": "issue.updated_at", "format": "rfc3339"});
    }
    let config: hookfeed_core::source::SourceConfig = serde_json::from_value(config).expect("config");
    config.resolve(&|_| Some("gh-secret".to_owned()))
}

fn github_delivery(
    src: &hookfeed_core::Source,
    id: &str,
    body: &Value,
    now: UnixTime,
) -> Result<VerifiedDelivery, String> {
    let body = serde_json::to_vec(body).expect("json");
    let input =
        hookfeed_core::signature::SigningInput { body: &body, timestamp: now, event_id: id, event_type: "issues" };
    let headers = src.scheme.implementation().sign(&input, &src.secrets);
    verify_delivery(src, &headers, &body, now).map_err(|e| e.to_string())
}

#[test]
fn a_source_that_projects_events_without_a_time_must_say_where_their_time_is() {
    let err = github_issues(false).expect_err("no time to order by");
    assert!(err.to_string().contains("\"created\""), "{err}");
    let src = github_issues(true).expect("with created");
    let now = UnixTime::from_secs(NOW);
    // A projected event without its time is refused (400), not applied by arrival.
    let untimed = github_delivery(&src, "d1", &json!({"action": "opened", "issue": {"number": 1}}), now);
    assert!(untimed.expect_err("refused").contains("says nothing of when it happened"));
    // An event no rule projects needs none (GitHub's `ping`).
    assert!(github_delivery(&src, "d2", &json!({"zen": "Keep it logically awesome."}), now).is_ok());
    // A Twin.Actor event without `created_at` is refused too: its signed `t` is the attempt's.
    let twin = source(BuiltinScheme::TwinActor, "s");
    let body = br#"{"id":"evt_1","type":"project.processing","data":{"project_id":1}}"#;
    let input = hookfeed_core::signature::SigningInput {
        body,
        timestamp: now,
        event_id: "evt_1",
        event_type: "project.processing",
    };
    let headers = twin.scheme.implementation().sign(&input, &twin.secrets);
    let refused = verify_delivery(&twin, &headers, body, now).expect_err("no created_at");
    assert_eq!(refused.code(), "missing_field");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// A retried older GitHub event arriving after a newer one loses: its time comes from
    /// the body, whatever the arrival order (and with repeated times, the stated tiebreak).
    #[test]
    fn github_issues_converge_in_any_arrival_order(
        edits in prop::collection::vec((0i64..5, prop::sample::select(vec!["a", "b", "c"])), 1..7),
        seed in any::<u64>(),
    ) {
        let src = github_issues(true).expect("config");
        let now = UnixTime::from_secs(NOW);
        let deliveries: Vec<VerifiedDelivery> = edits
            .iter()
            .enumerate()
            .map(|(i, (offset, title))| {
                let at = UnixTime::from_secs(NOW - 100 + offset).to_rfc3339();
                let body = json!({"action": "edited", "issue": {"number": 7, "title": title, "updated_at": at}});
                github_delivery(&src, &format!("d{i}"), &body, now).expect("verifies")
            })
            .collect();
        let mut order: Vec<usize> = (0..deliveries.len()).collect();
        let mut state = seed;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let ingest_all = |ids: &[usize]| {
            let mut store = MemoryStore::default();
            for &i in ids {
                ingest(&mut store, &deliveries[i], &src.rules).expect("in memory");
            }
            store.documents()
        };
        prop_assert_eq!(ingest_all(&order), ingest_all(&(0..deliveries.len()).collect::<Vec<_>>()));
    }
}
