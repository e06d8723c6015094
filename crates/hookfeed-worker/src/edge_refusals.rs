//! What this edge isolate refused, and each client address's budget of refusals: refused
//! deliveries are recorded in the isolate's bounded memory ([`RefusalLog`]) and counted
//! per client address by the platform's rate limiter (the `REFUSALS` `[[ratelimits]]`
//! binding), never stored by a feed.
//!
//! What to keep and how much is core's ([`hookfeed_core::refusal`]); this module holds
//! the isolate's copy and talks to the binding.

use std::cell::RefCell;

use hookfeed_core::rate::RateLimited;
use hookfeed_core::refusal::{Refusal, RefusalLimiter, RefusalLog};
use hookfeed_core::UnixTime;
use js_sys::futures::{future_to_promise, JsFuture};
use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::Context;
use worker::Env;

use crate::reply::Reply;

/// The rate-limiting binding that counts refusals per client address (wrangler.toml).
pub const BINDING: &str = "REFUSALS";
/// The binding's period: an address over its budget is refused for this long without a
/// call to the binding. Cloudflare's rate limiter counts over 10 s or 60 s windows.
const BLOCK_MS: i64 = 60_000;

thread_local! {
    static LOG: RefCell<RefusalLog> = RefCell::new(RefusalLog::default());
    static LIMITER: RefCell<RefusalLimiter> = RefCell::new(RefusalLimiter::default());
}

/// If `client` has spent its budget of refusals: the 429 to answer, before anything else.
pub fn blocked(client: &str, now: UnixTime) -> Option<RateLimited> {
    let until = LIMITER.with(|l| l.borrow().blocked_until(client, now))?;
    let retry_after_secs = ((until.as_millis() - now.as_millis() + 999) / 1000).max(1) as u64;
    Some(RateLimited { retry_after_secs })
}

/// Records a refusal in this isolate's log and the console (never a secret or a MAC:
/// the reply's message is what the sender sees too).
pub fn record(source: &str, known: bool, client: &str, reply: &Reply, now: UnixTime) {
    let message = reply.message();
    worker::console_log!("refused delivery to {}: {} ({message})", hookfeed_core::refusal::quote(source), reply.code());
    let refusal = Refusal {
        at: now,
        source: source.to_owned(),
        code: reply.code(),
        status: reply.status(),
        message,
        client: client.to_owned(),
    };
    LOG.with(|log| log.borrow_mut().record(refusal, known));
}

/// Charges one refusal to `client` at the platform's rate limiter, in the background (the
/// refusal is answered at once). Once the binding says no, the address is refused locally
/// for one period. Without the binding (not configured), refusals are not limited.
pub fn charge(env: &Env, ctx: &Context, client: &str, now: UnixTime) {
    let Some(limit) = limit_call(env, client) else { return };
    let client = client.to_owned();
    let _ = ctx.wait_until(&future_to_promise(async move {
        // A failed call allows: the limiter protects capacity, it is not a security check.
        let allowed = JsFuture::from(limit)
            .await
            .ok()
            .and_then(|outcome| js_sys::Reflect::get(&outcome, &JsValue::from_str("success")).ok())
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !allowed {
            LIMITER.with(|l| l.borrow_mut().block(&client, UnixTime(now.as_millis() + BLOCK_MS), now));
        }
        Ok(JsValue::UNDEFINED)
    }));
}

/// `REFUSALS.limit({ key: client })`, if the binding is configured.
fn limit_call(env: &Env, client: &str) -> Option<Promise> {
    let binding = js_sys::Reflect::get(env, &JsValue::from_str(BINDING)).ok().filter(|b| !b.is_undefined())?;
    let limit: js_sys::Function = js_sys::Reflect::get(&binding, &JsValue::from_str("limit")).ok()?.dyn_into().ok()?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(client)).ok()?;
    limit.call1(&binding, &options).ok()?.dyn_into().ok()
}

/// Whether the `REFUSALS` binding is configured.
pub fn limiter_configured(env: &Env) -> bool {
    js_sys::Reflect::get(env, &JsValue::from_str(BINDING)).is_ok_and(|b| !b.is_undefined())
}

/// Runs `f` over this isolate's refusal log.
pub fn with_log<T>(f: impl FnOnce(&RefusalLog) -> T) -> T {
    LOG.with(|log| f(&log.borrow()))
}
