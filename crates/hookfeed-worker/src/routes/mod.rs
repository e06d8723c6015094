//! The Worker's routes: the trust boundary. Everything that can refuse a request without
//! state is decided here, in the stateless Worker, before any feed is woken: a delivery's
//! body cap, signature, replay window and event shape; a subscriber's token. Only what
//! passes reaches the tenant's `Feed` object.
//!
//! ```text
//! POST /hooks/{source}            a provider's delivery                    ingest.rs
//! GET  /feed                      WebSocket for subscribers (token in      subscribe.rs
//!                                 Sec-WebSocket-Protocol or ?token=)
//! GET  /docs/{collection}[/{id}]  documents, for clients that poll         docs.rs
//!                                 (subscriber token)
//! GET  /deliveries                the receiving side's delivery log        admin.rs
//!                                 (admin token)
//! GET  /healthz                   configuration and storage check          admin.rs
//! /dev/*                          the demo page's helpers (dev mode only)  dev.rs
//! ```
//!
//! This file is the router and the way to a tenant's objects; what every route needs
//! from a request (a subscriber's claims, the admin token, the tenant asked for) is
//! extracted in `extract.rs`, once for all of them.

mod admin;
mod dev;
mod docs;
mod extract;
mod group;
mod ingest;
mod subscribe;

use js_sys::futures::{future_to_promise, JsFuture};
use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::Context;
use worker::{Env, Result};

use crate::config;
use crate::reply::Reply;

/// The binding of the `Feed` Durable Object class.
pub const FEED_BINDING: &str = "FEED";
/// The binding of the `Hub` Durable Object class.
pub const HUB_BINDING: &str = "HUB";

/// What a route answers: the platform's own response, so that one coming from a feed is
/// passed on as it is (the `worker` crate's `Response` would wrap its body in a new one).
pub type Answer = Result<web_sys::Response>;

/// How a route ends early: with an answer it chose (a refusal, from an extractor or a
/// check), or with a platform error. Either converts with `?`, so a handler reads as its
/// checks in order.
#[derive(Debug)]
enum Stop {
    /// Answer this.
    Reply(Reply),
    /// The platform failed: the request fails as any unhandled error does.
    Platform(worker::Error),
}

impl From<Reply> for Stop {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

impl<E> From<E> for Stop
where
    worker::Error: From<E>,
{
    fn from(error: E) -> Self {
        Self::Platform(worker::Error::from(error))
    }
}

/// What a handler returns: its response, or how it stopped early.
type Handled = std::result::Result<web_sys::Response, Stop>;

/// Where a request goes, read once from its method and path.
enum Route {
    /// `POST /hooks/{source}`.
    Ingest(String),
    /// `/hooks/{source}` with another method.
    IngestMethodNotAllowed,
    /// `GET /feed`.
    Feed,
    /// `GET /docs/{collection}[/{id}]`.
    Docs { collection: String, id: Option<String> },
    /// `GET /deliveries`.
    Deliveries,
    /// `GET /healthz`.
    Healthz,
    /// `GET /dev/token` (dev mode only).
    DevToken,
    /// `POST /dev/send` (dev mode only).
    DevSend,
    /// `POST /dev/sign` (dev mode only).
    DevSign,
    /// `GET /dev/deliveries` (dev mode only).
    DevDeliveries,
    /// `POST /dev/drop-hubs` (dev mode only).
    DevDropHubs,
    /// Anything else.
    NotFound,
}

impl Route {
    fn of(method: &str, url: &str) -> Self {
        let segments: Vec<&str> = path_of(url).trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["hooks", source]) => Self::Ingest((*source).to_owned()),
            (_, ["hooks", _]) => Self::IngestMethodNotAllowed,
            ("GET", ["feed"]) => Self::Feed,
            ("GET", ["docs", collection]) => Self::Docs { collection: (*collection).to_owned(), id: None },
            ("GET", ["docs", collection, id]) => {
                Self::Docs { collection: (*collection).to_owned(), id: Some((*id).to_owned()) }
            }
            ("GET", ["deliveries"]) => Self::Deliveries,
            ("GET", ["healthz"]) => Self::Healthz,
            ("GET", ["dev", "token"]) => Self::DevToken,
            ("POST", ["dev", "send"]) => Self::DevSend,
            ("POST", ["dev", "sign"]) => Self::DevSign,
            ("GET", ["dev", "deliveries"]) => Self::DevDeliveries,
            ("POST", ["dev", "drop-hubs"]) => Self::DevDropHubs,
            _ => Self::NotFound,
        }
    }
}

