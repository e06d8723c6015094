//! The demo page's routes, in dev mode only (`HOOKFEED_DEV_MODE=true`): a token for the
//! default tenant, sample deliveries signed as their providers sign them, the delivery log
//! without the admin token (`admin.rs`), and a fault to inject.

use hookfeed_core::signature::SigningInput;
use hookfeed_core::source::Source;
use hookfeed_core::token::{mint_token, TokenClaims};
use hookfeed_core::{verify_delivery, Secret, UnixTime};
use js_sys::Uint8Array;
use serde_json::json;
use worker::worker_sys::Context;
use worker::{Env, Request};

use super::ingest::hand_off;
use super::{post_to_feed, Handled};
use crate::config::Config;
use crate::edge_refusals;
use crate::hop::{now, DROP_HUBS_PATH};
use crate::reply::Reply;

/// `GET /dev/token`: a one-hour token for every path of the default tenant, so the demo
/// page can subscribe without a backend.
pub fn token(config: &Config) -> Handled {
    let secret =
        config.token_secrets.first().ok_or_else(|| Reply::BadConfiguration("TOKEN_SECRET is not set".to_owned()))?;
    let tenant = config.default_tenant();
    let claims = TokenClaims::new(tenant.to_owned(), vec!["*".to_owned()], now().as_secs() + 3600);
    Ok(Reply::Json(json!({ "token": mint_token(&claims, secret), "tenant": tenant })).into_raw()?)
}

/// What the demo page asks `/dev/send` and `/dev/sign` for: a sample delivery.
#[derive(serde::Deserialize)]
struct DevDelivery {
    source: String,
    event: String,
    /// Fields of the sample's data to set.
    #[serde(default)]
    set: serde_json::Map<String, serde_json::Value>,
    /// How much older than now the event says it is (its `created`), while it is signed
    /// now: how a late retry of an earlier event looks.
    #[serde(default)]
    older_by_secs: u32,
    /// Sign with a secret that is not the source's, as a forger would.
    #[serde(default)]
    forge: bool,
}

/// A signed sample delivery: its signature headers and body.
type Signed = (Vec<(String, String)>, Vec<u8>);

/// Renders and signs the sample `ask` names, exactly as its provider would.
async fn dev_delivery<'c>(req: &mut Request, config: &'c Config) -> Result<(&'c Source, Signed), Reply> {
    let ask: DevDelivery = req
        .json()
        .await
        .map_err(|e| Reply::BadRequest(format!("expected {{source, event, set, older_by_secs?, forge?}}: {e}")))?;
    let source = config.source(&ask.source).ok_or(Reply::UnknownSource(ask.source))?;
    let sample = source.scheme.builtin().and_then(|scheme| hookfeed_core::samples::sample(scheme, &ask.event));
    let sample = sample.ok_or_else(|| {
        Reply::BadRequest(format!(
            "no sample for {} events of type `{}`",
            source.scheme,
            hookfeed_core::refusal::quote(&ask.event)
        ))
    })?;
    let now = now();
    let event_id = format!("evt_dev_{}_{}", now.as_millis(), (js_sys::Math::random() * 1e9) as u64);
    let overrides: Vec<(String, serde_json::Value)> = ask.set.into_iter().collect();
    let created = UnixTime(now.as_millis() - i64::from(ask.older_by_secs) * 1000);
    let body = sample.render(&event_id, created, &overrides).map_err(|e| Reply::BadRequest(e.to_string()))?;
    let signing = SigningInput { body: &body, timestamp: now, event_id: &event_id, event_type: &ask.event };
    let forged;
    let secrets = if ask.forge {
        forged = [Secret::from_bytes("not the source's secret")];
        &forged[..]
    } else {
        &source.secrets[..]
    };
    Ok((source, (source.scheme.implementation().sign(&signing, secrets), body)))
}

/// `POST /dev/send {source, event, set}`: signs a sample delivery with the source's
/// secret, exactly as its provider would, then checks it as `POST /hooks/{source}` does
/// ([`verify_delivery`]) and hands it to the feed. The demo page's buttons use it;
/// nothing about ingest is bypassed.
pub async fn send(mut req: Request, env: &Env, ctx: &Context, config: &Config) -> Handled {
    let (source, (headers, body)) = dev_delivery(&mut req, config).await?;
    let now = now();
    let delivery = verify_delivery(source, &headers, &body, now).map_err(|e| {
        let reply = Reply::Rejected(e);
        edge_refusals::record(&source.name, true, "dev", &reply, now);
        reply
    })?;
    Ok(hand_off(env, ctx, source, delivery, &Uint8Array::from(body.as_slice()).into()).await?)
}

/// `POST /dev/sign {source, event, set, older_by_secs?, forge?}`: a sample delivery
/// signed as its provider would sign it (or, with `forge`, as a forger would), not sent:
/// `{path, headers, body}` for the demo page to `POST` to `/hooks/{source}` itself, once
/// or twice, in any order.
pub async fn sign(mut req: Request, config: &Config) -> Handled {
    let (source, (headers, body)) = dev_delivery(&mut req, config).await?;
    let headers: serde_json::Map<_, _> = headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    Ok(Reply::Json(json!({
        "path": format!("/hooks/{}", source.name),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_raw()?)
}

/// `POST /dev/drop-hubs`: fault injection for tests. The default tenant's feed closes its
/// hubs' upstream sockets.
pub async fn drop_hubs(env: &Env, config: &Config) -> Handled {
    Ok(post_to_feed(env, config.default_tenant(), DROP_HUBS_PATH, None, None).await?)
}
