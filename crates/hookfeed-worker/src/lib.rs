//! hookfeed's Cloudflare Worker: routes on the edge, one `Feed` Durable Object per tenant.
//!
//! Thin by design: every decision (signatures, events, projection, ordering, tokens,
//! protocol) is made by `hookfeed-core`; this crate translates between the Workers
//! platform and core. Its modules:
//!
//! | module | owns |
//! |---|---|
//! | `routes` | HTTP and the trust boundary: every delivery is verified there, before any feed wakes (one file per route family) |
//! | `edge_refusals` | what this edge isolate refused (its bounded log) and each client address's budget of refusals |
//! | `identity` | identity providers' keys, fetched and cached, and their RS256/ES256 signatures checked with WebCrypto |
//! | `webcrypto` | HMAC of large bodies with the runtime's WebCrypto |
//! | `reply` | every HTTP answer and its status code |
//! | `hop` | what the Worker and a feed share: internal routes, headers, the clock |
//! | `feed` | the `Feed` Durable Object: a tenant's log, documents and sockets |
//! | `hub` | the `Hub` Durable Object: a tenant's sockets spread over more objects |
//! | `subscribers` | subscriber sockets, for the feed and each hub alike |
//! | `store` | the feed's SQLite: every SQL statement |
//! | `config` | the environment, read once per isolate |

mod config;
mod edge_refusals;
mod feed;
mod hop;
mod hub;
mod identity;
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
