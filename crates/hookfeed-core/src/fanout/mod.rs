//! Fan-out decisions: what a subscriber's socket remembers, which listens a change
//! reaches and as what, and what a listen's first snapshot holds.
//!
//! The Durable Object keeps a [`SocketState`] in each hibernating socket's attachment and
//! rebuilds a [`SubscriptionIndex`] from them when it wakes, so an event costs work only
//! for the listens it concerns.
//!
//! One concern per file:
//!
//! | file | holds |
//! |---|---|
//! | `socket.rs` | [`SocketState`]: a socket's token and listens, each client frame checked against them |
//! | `index.rs` | [`SubscriptionIndex`]: which listens a change reaches ([`Recipient`]) |
//! | `window.rs` | limited queries: the documents a `limit(n)` holds, and its delta after a change |
//! | `frame.rs` | [`ChangeFrame`]: a change serialised once, framed per listen |
//! | `outbox.rs` | [`Outbox`]: one turn's messages per socket, batched into one frame where the socket reads them |
//! | `stored.rs` | [`StoredDoc`]: a document with the seq of its last change |
//! | `snapshot.rs` | a listen's first answer ([`snapshot`]), and a hub's live-only upstream listen |

mod frame;
mod index;
mod outbox;
mod snapshot;
mod socket;
mod stored;
mod window;

pub use frame::ChangeFrame;
pub use index::{Recipient, SubscriptionIndex};
pub use outbox::{Outbox, Sends, TextId, MAX_BATCHED_FRAME_BYTES, MAX_JOINED_BYTES, OUTBOX_SEND_AT_BYTES};
pub use snapshot::{live_only, live_start, snapshot, HUB_CLIENT, LIVE_ONLY_SINCE};
pub use socket::{
    Listen, SocketAction, SocketId, SocketState, MAX_ATTACHMENT_BYTES, MAX_LISTENS_PER_SOCKET, SOCKET_STATE_VERSION,
};
pub use stored::StoredDoc;
pub use window::{query_window, rewind, window_delta};

#[cfg(test)]
mod tests;
