//! Plain HTTP(S) requests to a hookfeed server: `send`'s POST and `tail`'s look at
//! `/healthz`, with the same TLS trust as the WebSocket (the public roots, or
//! `$SSL_CERT_FILE`).

use std::time::Duration;

use serde_json::Value;

use crate::error::CliError;
use crate::tls::CustomRoots;

/// An agent that returns every answer, error statuses included, as a response.
pub fn agent(timeout: Duration) -> Result<ureq::Agent, CliError> {
    let mut config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout));
    if let Some(roots) = CustomRoots::from_env()? {
        let roots: Vec<ureq::tls::Certificate<'static>> =
            roots.certs().iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
        config = config.tls_config(
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&roots)).build(),
        );
    }
    Ok(config.build().into())
}

/// The tenants a server's `GET /healthz` lists under `feeds`, or `None` when it cannot
/// be asked (down, not hookfeed, an older version): the caller then keeps its default.
pub fn tenants(healthz_url: &str) -> Option<Vec<String>> {
    let agent = agent(Duration::from_secs(5)).ok()?;
    let response =
        agent.get(healthz_url).header("User-Agent", concat!("hookfeed-cli/", env!("CARGO_PKG_VERSION"))).call().ok()?;
    let health: Value = serde_json::from_slice(&response.into_body().read_to_vec().ok()?).ok()?;
    Some(health.get("feeds")?.as_object()?.keys().cloned().collect())
}