/// Answers one request. It arrives as the platform's own request: converting it to the
/// `worker` crate's reads properties (`cf` among them) that ingest never needs.
///
/// Every route, a delivery's included, runs as one Rust future handed to the platform as
/// a promise (`future_to_promise`); a delivery's answer is the feed's own response,
/// passed on untouched.
pub fn respond(req: web_sys::Request, env: Env, ctx: Context) -> Promise {
    let route = Route::of(&req.method(), &req.url());
    future_to_promise(async move {
        let answer = match handle(route, req, env, ctx).await {
            Ok(response) => Ok(response),
            Err(Stop::Reply(reply)) => reply.into_raw(),
            Err(Stop::Platform(error)) => Err(error),
        };
        answer.map(JsValue::from).map_err(JsValue::from)
    })
}

/// Answers `route`.
async fn handle(route: Route, req: web_sys::Request, env: Env, ctx: Context) -> Handled {
    let config = config::load(&env).map_err(|e| Reply::BadConfiguration(e.to_string()))?;
    match route {
        Route::Ingest(source) => ingest::ingest(&req, &env, &ctx, &config, &source).await,
        Route::IngestMethodNotAllowed => Err(Reply::MethodNotAllowed("POST").into()),
        Route::Feed => subscribe::subscribe(req.into(), &env, &config).await,
        Route::Docs { collection, id } => docs::documents(req.into(), &env, &config, &collection, id.as_deref()).await,
        Route::Deliveries => admin::deliveries(req.into(), &env, &config).await,
        Route::Healthz => admin::healthz(&req.into(), &env, &config).await,
        Route::DevToken if config.dev_mode => dev::token(&config),
        Route::DevSend if config.dev_mode => dev::send(req.into(), &env, &ctx, &config).await,
        Route::DevSign if config.dev_mode => dev::sign(req.into(), &config).await,
        Route::DevDeliveries if config.dev_mode => admin::delivery_log(&req.into(), &env, &config).await,
        Route::DevDropHubs if config.dev_mode => dev::drop_hubs(&env, &config).await,
        Route::DevToken
        | Route::DevSend
        | Route::DevSign
        | Route::DevDeliveries
        | Route::DevDropHubs
        | Route::NotFound => Err(Reply::NotFound("no such route: see README.md for the API".to_owned()).into()),
    }
}

/// The path of a serialised URL (`https://host/a/b?q` → `/a/b`): the first `/` after the
/// host starts it, and `?` or `#` ends it.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let Some(start) = rest.find('/') else { return "/" };
    let path = &rest[start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// The tenant's feed (the `Feed` object named after the tenant).
pub fn feed(env: &Env, tenant: &str) -> Result<worker::Stub> {
    env.durable_object(FEED_BINDING)?.id_from_name(tenant)?.get_stub()
}

/// Hub `index` of the tenant's hubs: the one place that names a hub object.
fn hub(env: &Env, tenant: &str, index: u32) -> Result<worker::Stub> {
    env.durable_object(HUB_BINDING)?.id_from_name(&format!("{tenant}/hub/{index}"))?.get_stub()
}

/// Sends `req` to a Durable Object and answers with its response, untouched.
async fn forward_to(stub: worker::Stub, req: &web_sys::Request) -> Answer {
    let stub: worker::worker_sys::DurableObject = stub.into_rpc();
    let response = JsFuture::from(stub.fetch_with_request(req)?).await?;
    Ok(response.dyn_into()?)
}

/// Sends `req` to the tenant's feed and answers with the feed's response, untouched.
async fn forward(env: &Env, tenant: &str, req: &web_sys::Request) -> Answer {
    forward_to(feed(env, tenant)?, req).await
}

/// `GET`s `url` of the tenant's feed.
async fn forward_get(env: &Env, tenant: &str, url: &str) -> Answer {
    forward(env, tenant, &web_sys::Request::new_with_str(url)?).await
}

/// `POST`s `body` (if any) with `headers` (if any) to `path` of the tenant's feed.
async fn post_to_feed(
    env: &Env,
    tenant: &str,
    path: &str,
    headers: Option<&web_sys::Headers>,
    body: Option<&JsValue>,
) -> Answer {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    if let Some(headers) = headers {
        init.set_headers(headers);
    }
    if let Some(body) = body {
        init.set_body(body);
    }
    forward(env, tenant, &web_sys::Request::new_with_str_and_init(&format!("https://feed{path}"), &init)?).await
}
