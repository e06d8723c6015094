//! `GET /feed`: a subscriber's WebSocket. The token is checked here, before the upgrade;
//! the tenant's feed (or one of its hubs) then accepts the socket with the hibernation
//! API.

use wasm_bindgen::JsValue;
use worker::{Env, Request};

use super::extract::subscriber;
use super::{forward, forward_to, hub, Answer, Handled};
use crate::config::Config;
use crate::hop::{CLAIMS_HEADER, CLIENT_IP_HEADER, HUB_INDEX_HEADER};
use crate::reply::Reply;

const EXTENSIONS_HEADER: &str = "Sec-WebSocket-Extensions";

/// Checks the token before the upgrade, then hands the socket to the tenant's feed, or
/// to one of its hubs when the tenant is spread over hubs.
pub async fn subscribe(req: Request, env: &Env, config: &Config) -> Handled {
    if !req.headers().get("upgrade")?.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(Reply::UpgradeRequired.into());
    }
    let claims = subscriber(&req, config).await?;
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
        // feed (`hub/`). Placement only spreads load; any hub serves any listen exactly.
        let client = req.headers().get(CLIENT_IP_HEADER)?.unwrap_or_default();
        let nonce = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        let index = hookfeed_core::hub::place(&client, nonce, hubs);
        headers.set(HUB_INDEX_HEADER, &index.to_string())?;
        let hub_request = web_sys::Request::new_with_str_and_init("https://hub/subscribe", &init)?;
        forward_to(hub(env, &claims.tenant, index)?, &hub_request).await?
    };
    if config.websocket_compression || response.status() != 101 {
        return Ok(response);
    }
    Ok(decline_compression(&response)?)
}

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
