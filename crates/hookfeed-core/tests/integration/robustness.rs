//! Every parser of outside input, fed arbitrary bytes: signature headers, event bodies,
//! tokens, protocol frames, document paths and configuration. None may panic; all must
//! answer with a typed error.
//!
//! The fuzz targets (`fuzz/`, `bash scripts/fuzz.sh`) run the same harness for minutes
//! with coverage guidance; here each runs on its seeds and on a few thousand shaped
//! inputs, so `cargo test` catches a regression without cargo-fuzz.

use std::path::Path;

use hookfeed_core::protocol::parse_client_message;
use hookfeed_core::signature::ReplayWindow;
use hookfeed_core::token::verify_token;
use hookfeed_core::{verify_delivery, BuiltinScheme, Secret, UnixTime};
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
        scheme in prop::sample::select(BuiltinScheme::ALL.to_vec()),
        headers in prop::collection::vec((header_name(), header_value()), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
        tolerance in any::<u64>(),
    ) {
        let window = ReplayWindow { now: UnixTime(now), tolerance_secs: tolerance };
        let _ = scheme.implementation().verify(&headers, &body, &[Secret::from_bytes("k")], window);
        let src = source(scheme, secret_text(scheme));
        let _ = verify_delivery(&src, &headers, &body, UnixTime(now));
    }

    #[test]
    fn arbitrary_json_bodies_with_a_valid_signature_never_panic_event_parsing(
        scheme in prop::sample::select(BuiltinScheme::ALL.to_vec()),
        body in prop_oneof![
            "\\{(\"(id|type|created|created_at|timestamp|data|action)\":(\"[^\"]{0,30}\"|[0-9]{1,25}|null|\\{\\}|\\[\\]),?){0,6}\\}",
            ".{0,100}",
        ],
    ) {
        let src = source(scheme, secret_text(scheme));
        let now = UnixTime::from_secs(1_760_000_000);
        let headers = scheme.implementation().sign(
            &hookfeed_core::signature::SigningInput { body: body.as_bytes(), timestamp: now, event_id: "evt_1", event_type: "t" },
            &src.secrets,
        );
        let _ = verify_delivery(&src, &headers, body.as_bytes(), now);
    }

    #[test]
    fn arbitrary_tokens_are_refused_without_panicking(
        token in prop_oneof![
            ".{0,300}",
            "eyJ[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,50}",
            // Fewer or more dotted parts than a token has (`hf1.` of the old format too): `hf1.a.b.c`.
            "hf1(\\.[A-Za-z0-9_-]{0,43}){0,4}",
        ],
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

#[test]
fn every_fuzz_target_runs_on_its_seeds() {
    let vectors = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors"));
    for target in &hookfeed_fuzz::TARGETS {
        let seeds = hookfeed_fuzz::seeds(target.name, vectors);
        assert!(seeds.len() >= 3, "{} has only {} seeds", target.name, seeds.len());
        for seed in &seeds {
            (target.run)(seed);
        }
    }
    // Every scheme has event-body seeds that verify: the target starts inside the parser.
    for scheme in BuiltinScheme::ALL {
        let verified = hookfeed_fuzz::seeds("event_body", vectors)
            .iter()
            .filter_map(|s| hookfeed_fuzz::verify_event_body(s))
            .filter(|(source, _)| source.scheme == scheme)
            .count();
        assert!(verified >= 1, "no event_body seed of {scheme} verifies");
    }
    // The seeds of a delivery target are the vectors, and for every scheme some verify
    // and reach the log: the targets start past the signature check.
    let seeds = hookfeed_fuzz::seeds("delivery", vectors);
    for (index, scheme) in BuiltinScheme::ALL.into_iter().enumerate() {
        let verified = seeds.iter().filter(|seed| usize::from(seed[0]) == index).filter(|seed| {
            let d = hookfeed_fuzz::parse_delivery(&seed[1..]);
            let source = hookfeed_fuzz::source(scheme, &d.secrets).expect("a source");
            verify_delivery(&source, &d.headers, d.body, d.now).is_ok()
        });
        assert!(verified.count() >= 1, "no delivery seed of {scheme} verifies");
    }
}

#[test]
fn the_fuzz_package_builds_one_binary_per_harness_target() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).expect("fuzz/Cargo.toml");
    assert_eq!(manifest.matches("[[bin]]").count(), hookfeed_fuzz::TARGETS.len(), "one [[bin]] per target");
    for target in &hookfeed_fuzz::TARGETS {
        let path = format!("fuzz_targets/{}.rs", target.name);
        assert!(manifest.contains(&format!("name = \"{}\"\npath = \"{path}\"", target.name)), "{path}");
        let source = std::fs::read_to_string(format!("{root}/{path}")).expect("target source");
        assert!(source.contains(&format!("hookfeed_fuzz::{}(data)", target.name)), "{path} runs its harness");
    }
}

#[test]
fn a_delivery_input_reads_back_as_written() {
    let headers = vec![("Stripe-Signature".to_owned(), "t=1,v1=ab".to_owned()), ("X: y".to_owned(), String::new())];
    let bytes = hookfeed_fuzz::format_delivery(42, "a, b", &headers, b"{\"id\":1}\n\nmore");
    let delivery = hookfeed_fuzz::parse_delivery(&bytes);
    assert_eq!(delivery.now, UnixTime::from_secs(42));
    assert_eq!(delivery.secrets, "a, b");
    assert_eq!(delivery.headers, [("Stripe-Signature".into(), "t=1,v1=ab".into()), ("X".into(), "y: ".into())]);
    assert_eq!(delivery.body, b"{\"id\":1}\n\nmore");
}

