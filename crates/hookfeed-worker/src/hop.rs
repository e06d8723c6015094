//! The hop from the Worker to a feed: the internal routes and headers both sides use,
//! and the small platform helpers both need.
//!
//! A feed is addressable only through the `FEED` Durable Object binding, which only this
//! Worker holds, and the Worker builds every request it sends a feed (URL, headers,
//! body), never passing on a client's path or these internal headers: so a feed can trust
//! what arrives on them.

use hookfeed_core::UnixTime;
use worker::{Date, Request};

/// The client's address, as Cloudflare's edge sets it (limits are per address).
pub const CLIENT_IP_HEADER: &str = "cf-connecting-ip";
/// The verified token claims of a subscriber, as JSON; the Worker sets it over whatever a
/// client sent.
pub const CLAIMS_HEADER: &str = "x-hookfeed-claims";
/// The owner condition (a [`Filter`](hookfeed_core::query::Filter), as JSON) a
/// subscriber's `GET /docs` reads under; the Worker builds the feed's URL itself.
pub const GUARD_PARAM: &str = "guard";
/// A verified delivery's [`Handoff`](hookfeed_core::delivery::Handoff), as JSON.
pub const HANDOFF_HEADER: &str = "x-hookfeed-handoff";
/// Which hub of its tenant a socket was placed on; the hub echoes it on its 101, so that
/// clients (and tests) can see how sockets spread.
pub const HUB_INDEX_HEADER: &str = "x-hookfeed-hub";
pub use hookfeed_core::fanout::HUB_CLIENT;
/// The feed's fault-injection route (dev mode): closes every hub's upstream socket.
pub const DROP_HUBS_PATH: &str = "/drop-hubs";
/// The feed's route for a hub's loads: `GET ?collection=`, or `POST {"paths": [...]}` for
/// a batch of documents, answered with
/// `{docs: [{path, data, seq}], seq}` (the documents with the seq of their last change,
/// and the feed's seq they are current at).
pub const MIRROR_PATH: &str = "/mirror";
/// Set by the feed on its answer to a delivery it had stored before (a provider's retry,
/// or a replay of captured content): the Worker charges it to the sender's refusal budget,
/// so a replay loop is cut off per address, as forgeries are.
pub const DUPLICATE_HEADER: &str = "x-hookfeed-duplicate";
/// The feed's route for verified deliveries.
pub const HANDOFF_PATH: &str = "/verified";
/// The feed's route for a batch of verified deliveries (group commit): frames as
/// [`hookfeed_core::batch`] defines them, answered with one outcome per delivery.
pub const HANDOFF_BATCH_PATH: &str = "/verified-batch";

/// Now, from the platform's clock (core never reads one).
pub fn now() -> UnixTime {
    UnixTime(Date::now().as_millis() as i64)
}

/// The value of query parameter `name`.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
