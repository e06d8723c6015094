//! hookfeed's Cloudflare Worker: routes on the edge, one `Feed` Durable Object per tenant.
//!
//! Thin by design: every decision (signatures, events, projection, ordering, tokens,
//! protocol) is made by `hookfeed-core`; this crate translates between the Workers
//! platform and core. `routes` owns HTTP and the trust boundary (every delivery is
//! verified there, before any feed wakes), `refusals` what it refused, `reply` every
//! status code, `feed` the Durable Object, `store` its SQLite, `hop` what the Worker and a
//! feed share, `config` the environment.

mod config;
mod feed;
mod hop;
mod hub;
mod identity;
mod refusals;
mod reply;
mod routes;
mod store;
mod subscribers;
mod webcrypto;

pub use feed::Feed;

use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::Context;
use worker::Env;

/// The Worker's `fetch` handler. Written out rather than with `#[event(fetch)]`, so that
/// requests stay the platform's own (converting one to the `worker` crate's reads
/// properties, `cf` among them, that no route needs).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> js_sys::Promise {
    routes::respond(req, env, ctx)
}
