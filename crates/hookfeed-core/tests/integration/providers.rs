//! Both providers' documented deliveries: every example in their docs and every sample
//! parses, verifies once signed, and projects into the collection the README's built-in
//! rules name.
//!
//! The docs' examples are kept as data in `tests/providers/<scheme>.json`, byte for byte,
//! each naming the page and section it came from, so that this test runs in any clone.

use hookfeed_core::ledger::{ingest, Ingested, MemoryStore};
use hookfeed_core::samples;
use hookfeed_core::signature::SigningInput;
use hookfeed_core::{verify_delivery, BuiltinScheme, UnixTime};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::{secret_text, signed_sample, source};

/// One provider's documented example deliveries (`tests/providers/<scheme>.json`).
#[derive(Deserialize)]
struct DocumentedExamples {
    scheme: BuiltinScheme,
    examples: Vec<DocumentedExample>,
}

#[derive(Deserialize)]
struct DocumentedExample {
    /// The documentation page and section the body was copied from.
    source: String,
    /// The example, exactly as the page prints it.
    body: String,
}

#[test]
fn every_example_delivery_in_the_provider_docs_verifies_once_signed() {
    for (file, text, scheme, count) in [
        ("twin-actor.json", include_str!("../providers/twin-actor.json"), BuiltinScheme::TwinActor, 4),
        ("percify.json", include_str!("../providers/percify.json"), BuiltinScheme::Percify, 11),
    ] {
        let documented: DocumentedExamples = serde_json::from_str(text).expect("example file parses");
        assert_eq!(documented.scheme, scheme, "{file}");
        assert_eq!(documented.examples.len(), count, "{file}: every example on the page, no more");
        let src = source(scheme, secret_text(scheme));
        for example in documented.examples {
            let (body, origin) = (&example.body, &example.source);
            assert!(origin.contains("documentation"), "{file}: {origin:?} names no documentation page");
            let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{origin}: {e}"));
            let event_type = value["type"].as_str().expect("type");
            let event_id = value["id"].as_str().expect("id");
            let created = value.get("created").or(value.get("created_at")).and_then(Value::as_str);
            let now = created.and_then(UnixTime::parse_rfc3339).expect("documented created time");
            let headers = scheme
                .implementation()
                .sign(&SigningInput { body: body.as_bytes(), timestamp: now, event_id, event_type }, &src.secrets);
            let delivery =
                verify_delivery(&src, &headers, body.as_bytes(), now).unwrap_or_else(|e| panic!("{origin}: {e}"));
            assert_eq!(delivery.event().event_type, event_type);
            assert!(
                hookfeed_core::samples::sample(scheme, event_type).is_some(),
                "{origin}: no sample for documented type {event_type}"
            );
        }
    }
}

#[test]
fn every_sample_verifies_and_projects_into_its_documented_collection() {
    let expected_collection = |scheme: BuiltinScheme, event_type: &str| -> Option<&str> {
        let family = event_type.split('.').next().unwrap_or_default();
        Some(match (scheme, family) {
            (BuiltinScheme::TwinActor, "project") => "projects",
            (BuiltinScheme::TwinActor, "voice_clone") => "voice_clones",
            (BuiltinScheme::TwinActor, "credits") => "account",
            (BuiltinScheme::Percify, "avatar") => "avatars",
            (BuiltinScheme::Percify, "video") => "videos",
            (BuiltinScheme::Percify, "audio") => "audio",
            (BuiltinScheme::Percify, "voice") => "voices",
            (BuiltinScheme::Percify, "credits" | "tier") => "users",
            _ => return None,
        })
    };
    let now = UnixTime::from_secs(1_760_000_000);
    for sample in samples::all() {
        let src = source(sample.scheme, secret_text(sample.scheme));
        let (headers, body) = signed_sample(&src, sample.event_type, "evt_sample_1", now, &[]);
        let delivery = verify_delivery(&src, &headers, &body, now)
            .unwrap_or_else(|e| panic!("{} {}: {e}", sample.scheme, sample.event_type));
        let mut store = MemoryStore::default();
        let outcome = ingest(&mut store, &delivery, &src.rules).expect("in memory");
        let Ingested::Stored { change, .. } = outcome else { panic!("first delivery must be stored") };
        match expected_collection(sample.scheme, sample.event_type) {
            Some(collection) => {
                let change = change.unwrap_or_else(|| panic!("{} projects nothing", sample.event_type));
                assert_eq!(change.path.collection(), collection, "{}", sample.event_type);
            }
            None => assert!(change.is_none(), "{} {} has no built-in rule", sample.scheme, sample.event_type),
        }
    }
}

#[test]
fn the_twin_actor_listener_example_finds_its_fields() {
    // The docs' Firestore listener reads status, progress and final_video_url.
    let src = source(BuiltinScheme::TwinActor, "s");
    let mut store = MemoryStore::default();
    let t0 = UnixTime::from_secs(1_710_929_700);
    for (i, event_type) in ["project.created", "project.processing", "project.completed"].into_iter().enumerate() {
        let at = UnixTime::from_secs(t0.as_secs() + i as i64 * 60);
        let (headers, body) = signed_sample(&src, event_type, &format!("evt_{i}"), at, &[]);
        let delivery = verify_delivery(&src, &headers, &body, at).expect("verifies");
        ingest(&mut store, &delivery, &src.rules).expect("in memory");
    }
    let doc = &store.documents()["projects/42"];
    assert_eq!(doc["status"], json!("completed"));
    assert_eq!(doc["progress"], json!(100));
    assert_eq!(doc["final_video_url"], json!("https://storage.twin.actor/videos/project_42_final.mp4"));
}

