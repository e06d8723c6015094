//! HTTP routes. Status codes are chosen here and nowhere else.

use serde::Serialize;
use serde_json::json;
use worker::{Env, Request, Response, Result};

use crate::config;

/// The Durable Object binding of the feeds.
const FEED_BINDING: &str = "FEED";

/// A JSON error body `{"error": {"code", "message"}}` with `status`.
pub fn error(status: u16, code: &str, message: &str) -> Result<Response> {
    Ok(Response::from_json(&json!({"error": {"code": code, "message": message}}))?.with_status(status))
}

#[derive(Serialize)]
struct Health {
    ok: bool,
    version: &'static str,
    sources: Vec<SourceHealth>,
    feed: serde_json::Value,
}

#[derive(Serialize)]
struct SourceHealth {
    name: String,
    scheme: &'static str,
    tenant: String,
    secrets: usize,
}

/// Routes one request.
pub async fn handle(req: Request, env: Env) -> Result<Response> {
    match (req.method(), req.path().as_str()) {
        (worker::Method::Get, "/healthz") => healthz(&env).await,
        _ => error(404, "not_found", "no such route: see README.md for the API"),
    }
}

/// `GET /healthz`: configuration loads, and the default tenant's feed answers from SQLite.
async fn healthz(env: &Env) -> Result<Response> {
    let sources = match config::sources(env) {
        Ok(sources) => sources,
        Err(e) => return error(500, "bad_configuration", &e.to_string()),
    };
    let tenant = sources.first().map_or(hookfeed_core::source::DEFAULT_TENANT, |s| s.tenant.as_str());
    let stub = env.durable_object(FEED_BINDING)?.id_from_name(tenant)?.get_stub()?;
    let mut feed = stub.fetch_with_str("https://feed/health").await?;
    let feed: serde_json::Value = feed.json().await?;
    Response::from_json(&Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION"),
        sources: sources
            .iter()
            .map(|s| SourceHealth { name: s.name.clone(), scheme: s.scheme.name(), tenant: s.tenant.clone(), secrets: s.secrets.len() })
            .collect(),
        feed,
    })
}
