//! Published and computed test vectors, kept as data in `tests/vectors/<scheme>.json` (and
//! `hmac-<provider>.json` for each preset of the configured `hmac` scheme), positive and
//! negative cases side by side, run by one table-driven test; each `hmac` provider also
//! has a test of its own, named after it.

use hookfeed_core::signature::configured::{presets, HmacProfile};
use hookfeed_core::signature::{ReplayWindow, Scheme};
use hookfeed_core::source::SchemeName;
use hookfeed_core::{BuiltinScheme, UnixTime};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    scheme: SchemeName,
    /// For `hmac` files: the preset (or profile) the vectors run against, as a source
    /// would configure it.
    #[serde(default)]
    hmac: Option<serde_json::Value>,
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

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");

fn read(path: &std::path::Path) -> VectorFile {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Runs every vector of `file`; returns how many ran.
fn run(file: VectorFile) -> usize {
    let profile;
    let (label, verifier, tolerance): (String, &dyn Scheme, u64) = match (file.scheme, &file.hmac) {
        (SchemeName::Builtin(scheme), None) => {
            (scheme.to_string(), scheme.implementation(), scheme.implementation().default_tolerance_secs())
        }
        (SchemeName::Hmac, Some(hmac)) => {
            profile = HmacProfile::from_json(hmac).expect("the file's hmac profile loads");
            (format!("hmac {}", profile.name()), &profile, profile.default_tolerance_secs())
        }
        _ => panic!("an hmac file names its profile in `hmac`, and only hmac files do"),
    };
    for v in &file.vectors {
        let secret = verifier.parse_secret(v.secret.trim()).expect("usable secret");
        let headers: Vec<(String, String)> = v.headers.clone().into_iter().collect();
        let window = ReplayWindow { now: UnixTime::from_secs(v.now), tolerance_secs: tolerance };
        let got = match verifier.verify(&headers, v.body.as_bytes(), &[secret], window) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        assert_eq!(got, v.expect, "{label}: vector {:?} (source: {})", v.name, v.source);
    }
    file.vectors.len()
}

/// Every scheme in the registry has `<name>.json`, and every file is a scheme's or a
/// preset's: adding a scheme means adding its vectors, and no file goes unrun.
#[test]
fn every_scheme_passes_its_test_vectors() {
    let mut count = 0;
    for scheme in BuiltinScheme::ALL {
        let file = read(&std::path::Path::new(DIR).join(format!("{scheme}.json")));
        assert_eq!(file.scheme, scheme.into(), "{scheme}.json names its scheme");
        count += run(file);
    }
    let presets: Vec<String> = presets().into_iter().map(|(name, _)| format!("hmac-{name}.json")).collect();
    for entry in std::fs::read_dir(DIR).expect("vectors dir") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        let known = BuiltinScheme::ALL.iter().any(|s| name == format!("{s}.json")) || presets.contains(&name);
        assert!(known, "tests/vectors/{name} belongs to no scheme and no preset");
    }
    assert!(count >= 30, "only {count} vectors ran");
}

#[test]
fn every_hmac_preset_has_vectors_and_eight_come_from_their_provider() {
    let mut published = Vec::new();
    for (preset, _) in presets() {
        let file = read(&std::path::Path::new(DIR).join(format!("hmac-{preset}.json")));
        assert_eq!(file.hmac, Some(serde_json::Value::String(preset.clone())), "hmac-{preset}.json runs its preset");
        assert!(file.vectors.iter().any(|v| v.expect == "ok"), "{preset}: no vector that verifies");
        assert!(file.vectors.iter().any(|v| v.expect != "ok"), "{preset}: no vector that is refused");
        // A vector from the provider's documentation or official SDK cites it by URL.
        if file.vectors.iter().any(|v| v.expect == "ok" && v.source.starts_with("https://")) {
            published.push(preset);
        }
    }
    assert!(published.len() >= 8, "only {published:?} have a published vector");
}

/// One test per provider, so a provider's failure is named in the test list.
macro_rules! provider_vectors {
    ($($test:ident => $preset:literal),+ $(,)?) => {$(
        #[test]
        fn $test() {
            let ran = run(read(&std::path::Path::new(DIR).join(concat!("hmac-", $preset, ".json"))));
            assert!(ran >= 3, "{} has only {ran} vectors", $preset);
        }
    )+};
}

provider_vectors! {
    shopify_vectors_from_shopify_api_js => "shopify",
    slack_vectors_from_python_slack_sdk => "slack",
    paddle_vectors_from_paddle_node_sdk => "paddle",
    square_vectors_from_square_nodejs_sdk => "square",
    replicate_vectors_from_replicate_javascript => "replicate",
    clerk_vectors_from_svix => "clerk",
    razorpay_vectors_from_razorpay_node => "razorpay",
    box_vectors_from_box_node_sdk => "box",
    linear_vectors_computed_from_its_docs => "linear",
    elevenlabs_vectors_computed_as_its_sdk_does => "elevenlabs",
    heygen_vectors_computed_from_its_docs => "heygen",
    paystack_vectors_computed_from_its_docs => "paystack",
}
