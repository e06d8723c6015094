//! Builders shared by the test modules.

use hookfeed_core::signature::SigningInput;
use hookfeed_core::source::{Source, SourceConfig};
use hookfeed_core::{BuiltinScheme, UnixTime};

/// A source of `scheme` with the given secrets (comma-separated), default options.
pub fn source(scheme: BuiltinScheme, secrets: &str) -> Source {
    let config: SourceConfig = serde_json::from_value(serde_json::json!({
        "name": scheme.name(),
        "scheme": scheme.name(),
    }))
    .expect("valid config");
    let secrets = secrets.to_owned();
    config.resolve(&move |_| Some(secrets.clone())).expect("usable source")
}

/// A secret in the form `scheme` expects (the scheme's own example).
pub fn secret_text(scheme: BuiltinScheme) -> &'static str {
    scheme.implementation().example_secret()
}

/// Signs a rendered sample of `scheme`/`event_type` the way its provider would.
pub fn signed_sample(
    source: &Source,
    event_type: &str,
    event_id: &str,
    at: UnixTime,
    overrides: &[(String, serde_json::Value)],
) -> (Vec<(String, String)>, Vec<u8>) {
    let scheme = source.scheme.builtin().expect("a built-in scheme has samples");
    let sample = hookfeed_core::samples::sample(scheme, event_type).expect("known type");
    let body = sample.render(event_id, at, overrides).expect("renders");
    let headers = source
        .scheme
        .implementation()
        .sign(&SigningInput { body: &body, timestamp: at, event_id, event_type }, &source.secrets);
    (headers, body)
}
