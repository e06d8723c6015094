//! A captured delivery buys nothing: a replay of its signed content is a duplicate whatever
//! unsigned headers come with it (a fresh id, another event type), for every scheme and
//! every HMAC preset, on the providers' own deliveries (the test vectors).

use std::collections::BTreeMap;

use hookfeed_core::ledger::{ingest, Ingested, MemoryStore};
use hookfeed_core::source::{Source, SourceConfig};
use hookfeed_core::{verify_delivery, UnixTime, VerifiedDelivery};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    scheme: String,
    #[serde(default)]
    hmac: Option<serde_json::Value>,
    vectors: Vec<Vector>,
}

#[derive(Deserialize, Clone)]
struct Vector {
    secret: String,
    headers: BTreeMap<String, String>,
    body: String,
    now: i64,
    expect: String,
}

/// One provider's genuine delivery, as captured: its source, headers, body and time.
#[derive(Clone)]
struct Captured {
    label: String,
    source: Source,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now: UnixTime,
}

impl Captured {
    fn verify(&self, headers: &[(String, String)], now: UnixTime) -> Option<VerifiedDelivery> {
        verify_delivery(&self.source, &headers.to_vec(), &self.body, now).ok()
    }
}

/// Every vector that verifies into an event, with the source its file describes.
fn captured() -> Vec<Captured> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("vectors dir") {
        let path = entry.expect("entry").path();
        let file: VectorFile = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("parses");
        for v in file.vectors.into_iter().filter(|v| v.expect == "ok") {
            let mut config = serde_json::json!({"name": file.hmac.as_ref().map_or(file.scheme.clone(), |h| format!("hmac-{h}")),
                                               "scheme": file.scheme});
            if let Some(hmac) = &file.hmac {
                config["hmac"] = hmac.clone();
            }
            let config: SourceConfig = serde_json::from_value(config).expect("source config");
            let secret = v.secret.trim().to_owned();
            let Ok(source) = config.resolve(&move |_| Some(secret.clone())) else { continue };
            let captured = Captured {
                label: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                source,
                headers: v.headers.clone().into_iter().collect(),
                body: v.body.clone().into_bytes(),
                now: UnixTime::from_secs(v.now),
            };
            if captured.verify(&captured.headers, captured.now).is_some() {
                out.push(captured);
            }
        }
    }
    out
}

/// Deliveries signed as each built-in scheme's and each HMAC preset's provider would sign
/// them (the providers' own vectors above mostly carry bodies that are not events).
fn signed() -> Vec<Captured> {
    use hookfeed_core::signature::configured::presets;
    use hookfeed_core::signature::SigningInput;
    use hookfeed_core::BuiltinScheme;
    let now = UnixTime::from_secs(1_765_000_000);
    let at = now.to_rfc3339();
    let ms = now.as_millis();
    let secs = now.as_secs();
    let mut out = Vec::new();
    for scheme in BuiltinScheme::ALL {
        let source = crate::support::source(scheme, crate::support::secret_text(scheme));
        let event_type = hookfeed_core::samples::event_types(scheme).next().expect("a sample");
        let (headers, body) = crate::support::signed_sample(&source, event_type, "evt_captured", now, &[]);
        out.push(Captured { label: format!("{}.json", scheme.name()), source, headers, body, now });
    }
    // Two bodies between them carry every field a preset reads its id, type and time from.
    let bodies = [
        serde_json::json!({"id": "evt_1", "type": "job.done", "event_id": "evt_1", "event_type": "job.done",
            "status": "succeeded", "trigger": "FILE.UPLOADED", "action": "create", "webhookTimestamp": ms,
            "data": {"id": "d1", "conversation_id": "c1"}, "event_data": {"video_id": "v1"}, "created_at": at,
            "occurred_at": at, "event_timestamp": secs, "timestamp": ms}),
        serde_json::json!({"event_id": "evt_2", "event": {"type": "app_mention"}, "event_time": secs,
            "data": {"id": "d2"}, "created_at": secs}),
        serde_json::json!({"event": "charge.success", "data": {"id": "d3"}, "created_at": secs}),
    ];
    for (preset, _) in presets() {
        let config: SourceConfig = serde_json::from_value(
            serde_json::json!({"name": format!("hmac-{preset}"), "scheme": "hmac", "hmac": preset}),
        )
        .expect("source config");
        let Ok(profile) = hookfeed_core::signature::HmacProfile::preset(&preset) else { continue };
        let secret = hookfeed_core::signature::Scheme::example_secret(&profile).to_owned();
        let source = config.resolve(&move |_| Some(secret.clone())).expect("preset source");
        for body in &bodies {
            let body = serde_json::to_vec(body).expect("json");
            let input = SigningInput { body: &body, timestamp: now, event_id: "evt_hdr", event_type: "job.done" };
            let mut headers = source.scheme.implementation().sign(&input, &source.secrets);
            if headers.iter().any(|(name, _)| name == hookfeed_core::signature::URL_HEADER) {
                continue; // signs the request URL: covered by the Square vectors' own test
            }
            headers.sort();
            let captured =
                Captured { label: format!("hmac-{preset}.json"), source: source.clone(), headers, body, now };
            if captured.verify(&captured.headers, now).is_some() {
                out.push(captured);
                break;
            }
        }
    }
    out
}

/// Every captured delivery: the providers' vectors that are events, and signed samples.
fn all_captured() -> Vec<Captured> {
    let mut all = captured();
    all.extend(signed());
    all
}

