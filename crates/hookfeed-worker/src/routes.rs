//! The Worker's routes: check what can be checked without state, then hand the request
//! to the tenant's `Feed` object.
//!
//! ```text
//! POST /hooks/{source}            a provider's delivery
//! GET  /feed                      WebSocket for subscribers (token in Sec-WebSocket-Protocol or ?token=)
//! GET  /docs/{collection}[/{id}]  documents, for clients that poll (subscriber token)
//! GET  /deliveries                the receiving side's delivery log (admin token)
//! GET  /healthz                   configuration and storage check
//! ```

use futures_util::StreamExt;
use hookfeed_core::source::Source;
use hookfeed_core::token::{verify_token, TokenClaims};
use hookfeed_core::UnixTime;
use js_sys::futures::{future_to_promise, JsFuture};
use js_sys::Promise;
use js_sys::Uint8Array;
use serde_json::json;
use subtle::ConstantTimeEq;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Date, Env, Headers, Request, Result, Url};

use crate::config::{self, Config};
use crate::reply::Reply;

/// The Durable Object binding of the feeds.
const FEED_BINDING: &str = "FEED";
/// The subprotocol a browser offers beside its token, and the one the server picks.
pub const SUBPROTOCOL: &str = "hookfeed";
/// The client's address, as Cloudflare's edge sets it (rate limits are per address).
pub const CLIENT_IP_HEADER: &str = "cf-connecting-ip";
/// Internal header from the Worker to a feed: the verified token claims, as JSON. The
/// Worker sets it over whatever a client sent, and a feed is reachable only through its
/// binding, so a feed can trust it.
pub const CLAIMS_HEADER: &str = "x-hookfeed-claims";

/// Now, from the platform's clock (core never reads one).
pub fn now() -> UnixTime {
    UnixTime(Date::now().as_millis() as i64)
}

/// What a route answers: the platform's own response, so that one coming from a feed is
/// passed on as it is (the `worker` crate's `Response` would wrap its body in a new one).
pub type Answer = Result<web_sys::Response>;

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
            _ => Self::NotFound,
        }
    }
}

/// Answers one request. It arrives as the platform's own request: converting it to the
/// `worker` crate's reads properties (`cf` among them) that ingest never needs.
///
/// A delivery is answered without a Rust future: the Worker only routes it, so its answer
/// is the feed's own response promise, and no task is queued and polled for it. Every
/// other route runs as a future.
pub fn respond(req: web_sys::Request, env: Env) -> Promise {
    match Route::of(&req.method(), &req.url()) {
        Route::Ingest(source) => {
            let answer = match config::load(&env) {
                Ok(config) => ingest(&req, &env, &config, &source),
                Err(e) => Reply::BadConfiguration(e.to_string()).into_raw().map(resolved),
            };
            // An error of the platform's rejects: the runtime logs it and answers 500.
            answer.unwrap_or_else(|e| Promise::reject(&JsValue::from(e)))
        }
        route => {
            future_to_promise(async move { handle(route, req, env).await.map(JsValue::from).map_err(JsValue::from) })
        }
    }
}

/// A promise already settled with `response`.
fn resolved(response: web_sys::Response) -> Promise {
    Promise::resolve(&JsValue::from(response))
}

