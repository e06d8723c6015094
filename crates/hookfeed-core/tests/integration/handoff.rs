//! The edge Worker verifies; the feed rebuilds the delivery from the hand-off and the raw
//! body. Both must end with the same event, for every scheme.

use hookfeed_core::delivery::{Handoff, VerifiedDelivery};
use hookfeed_core::{verify_delivery, BuiltinScheme, DeliveryError, UnixTime};

use crate::support::{secret_text, signed_sample, source};

#[test]
fn a_feed_rebuilds_exactly_the_delivery_the_edge_verified_for_every_sample_of_every_scheme() {
    let now = UnixTime::from_secs(1_764_000_000);
    let mut schemes = std::collections::BTreeSet::new();
    for sample in hookfeed_core::samples::all() {
        let (scheme, event_type) = (sample.scheme, sample.event_type);
        schemes.insert(scheme.name());
        let source = source(scheme, secret_text(scheme));
        let (headers, body) = signed_sample(&source, event_type, "evt_handoff_1", now, &[]);
        let at_edge = verify_delivery(&source, &headers, &body, now).expect("verifies at the edge");
        // The hand-off travels as a header: JSON text, through serde, as the Worker sends it.
        let text = serde_json::to_string(&at_edge.handoff()).expect("serializes");
        let handoff: Handoff = serde_json::from_str(&text).expect("parses");
        let at_feed = VerifiedDelivery::from_handoff(&source, &handoff, body.clone()).expect("rebuilds");
        assert_eq!(at_feed.event(), at_edge.event(), "{scheme}");
        assert_eq!(at_feed.raw(), at_edge.raw(), "{scheme}");
        assert_eq!(at_feed.ordered_at(), at_edge.ordered_at(), "{scheme}");
        assert_eq!(at_feed.received_at(), now, "{scheme}");
    }
    assert_eq!(schemes.len(), 5, "every scheme has a sample: {schemes:?}");
}

#[test]
fn a_percify_delivery_without_created_is_refused_it_would_have_no_replay_window() {
    let source = source(BuiltinScheme::Percify, secret_text(BuiltinScheme::Percify));
    let now = UnixTime::from_secs(1_764_000_000);
    let body = br#"{"id":"evt_1","type":"video.completed","data":{"videoId":"v1"}}"#;
    let signing = hookfeed_core::signature::SigningInput { body, timestamp: now, event_id: "evt_1", event_type: "t" };
    let headers = source.scheme.implementation().sign(&signing, &source.secrets);
    let refused = verify_delivery(&source, &headers, body, now).expect_err("no created");
    assert!(matches!(refused, DeliveryError::Event(_)), "{refused:?}");
    assert_eq!(refused.code(), "missing_field");
    assert!(refused.to_string().contains("created"));
}

#[test]
fn a_hand_off_reads_whether_its_absent_values_are_null_or_left_out() {
    let with_nulls: Handoff = serde_json::from_str(
        r#"{"source":"percify","signed_at":null,"received_at":5,"event_id":null,"event_type":null,"signed_context":null}"#,
    )
    .expect("nulls read");
    let left_out: Handoff = serde_json::from_str(r#"{"source":"percify","received_at":5}"#).expect("missing keys read");
    assert_eq!(with_nulls, left_out);
    assert_eq!(left_out.event_id, None);
}
