//! hookfeed's decisions, with no I/O and no clock: callers pass bytes, headers and `now`.
//!
//! A webhook delivery flows through this crate in four steps:
//!
//! 1. [`signature`]: check the delivery's HMAC signature under its source's
//!    [`BuiltinScheme`] (percify, twin-actor, standard-webhooks, stripe, github) or configured
//!    [`HmacProfile`](signature::HmacProfile), and its replay window.
//! 2. [`delivery`]: read the verified body, in the scheme's format, as one normalized
//!    [`Event`]; only [`verify_delivery`] constructs the [`VerifiedDelivery`] that holds it.
//! 3. [`projection`]: turn the event into an update of a document (`projects/42`) by a
//!    [`ProjectionRule`](projection::ProjectionRule).
//! 4. [`ledger`]: dedup by signed content ([`replay`]) and by (source, event id), order by
//!    `created`, and merge the update into the stored document so that any order of any
//!    duplicates converges.
//!
//! Subscribers hold a [`token`] and speak the [`protocol`]. HMAC itself, for schemes and
//! tokens alike, is [`mac`].
//!
//! The crate's README draws the module graph (a DAG, which a test keeps so) and lists the
//! steps to add a signature scheme.
//!
//! The Cloudflare Worker, the browser module and the CLI are thin translations of these
//! modules to their platforms.

pub mod batch;
pub mod delivery;
pub mod delivery_log;
pub mod event;
pub mod fanout;
pub mod hub;
pub mod identity;
pub mod ledger;
pub mod listens;
pub mod mac;
pub mod path;
pub mod projection;
pub mod protocol;
pub mod pushdown;
pub mod query;
pub mod rate;
pub mod refusal;
pub mod replay;
pub mod samples;
pub mod secret;
pub mod signature;
pub mod source;
pub mod time;
pub mod token;

pub use delivery::{begin_delivery, verify_delivery, DeliveryError, PendingDelivery, VerifiedDelivery};
pub use event::Event;
pub use secret::Secret;
pub use signature::{BuiltinScheme, SignatureError};
pub use source::Source;
pub use time::UnixTime;

/// How much of a name from outside an error message may quote (see [`refusal::truncate`]).
pub const MAX_QUOTED_LEN: usize = 80;
