//! hookfeed's Cloudflare Worker: routes on the edge, one `Feed` Durable Object per tenant.
//!
//! Thin by design: every decision (signatures, events, projection, ordering, tokens,
//! protocol) is made by `hookfeed-core`; this crate translates between the Workers
//! platform and core. `routes` owns HTTP, `reply` every status code, `feed` the Durable
//! Object, `store` its SQLite, `config` the environment.

mod config;
mod feed;
mod reply;
mod routes;
mod store;

pub use feed::Feed;

use wasm_bindgen::prelude::wasm_bindgen;
use worker::worker_sys::Context;
use worker::Env;

/// The Worker's `fetch` handler. Written out rather than with `#[event(fetch)]`, which
/// makes every request a Rust future: a delivery is answered with its feed's own response
/// promise (see [`routes::respond`]).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> js_sys::Promise {
    routes::respond(req, env)
}
