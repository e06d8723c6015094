//! Sign → verify round trips for every scheme, as properties over bodies, times and
//! secret sets.

use hookfeed_core::signature::{ReplayWindow, SignatureError, SigningInput};
use hookfeed_core::{BuiltinScheme, Secret, UnixTime};
use proptest::prelude::*;

fn scheme() -> impl Strategy<Value = BuiltinScheme> {
    prop::sample::select(BuiltinScheme::ALL.to_vec())
}

fn secrets() -> impl Strategy<Value = Vec<Secret>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..48), 1..4)
        .prop_map(|keys| keys.into_iter().map(Secret::from_bytes).collect())
}

proptest! {
    #[test]
    fn a_signed_body_verifies_under_any_active_secret(
        scheme in scheme(),
        body in prop::collection::vec(any::<u8>(), 0..2048),
        at in 0i64..4_000_000_000,
        secrets in secrets(),
        skew in -300i64..=300,
        id in "[a-zA-Z0-9_]{1,40}",
        pick in any::<prop::sample::Index>(),
    ) {
        let at = UnixTime::from_secs(at);
        let headers = scheme.implementation().sign(
            &SigningInput { body: &body, timestamp: at, event_id: &id, event_type: "project.completed" },
            &secrets,
        );
        let window = ReplayWindow { now: UnixTime::from_secs(at.as_secs() + skew), tolerance_secs: 300 };
        // A receiver holding the active secrets in any order (the rotation overlap)
        // verifies.
        let mut receiver = secrets.clone();
        receiver.rotate_left(pick.index(secrets.len()));
        let signed = scheme.implementation().verify(&headers, &body, &receiver, window);
        prop_assert!(signed.is_ok(), "{scheme}: {signed:?}");
        let signed = signed.expect("checked");
        if matches!(scheme, BuiltinScheme::TwinActor | BuiltinScheme::StandardWebhooks | BuiltinScheme::Github) {
            prop_assert_eq!(signed.event_id, Some(id.as_str()));
        }
        // Where the header carries one signature per secret, a receiver holding any one
        // of them alone verifies too; Percify and GitHub send one signature, made with the
        // newest (first) secret.
        let alone = &secrets[pick.index(secrets.len())..][..1];
        let one_signature = matches!(scheme, BuiltinScheme::Percify | BuiltinScheme::Github);
        let by_one = scheme.implementation().verify(&headers, &body, alone, window);
        if !one_signature || alone[0].expose() == secrets[0].expose() {
            prop_assert!(by_one.is_ok(), "{scheme}: a receiver with only secret {:?} is refused", pick);
        }
    }

    #[test]
    fn any_change_to_the_body_is_refused(
        scheme in scheme(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        secrets in secrets(),
    ) {
        let at = UnixTime::from_secs(1_700_000_000);
        let headers = scheme.implementation().sign(
            &SigningInput { body: &body, timestamp: at, event_id: "evt_1", event_type: "t" },
            &secrets,
        );
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 1 << bit;
        let window = ReplayWindow { now: at, tolerance_secs: 300 };
        prop_assert_eq!(
            scheme.implementation().verify(&headers, &tampered, &secrets, window),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_secret_that_was_rotated_out_no_longer_verifies(
        scheme in scheme(),
        body in prop::collection::vec(any::<u8>(), 0..256),
        old in prop::collection::vec(any::<u8>(), 1..32),
        new in prop::collection::vec(any::<u8>(), 1..32),
    ) {
        prop_assume!(old != new);
        let at = UnixTime::from_secs(1_700_000_000);
        let headers = scheme.implementation().sign(
            &SigningInput { body: &body, timestamp: at, event_id: "evt_1", event_type: "t" },
            &[Secret::from_bytes(old)],
        );
        let window = ReplayWindow { now: at, tolerance_secs: 300 };
        prop_assert_eq!(
            scheme.implementation().verify(&headers, &body, &[Secret::from_bytes(new)], window),
            Err(SignatureError::NoMatch)
        );
    }
}

#[test]
fn every_scheme_names_the_headers_it_reads() {
    // Callers fetch only these; a scheme that read another header would fail to verify.
    for scheme in BuiltinScheme::ALL {
        let secrets = [Secret::from_bytes("k")];
        let at = UnixTime::from_secs(1_700_000_000);
        let headers = scheme
            .implementation()
            .sign(&SigningInput { body: b"{}", timestamp: at, event_id: "evt_1", event_type: "t" }, &secrets);
        let names = scheme.implementation().header_names();
        let only: Vec<(String, String)> =
            headers.into_iter().filter(|(n, _)| names.iter().any(|m| m.eq_ignore_ascii_case(n))).collect();
        let window = ReplayWindow { now: at, tolerance_secs: 300 };
        assert!(scheme.implementation().verify(&only, b"{}", &secrets, window).is_ok(), "{scheme}");
    }
}
