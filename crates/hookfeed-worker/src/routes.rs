//! The Worker's routes: the trust boundary. Everything that can refuse a request without
//! state is decided here, in the stateless Worker, before any feed is woken: a delivery's
//! body cap, signature, replay window and event shape; a subscriber's token. Only what
//! passes reaches the tenant's `Feed` object.
//!
//! ```text
//! POST /hooks/{source}            a provider's delivery
//! GET  /feed                      WebSocket for subscribers (token in Sec-WebSocket-Protocol or ?token=)
//! GET  /docs/{collection}[/{id}]  documents, for clients that poll (subscriber token)
//! GET  /deliveries                the receiving side's delivery log (admin token)
//! GET  /healthz                   configuration and storage check
//! ```

use futures_util::StreamExt;
use hookfeed_core::identity::{check_token, CheckedToken};
use hookfeed_core::log::{page, LogCursor, LogOutcome, LogQuery};
use hookfeed_core::query::Filter;
use hookfeed_core::signature::URL_HEADER;
use hookfeed_core::source::Source;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::{begin_delivery, verify_delivery, UnixTime, VerifiedDelivery};
use js_sys::futures::{future_to_promise, JsFuture};
use js_sys::Promise;
use js_sys::Uint8Array;
use serde_json::json;
use subtle::ConstantTimeEq;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::Context;
use worker::{Env, Request, Result, Url};

use crate::config::{self, Config};
use crate::hop::{
    now, query, CLAIMS_HEADER, CLIENT_IP_HEADER, DROP_HUBS_PATH, DUPLICATE_HEADER, GUARD_PARAM, HANDOFF_HEADER,
    HANDOFF_PATH, HUB_INDEX_HEADER,
};
use crate::refusals;
use crate::reply::Reply;
use crate::webcrypto;

/// The Durable Object binding of the feeds.
/// The binding of the `Feed` Durable Object class.
pub const FEED_BINDING: &str = "FEED";
/// The binding of the `Hub` Durable Object class.
pub const HUB_BINDING: &str = "HUB";

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
/// A delivery is answered without a Rust future: the Worker only routes it, so its answer
/// is the feed's own response promise, and no task is queued and polled for it. Every
/// other route runs as a future.
pub fn respond(req: web_sys::Request, env: Env, ctx: Context) -> Promise {
    let route = Route::of(&req.method(), &req.url());
    future_to_promise(async move { handle(route, req, env, ctx).await.map(JsValue::from).map_err(JsValue::from) })
}