/// Listen frames over the harness's stored documents, whose fields hold every kind of
/// value: enough to meet an `orderBy` over mixed types.
fn listen_frame() -> impl Strategy<Value = String> {
    let field = "(status|n|progress|error\\.code|tags|missing)";
    let value = "(1|2\\.5|\"a\"|\"processing\"|true|null|\\[1,\"a\"\\])";
    let op = "(==|!=|<|<=|>|>=|in|not-in|array-contains|array-contains-any)";
    let collection_listen = format!(
        "\\{{\"type\":\"listen\",\"id\":[0-9]{{1,2}},\"target\":\\{{\"collection\":\"(projects|users|x)\"\
             (,\"where\":\\[\\{{\"field\":\"{field}\",\"op\":\"{op}\",\"value\":{value}\\}}\\])?\
             (,\"orderBy\":\\[(\\{{\"field\":\"{field}\"(,\"direction\":\"(asc|desc)\")?\\}},?){{1,2}}\\])?\
             (,\"limit\":[0-9]{{1,2}})?\\}}(,\"since\":[0-9]{{1,3}})?\\}}"
    );
    prop_oneof![
        proptest::string::string_regex(&collection_listen).expect("a valid regex"),
        "\\{\"type\":\"listen\",\"id\":[0-9]{1,2},\"target\":\\{\"doc\":\"(projects|users)/[a-z_0-9.]{0,12}\"\\}\\}",
        "\\{\"type\":\"unlisten\",\"id\":[0-9]{1,2}\\}",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_token_target_never_panics(
        token in prop_oneof![".{0,200}", "hf1(\\.[A-Za-z0-9_-]{0,43}){0,4}", "\\{\"tenant\":\"[a-z]{0,5}\",\"scopes\":\\[(\"[a-z/*]{0,8}\",?){0,3}\\],\"exp\":-?[0-9]{1,20}\\}"],
    ) {
        hookfeed_fuzz::token(token.as_bytes());
    }

    #[test]
    fn the_delivery_targets_never_panic(
        scheme in prop::sample::select(BuiltinScheme::ALL.to_vec()),
        now in prop_oneof![Just(hookfeed_fuzz::NOW), any::<i64>()],
        secrets in prop_oneof![Just(String::new()), "[A-Za-z0-9_+/=, ]{0,40}"],
        headers in prop::collection::vec((header_name(), header_value()), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..128),
        raw in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        hookfeed_fuzz::delivery_to(scheme, &hookfeed_fuzz::format_delivery(now, &secrets, &headers, &body));
        hookfeed_fuzz::delivery_to(scheme, &raw);
    }

    #[test]
    fn the_event_body_target_never_panics(
        pick in any::<u8>(),
        body in prop_oneof![
            "\\{(\"(id|type|created|created_at|timestamp|data|action|project_id|progress|status)\":(\"[^\"]{0,20}\"|-?[0-9]{1,22}(\\.[0-9]{1,3})?|null|true|\\{\\}|\\{\"project_id\":[0-9]{1,3}\\}),?){0,8}\\}",
            ".{0,100}",
        ],
    ) {
        let mut input = vec![pick];
        input.extend_from_slice(body.as_bytes());
        hookfeed_fuzz::event_body(&input);
    }

    #[test]
    fn the_client_frames_target_never_panics(frames in prop::collection::vec(listen_frame(), 1..6)) {
        hookfeed_fuzz::client_frames(frames.join("\n").as_bytes());
    }

    #[test]
    fn the_batch_target_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        hookfeed_fuzz::batch(&bytes);
    }

    /// Well-formed frames of arbitrary hand-offs and bodies, some cut short.
    #[test]
    fn the_batch_target_never_panics_on_frames(
        frames in prop::collection::vec(("\\{\"source\":\"(percify|stripe|github|x)\",\"received_at\":[0-9]{1,13}(,\"event_id\":\"[a-z_]{0,8}\")?\\}|.{0,20}", prop::collection::vec(any::<u8>(), 0..64)), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = Vec::new();
        for (handoff, raw) in &frames {
            prop_assert!(hookfeed_core::batch::push_frame(&mut body, handoff.as_bytes(), raw).is_ok());
        }
        hookfeed_fuzz::batch(&body);
        hookfeed_fuzz::batch(&body[..cut.index(body.len() + 1)]);
    }

    #[test]
    fn the_doc_path_target_never_panics(
        path in prop_oneof![".{0,80}", "[A-Za-z0-9_-]{0,10}/[^/]{0,10}(/.{0,5})?", "[a-z]{1,5}/\\.{1,3}", "[a-z]{0,4}/\\*"],
    ) {
        hookfeed_fuzz::doc_path(path.as_bytes());
    }

    #[test]
    fn the_config_target_never_panics(
        secrets in "[A-Za-z0-9_+/=, ]{0,40}",
        setting in prop_oneof!["[0-9 ]{0,12}", "(on|off|true|false|ON|oFf| )*", ".{0,12}"],
        sources in prop_oneof![
            "\\[(\\{\"name\":\"[a-z_-]{0,10}\",\"scheme\":\"(percify|twin-actor|standard-webhooks|stripe|github|x)\"\
             (,\"tolerance_secs\":[0-9]{1,20})?(,\"rules\":\\[\\{\"types\":\\[\"[a-z._*]{0,10}\"\\],\"collection\":\"[a-z]{0,6}\",\
             \"id_field\":\"(=[a-z]{0,4}|[a-z_.]{0,10})\"(,\"status_from_type\":true)?(,\"progress\":true)?\
             (,\"rename\":\\{\"[a-z_]{0,9}\":\"[a-z_]{0,9}\"\\})?\\}\\])?\\},?){0,3}\\]",
            ".{0,100}",
        ],
    ) {
        hookfeed_fuzz::config(format!("{secrets}\n{setting}\n{sources}").as_bytes());
    }
}