#[test]
fn the_providers_captured_deliveries_cover_the_unsigned_id_and_type_headers() {
    let labels: Vec<String> = all_captured().into_iter().map(|c| c.label).collect();
    for needed in [
        "github.json",
        "stripe.json",
        "standard-webhooks.json",
        "percify.json",
        "twin-actor.json",
        "hmac-shopify.json",
        "hmac-razorpay.json",
        "hmac-heygen.json",
        "hmac-paystack.json",
        "hmac-linear.json",
        "hmac-slack.json",
    ] {
        assert!(labels.iter().any(|l| l == needed), "no verifying delivery from {needed}: {labels:?}");
    }
}

#[test]
fn a_github_delivery_replayed_with_a_fresh_delivery_id_and_another_event_is_a_duplicate() {
    let github = all_captured().into_iter().find(|c| c.label == "github.json").expect("a GitHub delivery");
    let first = github.verify(&github.headers, github.now).expect("verifies");
    let mut store = MemoryStore::default();
    let Ingested::Stored { seq, .. } = ingest(&mut store, &first, &github.source.rules).expect("in memory") else {
        panic!("stored")
    };
    let replayed: Vec<(String, String)> = github
        .headers
        .iter()
        .map(|(name, value)| match name.to_ascii_lowercase().as_str() {
            "x-github-delivery" => (name.clone(), "a-fresh-delivery-id".to_owned()),
            "x-github-event" => (name.clone(), "release".to_owned()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    // A year later: GitHub signs no time, so only the key stops it.
    let later = UnixTime::from_secs(github.now.as_secs() + 365 * 86_400);
    let replay = github.verify(&replayed, later).expect("the signature still holds: the headers are not signed");
    assert_ne!(replay.event().id, first.event().id);
    assert_eq!(ingest(&mut store, &replay, &github.source.rules).expect("in memory"), Ingested::Duplicate { seq });
    assert_eq!(store.event_count(), 1);
    assert!(!replay.time_protected(), "no clock protects a GitHub delivery: its key outlives the log");
}

/// Header values an attacker might send in place of the captured ones.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.:/-]{1,40}",
        Just("products/delete".to_owned()),
        Just("issues".to_owned()),
        Just("evt_fresh".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever an attacker puts in the headers of a captured delivery, what still
    /// verifies is the same delivery: a duplicate at the seq first stored, nothing new in
    /// the log or the documents.
    #[test]
    fn a_replay_that_still_verifies_is_a_duplicate_whatever_its_unsigned_headers(
        pick in any::<prop::sample::Index>(),
        replaced in prop::collection::vec((any::<prop::sample::Index>(), header_value()), 1..4),
        later_secs in 0i64..400 * 86_400,
    ) {
        let all = all_captured();
        let c = &all[pick.index(all.len())];
        let first = c.verify(&c.headers, c.now).expect("verifies");
        let mut store = MemoryStore::default();
        let Ingested::Stored { seq, .. } = ingest(&mut store, &first, &c.source.rules).expect("in memory") else {
            panic!("{}: stored", c.label)
        };
        let documents = store.documents();
        let mut headers = c.headers.clone();
        for (which, value) in &replaced {
            let i = which.index(headers.len());
            headers[i].1 = value.clone();
        }
        // Now, or much later: what a clock protects is refused, the rest verifies.
        for now in [c.now, UnixTime::from_secs(c.now.as_secs() + later_secs)] {
            if let Some(replay) = c.verify(&headers, now) {
                let outcome = ingest(&mut store, &replay, &c.source.rules).expect("in memory");
                prop_assert_eq!(&outcome, &Ingested::Duplicate { seq }, "{}: {:?}", c.label, headers);
                prop_assert_eq!(store.event_count(), 1);
                prop_assert_eq!(&store.documents(), &documents);
            }
        }
    }
}

/// Attack review (issue 17): a source whose replay window is wider than the log (the
/// design invites wide tolerances for providers that keep the first attempt's timestamp on
/// their retries). A captured delivery that still verifies after the log is pruned must
/// still find its replay key: keys are kept for the delivery's own window when it is
/// longer than the log.
#[test]
fn a_replay_that_verifies_after_the_log_is_pruned_still_has_its_key() {
    use hookfeed_core::ledger::retention::{replay_key_kept_until, DEFAULT_DAYS, DEFAULT_REPLAY_DAYS};
    use hookfeed_core::BuiltinScheme;
    for scheme in BuiltinScheme::ALL {
        for tolerance_days in [0, 1, 7, 30, 400] {
            let mut source = crate::support::source(scheme, crate::support::secret_text(scheme));
            source.tolerance_secs = tolerance_days * 86_400 + 300;
            let now = UnixTime::from_secs(1_765_000_000);
            let event_type = hookfeed_core::samples::event_types(scheme).next().expect("a sample");
            let (headers, body) = crate::support::signed_sample(&source, event_type, "evt_wide", now, &[]);
            let first = verify_delivery(&source, &headers, &body, now).expect("verifies");
            let kept = replay_key_kept_until(
                first.received_at(),
                first.replay_window_secs(),
                DEFAULT_DAYS,
                DEFAULT_REPLAY_DAYS,
            );
            if !first.time_protected() {
                // No clock (GitHub): the key is what stops a replay, for the replay retention.
                let days = i64::from(DEFAULT_REPLAY_DAYS);
                assert_eq!(kept, UnixTime::from_secs(now.as_secs() + days * 86_400), "{}", scheme.name());
                continue;
            }
            // Every day from the log's end to well past the widest window: whenever the
            // replay still verifies, its key is still kept.
            for day in i64::from(DEFAULT_DAYS)..900 {
                let later = UnixTime::from_secs(now.as_secs() + day * 86_400);
                if verify_delivery(&source, &headers, &body, later).is_ok() {
                    assert!(
                        later < kept,
                        "{}: tolerance {tolerance_days} d: a replay verifies on day {day} but its key is gone",
                        scheme.name()
                    );
                }
            }
        }
    }
}
