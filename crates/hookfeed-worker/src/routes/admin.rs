//! The admin's routes: `GET /deliveries` (the delivery log, admin token) and `GET /healthz`
//! (anyone: that the configuration loads; the admin, or dev mode: its shape and figures).

use hookfeed_core::delivery_log::{page, LogCursor, LogPage, LogQuery, LogRow};
use serde_json::json;
use worker::{Env, Request, Url};

use super::extract::{admin, admin_tenant};
use super::{forward_get, hub, Handled};
use crate::config::Config;
use crate::edge_refusals;
use crate::hop::query;
use crate::reply::Reply;

/// `GET /deliveries?tenant=&source=&outcome=&event_id=&before=&limit=`: one page of the
/// delivery log, newest first (admin token; dev mode also serves it at `/dev/deliveries`).
pub async fn deliveries(req: Request, env: &Env, config: &Config) -> Handled {
    admin(&req, config)?;
    delivery_log(&req, env, config).await
}

/// One page of the delivery log: what the feed stored (stored, out of order, duplicate,
/// conflict), merged with what this edge isolate refused (kept in memory only: see
/// [`edge_refusals`]). `next`, when present, is the `before` of the next page.
pub async fn delivery_log(req: &Request, env: &Env, config: &Config) -> Handled {
    let log_query = LogQuery::from_params(|name| query(req, name)).map_err(|e| Reply::BadRequest(e.to_string()))?;
    let tenant = admin_tenant(req, config);
    let mut url = Url::parse("https://feed/deliveries")?;
    url.query_pairs_mut().append_pair("limit", &log_query.limit.to_string());
    let before = log_query.before.as_ref().map(ToString::to_string);
    let outcome = log_query.outcome.map(|o| o.as_str());
    for (name, value) in [
        ("source", log_query.source.as_deref()),
        ("outcome", outcome),
        ("event_id", log_query.event_id.as_deref()),
        ("before", before.as_deref()),
    ] {
        if let Some(value) = value {
            url.query_pairs_mut().append_pair(name, value);
        }
    }
    let stored = forward_get(env, &tenant, url.as_str()).await?;
    if stored.status() != 200 {
        return Ok(stored);
    }
    let stored: LogPage = worker::Response::from(stored).json().await?;
    let mut rows: Vec<(LogCursor, LogRow)> =
        stored.deliveries.into_iter().map(|row| (row.cursor.clone(), row)).collect();
    if log_query.wants_refusals() {
        let of_tenant = |name: &str| {
            log_query.source.as_deref().is_none_or(|s| s == name)
                && (config.source(name).is_some_and(|s| s.tenant == tenant)
                    || name == hookfeed_core::refusal::UNKNOWN_SOURCE)
        };
        edge_refusals::with_log(|log| {
            let older = log
                .recent(of_tenant)
                .map(|(number, r)| LogRow::refusal(number, r))
                .filter(|row| log_query.admits(&row.cursor))
                .take(log_query.limit);
            rows.extend(older.map(|row| (row.cursor.clone(), row)));
        });
    }
    let (rows, next) = page(rows, log_query.limit);
    let deliveries = rows.into_iter().map(|(_, row)| row).collect();
    Ok(Reply::Json(serde_json::to_value(LogPage { deliveries, next })?).into_raw()?)
}

/// `GET /healthz`: `{ok, version}` for anyone (the configuration loads). With the admin
/// token, or in dev mode (the demo page), also the configuration's shape, each feed's
/// figures and the refusal counters; never a secret.
pub async fn healthz(req: &Request, env: &Env, config: &Config) -> Handled {
    if !config.dev_mode && admin(req, config).is_err() {
        return Ok(Reply::Json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") })).into_raw()?);
    }
    let tenants: Vec<&str> = config.tenants().collect();
    let mut feeds = serde_json::Map::new();
    for tenant in tenants {
        let health = forward_get(env, tenant, "https://feed/health").await?;
        let mut health: serde_json::Value = worker::Response::from(health).json().await?;
        let hubs = config.hubs.hubs_for(tenant);
        if hubs > 0 {
            let mut each = Vec::with_capacity(hubs as usize);
            for index in 0..hubs {
                let mut answer = hub(env, tenant, index)?.fetch_with_str("https://hub/health").await?;
                each.push(answer.json::<serde_json::Value>().await?);
            }
            health["hubs"] = json!(each);
        }
        feeds.insert(tenant.to_owned(), health);
    }
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|s| json!({"name": s.name, "scheme": s.scheme.name(), "tenant": s.tenant, "secrets": s.secrets.len()}))
        .collect();
    let refused = edge_refusals::with_log(|log| {
        log.counts().map(|(source, counts)| (source.to_owned(), json!(counts))).collect::<serde_json::Map<_, _>>()
    });
    Ok(Reply::Json(json!({
        "ok": true,
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources,
        "feeds": feeds,
        "refused": refused,
        "refusal_limiter": edge_refusals::limiter_configured(env),
        "token_secret": !config.token_secrets.is_empty(),
        "identity_providers": config.identity.iter().map(|p| json!({"tenant": p.tenant, "issuer": p.issuer})).collect::<Vec<_>>(),
        "admin_api": config.admin_token.is_some(),
        "websocket_compression": config.websocket_compression,
        "sockets_per_client": config.sockets_per_client,
        "webcrypto_min_bytes": config.webcrypto_min_bytes,
        "dev_mode": config.dev_mode,
    }))
    .into_raw()?)
}