/// Answers `route` as a future ([`respond`] answers deliveries without one).
async fn handle(route: Route, req: web_sys::Request, env: Env) -> Answer {
    let config = match config::load(&env) {
        Ok(config) => config,
        Err(e) => return Reply::BadConfiguration(e.to_string()).into_raw(),
    };
    match route {
        Route::Ingest(source) => Ok(JsFuture::from(ingest(&req, &env, &config, &source)?).await?.dyn_into()?),
        Route::IngestMethodNotAllowed => Reply::MethodNotAllowed("POST").into_raw(),
        Route::Feed => subscribe(req.into(), &env, &config).await,
        Route::Docs { collection, id } => documents(req.into(), &env, &config, &collection, id.as_deref()).await,
        Route::Deliveries => deliveries(req.into(), &env, &config).await,
        Route::Healthz => healthz(&env, &config).await,
        Route::DevToken if config.dev_mode => dev_token(&config),
        Route::DevSend if config.dev_mode => dev_send(req.into(), &env, &config).await,
        Route::DevToken | Route::DevSend | Route::NotFound => {
            Reply::NotFound("no such route: see README.md for the API".to_owned()).into_raw()
        }
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

fn feed(env: &Env, tenant: &str) -> Result<worker::Stub> {
    env.durable_object(FEED_BINDING)?.id_from_name(tenant)?.get_stub()
}

/// The tenant's feed, as the platform's own stub.
fn feed_stub(env: &Env, tenant: &str) -> Result<worker::worker_sys::DurableObject> {
    Ok(feed(env, tenant)?.into_rpc())
}

/// Sends `req` to the tenant's feed and answers with the feed's response, untouched.
async fn forward(env: &Env, tenant: &str, req: &web_sys::Request) -> Answer {
    let response = JsFuture::from(feed_stub(env, tenant)?.fetch_with_request(req)?).await?;
    Ok(response.dyn_into()?)
}

/// `GET`s `url` of the tenant's feed.
async fn forward_get(env: &Env, tenant: &str, url: &str) -> Answer {
    forward(env, tenant, &web_sys::Request::new_with_str(url)?).await
}

/// The value of query parameter `name`.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Reads the body up to `cap` bytes; `None` as soon as it is longer, without reading on.
pub async fn read_capped(req: &mut Request, cap: usize) -> Result<Option<Vec<u8>>> {
    let declared = declared_length(&req.headers().0);
    if declared.is_some_and(|len| len > cap) {
        return Ok(None);
    }
    if declared.is_some() {
        // The length is framed by the declared one, so the body cannot outgrow it: read
        // it in one go rather than chunk by chunk.
        return Ok(Some(req.bytes().await?));
    }
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else { return Ok(Some(body)) };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The body length `Content-Length` declares, if any.
fn declared_length(headers: &web_sys::Headers) -> Option<usize> {
    headers.get("content-length").ok().flatten().and_then(|v| v.trim().parse().ok())
}

/// `POST /hooks/{source}`: refuse what the headers already show is too large, then hand
/// the request itself, body unread, to the tenant's feed, which caps the body as it reads,
/// rate-limits, verifies, stores and answers. The body never passes through this isolate.
fn ingest(req: &web_sys::Request, env: &Env, config: &Config, source: &str) -> Result<Promise> {
    let Some(source) = config.source(source) else {
        return Reply::UnknownSource(source.to_owned()).into_raw().map(resolved);
    };
    if declared_length(&req.headers()).is_some_and(|len| len > source.max_body_bytes) {
        worker::console_log!("rejected delivery to {}: body over {} bytes", source.name, source.max_body_bytes);
        return Reply::TooLarge(source.max_body_bytes).into_raw().map(resolved);
    }
    Ok(feed_stub(env, &source.tenant)?.fetch_with_request(req)?)
}

/// The subscriber token of a request: `?token=`, `Authorization: Bearer`, or an entry of
/// `Sec-WebSocket-Protocol` (browsers cannot set headers on a WebSocket).
fn token_of(req: &Request) -> Option<String> {
    if let Some(token) = query(req, "token") {
        return Some(token);
    }
    let headers = req.headers();
    if let Some(token) =
        headers.get("authorization").ok().flatten().and_then(|h| h.strip_prefix("Bearer ").map(str::to_owned))
    {
        return Some(token.trim().to_owned());
    }
    let protocols = headers.get("sec-websocket-protocol").ok().flatten()?;
    protocols.split(',').map(str::trim).find(|p| p.starts_with("hf1.")).map(str::to_owned)
}

fn authorize(req: &Request, config: &Config) -> std::result::Result<TokenClaims, Reply> {
    let token = token_of(req).ok_or(Reply::MissingToken(
        "pass a subscriber token (`hookfeed token`) as ?token=, Authorization: Bearer, or a Sec-WebSocket-Protocol entry",
    ))?;
    let tenant = query(req, "tenant");
    let claims = verify_token(&token, &config.token_secrets, tenant.as_deref(), now()).map_err(Reply::Token)?;
    // A tenant no source feeds would answer every listen with nothing, forever: say so.
    if !config.tenants().any(|t| t == claims.tenant) {
        let known: Vec<String> = config.tenants().map(|t| format!("`{t}`")).collect();
        return Err(Reply::NotFound(format!(
            "no source feeds tenant `{}`; this server's tenants: {} (mint the token with hookfeed token --tenant …)",
            claims.tenant,
            known.join(", ")
        )));
    }
    Ok(claims)
}

/// `GET /feed`: checks the token before the upgrade, then the tenant's feed accepts the
/// socket with the hibernation API.
async fn subscribe(req: Request, env: &Env, config: &Config) -> Answer {
    if !req.headers().get("upgrade")?.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Reply::UpgradeRequired.into_raw();
    }
    let claims = match authorize(&req, config) {
        Ok(claims) => claims,
        Err(reply) => return reply.into_raw(),
    };
    // One copy by the platform, not a crossing into wasm per header.
    let headers = web_sys::Headers::new_with_headers(&req.headers().0)?;
    headers.set(CLAIMS_HEADER, &serde_json::to_string(&claims)?)?;
    if !config.websocket_compression {
        // The hop to the feed, too, then runs uncompressed, and its frames pass through as
        // they are.
        headers.delete(EXTENSIONS_HEADER)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    let response =
        forward(env, &claims.tenant, &web_sys::Request::new_with_str_and_init("https://feed/subscribe", &init)?)
            .await?;
    if config.websocket_compression || response.status() != 101 {
        return Ok(response);
    }
    decline_compression(&response)
}

const EXTENSIONS_HEADER: &str = "Sec-WebSocket-Extensions";

/// The feed's 101 with permessage-deflate declined.
///
/// Browsers always offer it, and left alone workerd agrees to it and deflates every frame
/// once per socket: about half the CPU of a broadcast, spent to shrink frames that are a
/// few hundred bytes to begin with. Like the `ws` server, the feed leaves it off unless
/// asked (`HOOKFEED_WEBSOCKET_COMPRESSION=on`). workerd negotiates
/// from the response's own `Sec-WebSocket-Extensions` when there is one, and tells the
/// client only what was agreed: a value that names no permessage-deflate agrees nothing.
fn decline_compression(feed_response: &web_sys::Response) -> Answer {
    let headers = web_sys::Headers::new_with_headers(&feed_response.headers())?;
    headers.set(EXTENSIONS_HEADER, "identity")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(101);
    init.set_headers(&headers);
    // `webSocket` is the Workers runtime's addition to ResponseInit; web-sys does not know it.
    let web_socket = JsValue::from_str("webSocket");
    js_sys::Reflect::set(&init, &web_socket, &js_sys::Reflect::get(feed_response, &web_socket)?)?;
    Ok(web_sys::Response::new_with_opt_str_and_init(None, &init)?)
}

/// `GET /docs/{collection}[/{id}]`: the current documents, for clients that poll.
async fn documents(req: Request, env: &Env, config: &Config, collection: &str, id: Option<&str>) -> Answer {
    let claims = match authorize(&req, config) {
        Ok(claims) => claims,
        Err(reply) => return reply.into_raw(),
    };
    let mut url = Url::parse("https://feed/docs")?;
    match id {
        Some(id) => {
            let path = match hookfeed_core::path::DocPath::new(collection, id) {
                Ok(path) => path,
                Err(e) => return Reply::BadRequest(e.to_string()).into_raw(),
            };
            if let Err(e) = claims.authorize_document(&path) {
                return Reply::Token(e).into_raw();
            }
            url.query_pairs_mut().append_pair("path", path.as_str());
        }
        None => {
            if let Err(e) = hookfeed_core::path::check_collection(collection) {
                return Reply::BadRequest(e.to_string()).into_raw();
            }
            if let Err(e) = claims.authorize_collection(collection) {
                return Reply::Token(e).into_raw();
            }
            url.query_pairs_mut().append_pair("collection", collection);
        }
    }
    forward_get(env, &claims.tenant, url.as_str()).await
}

/// `GET /deliveries?tenant=&source=&limit=`: the delivery log, newest first (admin token).
async fn deliveries(req: Request, env: &Env, config: &Config) -> Answer {
    let Some(admin) = &config.admin_token else { return Reply::AdminDisabled.into_raw() };
    let given =
        req.headers().get("authorization")?.and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let Some(given) = given else {
        return Reply::MissingToken("pass the ADMIN_TOKEN as Authorization: Bearer").into_raw();
    };
    if !bool::from(given.as_bytes().ct_eq(admin.expose())) {
        return Reply::Token(hookfeed_core::token::TokenError::Forged).into_raw();
    }
    let tenant = query(&req, "tenant")
        .or_else(|| config.sources.first().map(|s| s.tenant.clone()))
        .unwrap_or_else(|| hookfeed_core::source::DEFAULT_TENANT.to_owned());
    let mut url = Url::parse("https://feed/deliveries")?;
    for name in ["source", "limit", "outcome"] {
        if let Some(value) = query(&req, name) {
            url.query_pairs_mut().append_pair(name, &value);
        }
    }
    forward_get(env, &tenant, url.as_str()).await
}

/// `GET /healthz`: configuration loads, and each tenant's feed answers from SQLite.
async fn healthz(env: &Env, config: &Config) -> Answer {
    let tenants: Vec<&str> = config.tenants().collect();
    let mut feeds = serde_json::Map::new();
    for tenant in tenants {
        let health = forward_get(env, tenant, "https://feed/health").await?;
        let health: serde_json::Value = worker::Response::from(health).json().await?;
        feeds.insert(tenant.to_owned(), health);
    }
    let sources: Vec<_> = config
        .sources
        .iter()
        .map(|s| json!({"name": s.name, "scheme": s.scheme.name(), "tenant": s.tenant, "secrets": s.secrets.len()}))
        .collect();
    Reply::Json(json!({
        "ok": true,
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources,
        "feeds": feeds,
        "token_secret": !config.token_secrets.is_empty(),
        "admin_api": config.admin_token.is_some(),
        "websocket_compression": config.websocket_compression,
        "dev_mode": config.dev_mode,
    }))
    .into_raw()
}

/// `GET /dev/token` (dev mode only): a one-hour token for every path of the first
/// source's tenant, so the demo page can subscribe without a backend.
fn dev_token(config: &Config) -> Answer {
    let Some(secret) = config.token_secrets.first() else {
        return Reply::BadConfiguration("TOKEN_SECRET is not set".to_owned()).into_raw();
    };
    let tenant = config.sources.first().map_or(hookfeed_core::source::DEFAULT_TENANT, |s| s.tenant.as_str());
    let claims = TokenClaims { tenant: tenant.to_owned(), scopes: vec!["*".to_owned()], exp: now().as_secs() + 3600 };
    Reply::Json(json!({ "token": hookfeed_core::token::mint_token(&claims, secret), "tenant": tenant })).into_raw()
}

/// `POST /dev/send {source, event, set}` (dev mode only): signs a sample delivery with the
/// source's secret, exactly as its provider would, and delivers it to `/hooks/{source}`'s
/// handling. The demo page's buttons use it; nothing about ingest is bypassed.
async fn dev_send(mut req: Request, env: &Env, config: &Config) -> Answer {
    #[derive(serde::Deserialize)]
    struct DevSend {
        source: String,
        event: String,
        #[serde(default)]
        set: serde_json::Map<String, serde_json::Value>,
    }
    let ask: DevSend = match req.json().await {
        Ok(ask) => ask,
        Err(e) => return Reply::BadRequest(format!("expected {{source, event, set}}: {e}")).into_raw(),
    };
    let Some(source) = config.source(&ask.source) else { return Reply::UnknownSource(ask.source).into_raw() };
    let Some(sample) = hookfeed_core::samples::sample(source.scheme, &ask.event) else {
        return Reply::BadRequest(format!("no sample for {} events of type `{}`", source.scheme, ask.event)).into_raw();
    };
    let now = now();
    let event_id = format!("evt_dev_{}_{}", now.as_millis(), (js_sys::Math::random() * 1e9) as u64);
    let overrides: Vec<(String, serde_json::Value)> = ask.set.into_iter().collect();
    let body = match sample.render(&event_id, now, &overrides) {
        Ok(body) => body,
        Err(e) => return Reply::BadRequest(e.to_string()).into_raw(),
    };
    let signing = hookfeed_core::signature::SigningInput {
        body: &body,
        timestamp: now,
        event_id: &event_id,
        event_type: &ask.event,
    };
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    for (name, value) in source.scheme.verifier().sign(&signing, &source.secrets) {
        headers.set(&name, &value)?;
    }
    headers.set(CLIENT_IP_HEADER, "dev")?;
    deliver_to_feed(env, source, headers, Some(JsValue::from(Uint8Array::from(body.as_slice())))).await
}

/// Hands a delivery the Worker made itself (its headers and raw body) to the source's
/// feed, as `POST /hooks/{source}` would.
async fn deliver_to_feed(env: &Env, source: &Source, headers: Headers, body: Option<JsValue>) -> Answer {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers.0);
    if let Some(body) = &body {
        init.set_body(body);
    }
    let url = format!("https://feed/hooks/{}", source.name);
    forward(env, &source.tenant, &web_sys::Request::new_with_str_and_init(&url, &init)?).await
}
