//! `POST /hooks/{source}`: a provider's delivery, checked whole here at the edge and handed
//! to its tenant's feed only once verified.

use futures_util::StreamExt;
use hookfeed_core::signature::URL_HEADER;
use hookfeed_core::source::Source;
use hookfeed_core::{begin_delivery, VerifiedDelivery};
use js_sys::futures::JsFuture;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use worker::worker_sys::Context;
use worker::{Env, Request, Result};

use super::{Answer, Handled};
use crate::config::Config;
use crate::edge_refusals;
use crate::hop::{now, CLIENT_IP_HEADER, DUPLICATE_HEADER};
use crate::reply::Reply;
use crate::webcrypto;

/// The whole check of a delivery, here at the edge. In order, each cheaper than the
/// next: the client's budget of refusals, the source, the declared length, the signature
/// headers and signed timestamp ([`begin_delivery`], before a byte of the body is read),
/// the body as it streams, then the MAC and the event's shape. A refusal is answered
/// here, recorded in this isolate's bounded log ([`edge_refusals`]), and charged to the
/// client's address; no feed ever sees it. Only a verified delivery is handed to the
/// tenant's feed ([`hand_off`]).
pub async fn ingest(req: &web_sys::Request, env: &Env, ctx: &Context, config: &Config, name: &str) -> Handled {
    let now = now();
    let client = client_address(&req.headers());
    let known = config.source(name).is_some();
    let refuse = |reply: Reply| -> Handled {
        edge_refusals::record(name, known, &client, &reply, now);
        if !matches!(reply, Reply::RateLimited(_)) {
            edge_refusals::charge(env, ctx, &client, now);
        }
        Err(reply.into())
    };
    if let Some(limited) = edge_refusals::blocked(&client, now) {
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
    for header in source.scheme.implementation().header_names() {
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
    let answer = hand_off(env, ctx, source, delivery, &buffer).await?;
    // The feed refuses only what the edge cannot know: a source over its rate limit
    // (verified deliveries only), or storage that failed. Those are refusals too.
    if let Some(reply) = Reply::from_feed_refusal(answer.status(), &answer.headers()) {
        edge_refusals::record(name, true, &client, &reply, now);
    }
    // A duplicate costs its sender what a refusal does: one captured delivery posted in a
    // loop is cut off per address, and spends none of the source's budget (the feed
    // counts only new events against it).
    if answer.headers().has(DUPLICATE_HEADER)? {
        edge_refusals::charge(env, ctx, &client, now);
    }
    Ok(answer)
}

/// Hands a verified delivery to its tenant's feed, alone or with others in flight to it
/// together ([`group::hand_off`](super::group::hand_off)): the raw body as received, and
/// the [`Handoff`](hookfeed_core::delivery::Handoff). `ctx` is the request's.
pub async fn hand_off(env: &Env, ctx: &Context, source: &Source, delivery: VerifiedDelivery, body: &JsValue) -> Answer {
    let handoff = serde_json::to_string(&delivery.handoff())?;
    super::group::hand_off(env, ctx, &source.tenant, handoff, delivery.into_raw(), body).await
}

/// The client's address, as Cloudflare's edge sets it.
fn client_address(headers: &web_sys::Headers) -> String {
    headers.get(CLIENT_IP_HEADER).ok().flatten().unwrap_or_else(|| "unknown".to_owned())
}

/// The body length `Content-Length` declares, if any.
fn declared_length(headers: &web_sys::Headers) -> Option<usize> {
    headers.get("content-length").ok().flatten().and_then(|v| v.trim().parse().ok())
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

/// Reads a body without a declared length up to `cap` bytes, chunk by chunk; `None` as
/// soon as it is longer, without reading on.
async fn read_capped(req: &mut Request, cap: usize) -> Result<Option<Vec<u8>>> {
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