#[test]
fn a_test_event_with_only_an_id_and_a_status_is_stored() {
    // The Percify docs' "Send Test Event" body: no userId, no URLs.
    let body = br#"{"type":"avatar.completed","id":"evt_test123","created":"2025-11-25T07:00:00Z","data":{"avatarId":"avatar_test","status":"completed"}}"#;
    let src = source(BuiltinScheme::Percify, "s");
    let now = UnixTime::parse_rfc3339("2025-11-25T07:00:05Z").expect("time");
    let headers = BuiltinScheme::Percify.implementation().sign(
        &SigningInput { body, timestamp: now, event_id: "evt_test123", event_type: "avatar.completed" },
        &src.secrets,
    );
    let delivery = verify_delivery(&src, &headers, body, now).expect("verifies");
    let mut store = MemoryStore::default();
    ingest(&mut store, &delivery, &src.rules).expect("in memory");
    assert_eq!(store.documents()["avatars/avatar_test"]["status"], json!("completed"));
}

#[test]
fn percify_replays_outside_the_window_on_created_are_refused() {
    let src = source(BuiltinScheme::Percify, "s");
    let created = UnixTime::from_secs(1_760_000_000);
    let (headers, body) = signed_sample(&src, "video.completed", "evt_old", created, &[]);
    let two_days_later = UnixTime::from_secs(created.as_secs() + 2 * 24 * 3600);
    let err = verify_delivery(&src, &headers, &body, two_days_later).expect_err("stale");
    assert_eq!(err.code(), "timestamp_too_old");
}

#[test]
fn twin_actor_headers_must_match_the_signed_body() {
    let src = source(BuiltinScheme::TwinActor, "s");
    let now = UnixTime::from_secs(1_760_000_000);
    let (mut headers, body) = signed_sample(&src, "project.completed", "evt_real", now, &[]);
    for (name, value) in &mut headers {
        if name == "X-Webhook-ID" {
            *value = "evt_other".into();
        }
    }
    let err = verify_delivery(&src, &headers, &body, now).expect_err("mismatch");
    assert_eq!(err.code(), "header_body_mismatch");
}

#[test]
fn signed_bodies_that_are_not_events_are_refused_as_bad_requests() {
    let src = source(BuiltinScheme::Stripe, secret_text(BuiltinScheme::Stripe));
    let now = UnixTime::from_secs(1_760_000_000);
    for (body, code) in [
        (&b"not json"[..], "invalid_json"),
        (b"[1,2]", "invalid_json"),
        (br#"{"type":"x"}"#, "missing_field"),
        (br#"{"id":"evt_1"}"#, "missing_field"),
        (br#"{"id":"","type":"x"}"#, "invalid_field"),
        (br#"{"id":"evt_1","type":"x","created":"yesterday"}"#, "invalid_field"),
    ] {
        let headers = BuiltinScheme::Stripe
            .implementation()
            .sign(&SigningInput { body, timestamp: now, event_id: "evt_1", event_type: "x" }, &src.secrets);
        let err = verify_delivery(&src, &headers, body, now).expect_err("not an event");
        assert!(matches!(err, hookfeed_core::DeliveryError::Event(_)), "{err:?}");
        assert_eq!(err.code(), code, "{}", String::from_utf8_lossy(body));
    }
}

/// Issue 20's attack review: once event parsing moved, a Twin.Actor delivery whose unsigned
/// id header disagreed with its signed body was answered by its body's other faults (400
/// `invalid_field` for a bad `created_at`) instead of as the mismatch it is (401).
#[test]
fn a_twin_actor_header_mismatch_is_refused_as_a_mismatch_whatever_the_bodys_created_at() {
    let twin = source(BuiltinScheme::TwinActor, secret_text(BuiltinScheme::TwinActor));
    let now = UnixTime::from_secs(1_764_000_000);
    let body = serde_json::to_vec(&json!({
        "id": "evt_1", "type": "project.completed", "created_at": "not a time", "data": {"project_id": 1}
    }))
    .expect("json");
    let input = SigningInput { body: &body, timestamp: now, event_id: "evt_1", event_type: "project.completed" };
    for (header, forged) in [("X-Webhook-ID", "evt_someone_else"), ("X-Webhook-Event", "project.failed")] {
        let mut headers = twin.scheme.implementation().sign(&input, &twin.secrets);
        for (name, value) in &mut headers {
            if name == header {
                *value = forged.to_owned();
            }
        }
        let refused = verify_delivery(&twin, &headers, &body, now).expect_err("refused");
        assert_eq!(refused.code(), "header_body_mismatch", "{header}: {refused}");
    }
    // With headers that agree, the body's own fault is what is refused.
    let headers = twin.scheme.implementation().sign(&input, &twin.secrets);
    let refused = verify_delivery(&twin, &headers, &body, now).expect_err("refused");
    assert_eq!(refused.code(), "invalid_field");
}
