//! Published and computed test vectors, kept as data in `tests/vectors/<scheme>.json`,
//! positive and negative cases side by side, run by one table-driven test.

use hookfeed_core::signature::ReplayWindow;
use hookfeed_core::{Scheme, UnixTime};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    scheme: Scheme,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    source: String,
    secret: String,
    headers: std::collections::BTreeMap<String, String>,
    body: String,
    now: i64,
    expect: String,
}

#[test]
fn every_scheme_passes_its_test_vectors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let mut schemes_seen = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("vectors dir") {
        let path = entry.expect("entry").path();
        let file: VectorFile =
            serde_json::from_slice(&std::fs::read(&path).expect("readable")).expect("vector file parses");
        schemes_seen.push(file.scheme);
        for v in file.vectors {
            let secret = file.scheme.parse_secret(&v.secret).expect("usable secret");
            let headers: Vec<(String, String)> = v.headers.into_iter().collect();
            let window = ReplayWindow { now: UnixTime::from_secs(v.now), tolerance_secs: 300 };
            let got = match file.scheme.verifier().verify(&headers, v.body.as_bytes(), &[secret], window) {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.code().to_owned(),
            };
            assert_eq!(got, v.expect, "{}: vector {:?} (source: {})", file.scheme, v.name, v.source);
            count += 1;
        }
    }
    for scheme in Scheme::ALL {
        assert!(schemes_seen.contains(&scheme), "no vectors for {scheme}");
    }
    assert!(count >= 30, "only {count} vectors ran");
}
