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

use worker::{event, Context, Env};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> routes::Answer {
    routes::handle(req, env).await
}