/// Answers `route`.
async fn handle(route: Route, req: web_sys::Request, env: Env, ctx: Context) -> Answer {
    let config = match config::load(&env) {
        Ok(config) => config,
        Err(e) => return Reply::BadConfiguration(e.to_string()).into_raw(),
    };
    match route {
        Route::Ingest(source) => ingest(&req, &env, &ctx, &config, &source).await,
        Route::IngestMethodNotAllowed => Reply::MethodNotAllowed("POST").into_raw(),
        Route::Feed => subscribe(req.into(), &env, &config).await,
        Route::Docs { collection, id } => documents(req.into(), &env, &config, &collection, id.as_deref()).await,
        Route::Deliveries => deliveries(req.into(), &env, &config).await,
        Route::Healthz => healthz(&req.into(), &env, &config).await,
        Route::DevToken if config.dev_mode => dev_token(&config),
        Route::DevSend if config.dev_mode => dev_send(req.into(), &env, &config).await,
        Route::DevSign if config.dev_mode => dev_sign(req.into(), &config).await,
        Route::DevDeliveries if config.dev_mode => delivery_log(&req.into(), &env, &config).await,
        // Fault injection for tests: the tenant's feed closes its hubs' upstream sockets.
        Route::DevDropHubs if config.dev_mode => {
            let tenant = config.tenants().next().unwrap_or(hookfeed_core::source::DEFAULT_TENANT).to_owned();
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            let url = format!("https://feed{DROP_HUBS_PATH}");
            forward(&env, &tenant, &web_sys::Request::new_with_str_and_init(&url, &init)?).await
        }
        Route::DevToken
        | Route::DevSend
        | Route::DevSign
        | Route::DevDeliveries
        | Route::DevDropHubs
        | Route::NotFound => Reply::NotFound("no such route: see README.md for the API".to_owned()).into_raw(),
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

/// The client's address, as Cloudflare's edge sets it.
fn client_address(headers: &web_sys::Headers) -> String {
    headers.get(CLIENT_IP_HEADER).ok().flatten().unwrap_or_else(|| "unknown".to_owned())
}

/// The body of a platform request, up to `cap` bytes: the platform's buffer (handed on to
/// the feed as it is) and a copy in wasm (to verify). `None` as soon as it is longer.
async fn read_body(req: &web_sys::Request, cap: usize) -> Result<Option<(JsValue, Vec<u8>)>> {
    match declared_length(&req.headers()) {
        Some(len) if len > cap => Ok(None),
        // Framed by the declared length, so it cannot outgrow it: read it in one go.
        Some(_) => {
            let buffer = JsFuture::from(req.array_buffer()?).await?;
            let bytes = Uint8Array::new(&buffer).to_vec();
            Ok(Some((buffer, bytes)))
        }
        // No length (chunked): count while reading, and stop at the cap.
        None => {
            // The same request object (`Clone::clone`; the inherent `clone` would tee the body).
            let mut req = Request::from(Clone::clone(req));
            let Some(bytes) = read_capped(&mut req, cap).await? else { return Ok(None) };
            Ok(Some((Uint8Array::from(bytes.as_slice()).into(), bytes)))
        }
    }
}

/// `POST /hooks/{source}`: the whole check of a delivery, here at the edge. In order, each
/// cheaper than the next: the client's budget of refusals, the source, the declared
/// length, the signature headers and signed timestamp ([`begin_delivery`], before a byte
/// of the body is read), the body as it streams, then the MAC and the event's shape.
/// A refusal is answered here, recorded in this isolate's bounded [`refusals`] log, and
/// charged to the client's address; no feed ever sees it. Only a verified delivery is
/// handed to the tenant's feed ([`hand_off`]).
async fn ingest(req: &web_sys::Request, env: &Env, ctx: &Context, config: &Config, name: &str) -> Answer {
    let now = now();
    let client = client_address(&req.headers());
    let known = config.source(name).is_some();
    let refuse = |reply: Reply| -> Answer {
        refusals::record(name, known, &client, &reply, now);
        if !matches!(reply, Reply::RateLimited(_)) {
            refusals::charge(env, ctx, &client, now);
        }
        reply.into_raw()
    };
    if let Some(limited) = refusals::blocked(&client, now) {
        return refuse(Reply::RateLimited(limited));
    }
    let Some(source) = config.source(name) else { return refuse(Reply::UnknownSource(name.to_owned())) };
    if declared_length(&req.headers()).is_some_and(|len| len > source.max_body_bytes) {
        return refuse(Reply::TooLarge(source.max_body_bytes));
    }
    // Only the headers the scheme reads cross into wasm; a profile that signs `{url}`
    // gets the URL the provider posted to as a pseudo-header.
    let request_headers = req.headers();
    let mut headers: Vec<(&str, String)> = Vec::with_capacity(3);
    for header in source.scheme.verifier().header_names() {
        let value = if header == URL_HEADER { Some(req.url()) } else { request_headers.get(header)? };
        if let Some(value) = value {
            headers.push((header, value));
        }
    }
    // Missing, garbled or stale signature headers are refused before the body is read.
    let pending = match begin_delivery(source, &headers, now) {
        Ok(pending) => pending,
        Err(e) => return refuse(Reply::Rejected(e)),
    };
    let Some((buffer, body)) = read_body(req, source.max_body_bytes).await? else {
        return refuse(Reply::TooLarge(source.max_body_bytes));
    };
    let large = config.webcrypto_min_bytes.is_some_and(|min| body.len() >= min as usize);
    let verified = if large {
        let macs = webcrypto::macs(source, &pending, &buffer).await?;
        pending.finish(&body, &macs)
    } else {
        pending.finish_in_software(&body)
    };
    let delivery = match verified {
        Ok(delivery) => delivery,
        Err(e) => return refuse(Reply::Rejected(e)),
    };
    let answer = hand_off(env, source, &delivery, &buffer).await?;
    // The feed refuses only what the edge cannot know: a source over its rate limit
    // (verified deliveries only), or storage that failed. Those are refusals too.
    if let Some(reply) = Reply::from_feed_refusal(answer.status(), &answer.headers()) {
        refusals::record(name, true, &client, &reply, now);
    }
    // A duplicate costs its sender what a refusal does: one captured delivery posted in a
    // loop is cut off per address, and spends none of the source's budget (the feed
    // counts only new events against it).
    if answer.headers().has(DUPLICATE_HEADER)? {
        refusals::charge(env, ctx, &client, now);
    }
    Ok(answer)
}

/// Hands a verified delivery to its tenant's feed: the raw body as received (the
/// platform's buffer, not copied back out of wasm), and the
/// [`Handoff`](hookfeed_core::delivery::Handoff) in a header.
async fn hand_off(env: &Env, source: &Source, delivery: &VerifiedDelivery, body: &JsValue) -> Answer {
    let headers = web_sys::Headers::new()?;
    headers.set(HANDOFF_HEADER, &serde_json::to_string(&delivery.handoff())?)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(body);
    let url = format!("https://feed{HANDOFF_PATH}");
    forward(env, &source.tenant, &web_sys::Request::new_with_str_and_init(&url, &init)?).await
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
    // Beside the subprotocol, the entry shaped as a token (a JWT: three dotted parts).
    protocols.split(',').map(str::trim).find(|p| hookfeed_wire::token::parts(p).is_some()).map(str::to_owned)
}

/// Checks a subscriber token: a `TOKEN_SECRET` JWT (HS256), or an identity provider's
/// (RS256/ES256, `HOOKFEED_IDENTITY`), whose keys may have to be fetched first.
///
/// Every token refused before its signature was verified gets one answer (401
/// `invalid_token`, one message): the reason goes to the log only, never the token.
async fn authorize(req: &Request, config: &Config) -> std::result::Result<TokenClaims, Reply> {
    let token = token_of(req).ok_or(Reply::MissingToken(
        "pass a subscriber token (`hookfeed token`) as ?token=, Authorization: Bearer, or a Sec-WebSocket-Protocol entry",
    ))?;
    let tenant = query(req, "tenant");
    let checked = check_token(&token, &config.token_secrets, &config.identity, tenant.as_deref(), now());
    let verified = match checked {
        Ok(CheckedToken::Verified(claims)) => Ok(claims),
        Ok(CheckedToken::Pending(pending)) => crate::identity::verify(pending).await,
        Err(e) => Err(e),
    };
    let claims = verified.map_err(|e| {
        worker::console_log!("subscriber token refused: {e}");
        Reply::Token(e.public())
    })?;
    // A tenant no source feeds would answer every listen with nothing, forever: say so,
    // without naming the tenants that exist (they are other customers').
    if !config.tenants().any(|t| t == claims.tenant) {
        return Err(Reply::NotFound(format!(
            "no source feeds tenant `{}`: mint the token for a tenant HOOKFEED_SOURCES names",
            hookfeed_core::refusal::quote(&claims.tenant)
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
    let claims = match authorize(&req, config).await {
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
    let hubs = config.hubs.hubs_for(&claims.tenant);
    let response = if hubs == 0 {
        forward(env, &claims.tenant, &web_sys::Request::new_with_str_and_init("https://feed/subscribe", &init)?).await?
    } else {
        // A tenant spread over hubs: the socket goes to one of them, which streams from the
        // feed (`hub.rs`). Placement only spreads load; any hub serves any listen exactly.
        let client = req.headers().get(CLIENT_IP_HEADER)?.unwrap_or_default();
        let nonce = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        let index = hookfeed_core::hub::place(&client, nonce, hubs);
        headers.set(HUB_INDEX_HEADER, &index.to_string())?;
        let stub =
            env.durable_object(HUB_BINDING)?.id_from_name(&format!("{}/hub/{index}", claims.tenant))?.get_stub()?;
        let hub_request = web_sys::Request::new_with_str_and_init("https://hub/subscribe", &init)?;
        let stub: worker::worker_sys::DurableObject = stub.into_rpc();
        JsFuture::from(stub.fetch_with_request(&hub_request)?).await?.dyn_into()?
    };
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
    let claims = match authorize(&req, config).await {
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
            let guard = match claims.authorize_document(&path) {
                Ok(guard) => guard,
                Err(e) => return Reply::Token(e).into_raw(),
            };
            url.query_pairs_mut().append_pair("path", path.as_str());
            append_guard(&mut url, guard)?;
        }
        None => {
            if let Err(e) = hookfeed_core::path::check_collection(collection) {
                return Reply::BadRequest(e.to_string()).into_raw();
            }
            let guard = match claims.authorize_collection(collection) {
                Ok(guard) => guard,
                Err(e) => return Reply::Token(e).into_raw(),
            };
            url.query_pairs_mut().append_pair("collection", collection);
            append_guard(&mut url, guard)?;
        }
    }
    forward_get(env, &claims.tenant, url.as_str()).await
}

/// Tells the feed the owner condition a token reads `GET /docs` under, if any: the
/// feed answers only with documents that meet it (a document that does not is not found).
fn append_guard(url: &mut Url, guard: Option<Filter>) -> Result<()> {
    if let Some(guard) = guard {
        url.query_pairs_mut().append_pair(GUARD_PARAM, &serde_json::to_string(&guard)?);
    }
    Ok(())
}

/// Checks `Authorization: Bearer <ADMIN_TOKEN>`, in constant time.
fn admin(req: &Request, config: &Config) -> std::result::Result<(), Reply> {
    let Some(admin) = &config.admin_token else { return Err(Reply::AdminDisabled) };
    let given = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let Some(given) = given else {
        return Err(Reply::MissingToken("pass the ADMIN_TOKEN as Authorization: Bearer"));
    };
    if bool::from(given.as_bytes().ct_eq(admin.expose())) {
        Ok(())
    } else {
        Err(Reply::Token(hookfeed_core::token::TokenError::Forged))
    }
}

/// `GET /deliveries?tenant=&source=&outcome=&event_id=&before=&limit=`: one page of the
/// delivery log, newest first (admin token; dev mode also serves it at `/dev/deliveries`).
/// What the feed stored (stored, out of order, duplicate, conflict), merged with what this
/// edge isolate refused (kept in memory only: see [`refusals`]). `next`, when present,
/// is the `before` of the next page.
async fn deliveries(req: Request, env: &Env, config: &Config) -> Answer {
    if let Err(reply) = admin(&req, config) {
        return reply.into_raw();
    }
    delivery_log(&req, env, config).await
}

async fn delivery_log(req: &Request, env: &Env, config: &Config) -> Answer {
    let log_query = match LogQuery::from_params(|name| query(req, name)) {
        Ok(log_query) => log_query,
        Err(e) => return Reply::BadRequest(e.to_string()).into_raw(),
    };
    let tenant = query(req, "tenant")
        .or_else(|| config.sources.first().map(|s| s.tenant.clone()))
        .unwrap_or_else(|| hookfeed_core::source::DEFAULT_TENANT.to_owned());
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
    let stored: serde_json::Value = worker::Response::from(stored).json().await?;
    let mut rows: Vec<(LogCursor, serde_json::Value)> = stored["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| Some((LogCursor::parse(row["cursor"].as_str()?).ok()?, row.clone())))
        .collect();
    if log_query.wants_refusals() {
        let of_tenant = |name: &str| {
            log_query.source.as_deref().is_none_or(|s| s == name)
                && (config.source(name).is_some_and(|s| s.tenant == tenant)
                    || name == hookfeed_core::refusal::UNKNOWN_SOURCE)
        };
        refusals::with_log(|log| {
            let older = log
                .recent(of_tenant)
                .map(|(number, r)| (LogCursor::refusal(r.at.as_millis(), number), r))
                .filter(|(cursor, _)| log_query.admits(cursor))
                .take(log_query.limit);
            rows.extend(older.map(|(cursor, r)| {
                let row = json!({
                    "cursor": cursor.to_string(),
                    "at": r.at.to_rfc3339(),
                    "source": r.source,
                    "event_id": null,
                    "event_type": null,
                    "outcome": LogOutcome::Rejected.as_str(),
                    "status": r.status,
                    "code": r.code,
                    "message": r.message,
                    "client": r.client,
                    "seq": null,
                });
                (cursor, row)
            }));
        });
    }
    let (rows, next) = page(rows, log_query.limit);
    let deliveries: Vec<serde_json::Value> = rows.into_iter().map(|(_, row)| row).collect();
    Reply::Json(json!({ "deliveries": deliveries, "next": next.map(|n| n.to_string()) })).into_raw()
}

/// `GET /healthz`: `{ok, version}` for anyone (the configuration loads). With the admin
/// token, or in dev mode (the demo page), also the configuration's shape, each feed's
/// figures and the refusal counters; never a secret.
async fn healthz(req: &Request, env: &Env, config: &Config) -> Answer {
    if !config.dev_mode && admin(req, config).is_err() {
        return Reply::Json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") })).into_raw();
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
                let stub =
                    env.durable_object(HUB_BINDING)?.id_from_name(&format!("{tenant}/hub/{index}"))?.get_stub()?;
                let mut answer = stub.fetch_with_str("https://hub/health").await?;
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
    let refused = refusals::with_log(|log| {
        log.counts().map(|(source, counts)| (source.to_owned(), json!(counts))).collect::<serde_json::Map<_, _>>()
    });
    Reply::Json(json!({
        "ok": true,
        "version": env!("CARGO_PKG_VERSION"),
        "sources": sources,
        "feeds": feeds,
        "refused": refused,
        "refusal_limiter": refusals::limiter_configured(env),
        "token_secret": !config.token_secrets.is_empty(),
        "identity_providers": config.identity.iter().map(|p| json!({"tenant": p.tenant, "issuer": p.issuer})).collect::<Vec<_>>(),
        "admin_api": config.admin_token.is_some(),
        "websocket_compression": config.websocket_compression,
        "sockets_per_client": config.sockets_per_client,
        "webcrypto_min_bytes": config.webcrypto_min_bytes,
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
    let claims = TokenClaims::new(tenant.to_owned(), vec!["*".to_owned()], now().as_secs() + 3600);
    Reply::Json(json!({ "token": hookfeed_core::token::mint_token(&claims, secret), "tenant": tenant })).into_raw()
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
async fn dev_delivery<'c>(req: &mut Request, config: &'c Config) -> std::result::Result<(&'c Source, Signed), Reply> {
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
    let signing = hookfeed_core::signature::SigningInput {
        body: &body,
        timestamp: now,
        event_id: &event_id,
        event_type: &ask.event,
    };
    let forged;
    let secrets = if ask.forge {
        forged = [hookfeed_core::Secret::from_bytes("not the source's secret")];
        &forged[..]
    } else {
        &source.secrets[..]
    };
    Ok((source, (source.scheme.verifier().sign(&signing, secrets), body)))
}

/// `POST /dev/send {source, event, set}` (dev mode only): signs a sample delivery with the
/// source's secret, exactly as its provider would, then checks it as `POST /hooks/{source}`
/// does ([`verify_delivery`]) and hands it to the feed. The demo page's buttons use it;
/// nothing about ingest is bypassed.
async fn dev_send(mut req: Request, env: &Env, config: &Config) -> Answer {
    let (source, (headers, body)) = match dev_delivery(&mut req, config).await {
        Ok(signed) => signed,
        Err(reply) => return reply.into_raw(),
    };
    let now = now();
    let delivery = match verify_delivery(source, &headers, &body, now) {
        Ok(delivery) => delivery,
        Err(e) => {
            let reply = Reply::Rejected(e);
            refusals::record(&source.name, true, "dev", &reply, now);
            return reply.into_raw();
        }
    };
    hand_off(env, source, &delivery, &Uint8Array::from(body.as_slice()).into()).await
}

/// `POST /dev/sign {source, event, set, older_by_secs?, forge?}` (dev mode only): a
/// sample delivery signed as its provider would sign it (or, with `forge`, as a forger
/// would), not sent: `{path, headers, body}` for the demo page to `POST` to
/// `/hooks/{source}` itself, once or twice, in any order.
async fn dev_sign(mut req: Request, config: &Config) -> Answer {
    match dev_delivery(&mut req, config).await {
        Ok((source, (headers, body))) => Reply::Json(json!({
            "path": format!("/hooks/{}", source.name),
            "headers": headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect::<serde_json::Map<_, _>>(),
            "body": String::from_utf8_lossy(&body),
        }))
        .into_raw(),
        Err(reply) => reply.into_raw(),
    }
}
