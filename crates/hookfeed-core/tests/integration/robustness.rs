//! Every parser of outside input, fed arbitrary bytes: signature headers, event bodies,
//! tokens and protocol frames. None may panic; all must answer with a typed error.

use hookfeed_core::protocol::parse_client_message;
use hookfeed_core::signature::ReplayWindow;
use hookfeed_core::token::verify_token;
use hookfeed_core::{verify_delivery, Scheme, Secret, UnixTime};
use proptest::prelude::*;

use crate::support::{secret_text, source};

fn header_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "X-Percify-Signature",
        "X-Webhook-Signature",
        "X-Webhook-ID",
        "X-Webhook-Event",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Stripe-Signature",
        "X-Hub-Signature-256",
        "X-GitHub-Delivery",
        "X-GitHub-Event",
    ])
    .prop_map(str::to_owned)
}

/// Header values shaped like the real ones, then mangled.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "(t=[0-9]{0,12},?)?(v1=[0-9a-f]{0,70},?){0,3}",
        "(v1,[A-Za-z0-9+/=]{0,50} ?){0,3}",
        "sha256=[0-9a-fA-F]{0,70}",
        "[0-9]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_headers_and_bodies_never_panic_the_verifier(
        scheme in prop::sample::select(Scheme::ALL.to_vec()),
        headers in prop::collection::vec((header_name(), header_value()), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
        tolerance in any::<u64>(),
    ) {
        let window = ReplayWindow { now: UnixTime(now), tolerance_secs: tolerance };
        let _ = scheme.verifier().verify(&headers, &body, &[Secret::from_bytes("k")], window);
        let src = source(scheme, secret_text(scheme));
        let _ = verify_delivery(&src, &headers, &body, UnixTime(now));
    }

    #[test]
    fn arbitrary_json_bodies_with_a_valid_signature_never_panic_event_parsing(
        scheme in prop::sample::select(Scheme::ALL.to_vec()),
        body in prop_oneof![
            "\\{(\"(id|type|created|created_at|timestamp|data|action)\":(\"[^\"]{0,30}\"|[0-9]{1,25}|null|\\{\\}|\\[\\]),?){0,6}\\}",
            ".{0,100}",
        ],
    ) {
        let src = source(scheme, secret_text(scheme));
        let now = UnixTime::from_secs(1_760_000_000);
        let headers = scheme.verifier().sign(
            &hookfeed_core::signature::SigningInput { body: body.as_bytes(), timestamp: now, event_id: "evt_1", event_type: "t" },
            &src.secrets,
        );
        let _ = verify_delivery(&src, &headers, body.as_bytes(), now);
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panicking(
        token in prop_oneof![".{0,300}", "hf1\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,50}"],
        now in any::<i64>(),
    ) {
        prop_assert!(verify_token(&token, &[Secret::from_bytes("k")], Some("default"), UnixTime(now)).is_err());
    }

    #[test]
    fn arbitrary_protocol_frames_never_panic_the_parser(
        frame in prop_oneof![
            ".{0,300}",
            "\\{\"type\":\"(listen|unlisten)\",\"id\":[0-9]{1,12}(,\"target\":\\{(\"doc\":\"[a-z/0-9.]{0,20}\"|\"collection\":\"[a-z]{0,8}\",\"where\":\\[\\{\"field\":\"a\",\"op\":\"[=<>!a-z-]{1,18}\",\"value\":[0-9]{1,3}\\}\\])\\})?(,\"since\":-?[0-9]{1,22})?\\}",
        ],
    ) {
        let _ = parse_client_message(&frame);
    }
}
