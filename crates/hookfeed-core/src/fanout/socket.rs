//! A subscriber socket's state: what it remembers across hibernation (its token's claims,
//! its listens, its client address), and each client frame checked against the token and
//! the per-socket limits.

use serde::{Deserialize, Serialize};

use crate::protocol::{parse_client_message, ClientMessage, ErrorCode, ListenRequest, ServerMessage, Target};
use crate::query::Filter;
use crate::time::UnixTime;
use crate::token::TokenClaims;

/// A socket's identity within one feed.
pub type SocketId = u64;
/// Most listens one socket may hold.
pub const MAX_LISTENS_PER_SOCKET: usize = 100;
/// The platform's limit on a hibernating socket's attachment.
pub const MAX_ATTACHMENT_BYTES: usize = 16 * 1024;
/// The attachment format's version, so a deploy can read older sockets' state.
pub const SOCKET_STATE_VERSION: u8 = 1;

/// One active listen of a socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listen {
    /// The client's id for it.
    pub id: u32,
    /// What it watches.
    pub target: Target,
    /// The condition an owner-scoped token puts on what it shows (`user_id == sub`), from
    /// [`TokenClaims::access`]: a document that does not meet it is not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Filter>,
}

/// What a socket remembers across hibernation: who it is, what its token grants, what it
/// listens to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketState {
    /// Format version.
    pub v: u8,
    /// Its id within the feed.
    pub sid: SocketId,
    /// The subscriber token's claims, checked at the upgrade.
    pub claims: TokenClaims,
    /// Its listens.
    pub listens: Vec<Listen>,
    /// The client address it was opened from, for the per-address socket limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Whether it reads batched frames (it picked
    /// [`BATCH_SUBPROTOCOL`](hookfeed_wire::BATCH_SUBPROTOCOL)): see [`Outbox`](super::Outbox).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batched: bool,
}

/// What a client frame asks the feed to do, once checked.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketAction {
    /// Register this listen and answer with a snapshot, showing only documents that meet
    /// the guard, if any ([`Listen::guard`]).
    Listen(ListenRequest, Option<Filter>),
    /// Drop this listen (with the target it had, to unindex it).
    Unlisten(Listen),
    /// Nothing to do (unlisten of an unknown id: unsubscribing is idempotent).
    Nothing,
}

fn refuse(id: Option<u32>, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error { id, code, message: message.into() }
}

impl SocketState {
    /// A new socket's state.
    pub fn new(sid: SocketId, claims: TokenClaims) -> Self {
        Self { v: SOCKET_STATE_VERSION, sid, claims, listens: Vec::new(), client: None, batched: false }
    }

    /// The same state, remembering the client address it was opened from (cut to
    /// [`MAX_CLIENT_LEN`](crate::refusal::MAX_CLIENT_LEN): the attachment is small).
    pub fn from_client(mut self, client: &str) -> Self {
        self.client = Some(crate::refusal::truncate(client, crate::refusal::MAX_CLIENT_LEN).to_owned());
        self
    }

    /// The same state, reading batched frames or not.
    pub fn reading_batches(mut self, batched: bool) -> Self {
        self.batched = batched;
        self
    }

    /// Ends every listen of a socket whose token has expired: the listens are dropped,
    /// and each gets an `unauthenticated` error, so that the client refreshes its token
    /// and listens again from where it was (`since`). Returns the dropped listens, to
    /// unindex, and the frames to send.
    pub fn expire(&mut self) -> (Vec<Listen>, Vec<ServerMessage>) {
        let dropped = std::mem::take(&mut self.listens);
        let frames = dropped
            .iter()
            .map(|l| {
                refuse(
                    Some(l.id),
                    ErrorCode::Unauthenticated,
                    "token expired: refresh it and listen again (since the last seq) to resume",
                )
            })
            .collect();
        (dropped, frames)
    }

    /// Checks one client frame against the token and the limits, and records the
    /// listen or unlisten. On refusal, the error frame to send back.
    pub fn handle_frame(&mut self, frame: &str, now: UnixTime) -> Result<SocketAction, ServerMessage> {
        let message =
            parse_client_message(frame).map_err(|e| refuse(None, ErrorCode::InvalidArgument, e.to_string()))?;
        match message {
            ClientMessage::Unlisten { id } => Ok(match self.listens.iter().position(|l| l.id == id) {
                Some(i) => SocketAction::Unlisten(self.listens.remove(i)),
                None => SocketAction::Nothing,
            }),
            ClientMessage::Listen(mut request) => {
                let id = Some(request.id);
                if self.claims.expired(now) {
                    return Err(refuse(id, ErrorCode::Unauthenticated, "token expired: reconnect with a fresh token"));
                }
                let guard =
                    self.claims.access(&request.target).map_err(|e| refuse(id, ErrorCode::from(&e), e.to_string()))?;
                // A resume names what changed after `since`, removals included: only a token
                // that reads the whole target may have one. Any other listen (an owner's
                // query, an owner-guarded document) gets a full snapshot of what it may read
                // now, so a resume reveals no path, seq or existence outside its view.
                if !self.claims.resumes(&request.target) {
                    request.since = None;
                }
                if self.listens.iter().any(|l| l.id == request.id) {
                    return Err(refuse(
                        id,
                        ErrorCode::InvalidArgument,
                        format!("listen id {} is already in use", request.id),
                    ));
                }
                if self.listens.len() >= MAX_LISTENS_PER_SOCKET {
                    return Err(refuse(
                        id,
                        ErrorCode::ResourceExhausted,
                        format!(
                            "at most {MAX_LISTENS_PER_SOCKET} listens per connection: unlisten first, or open another"
                        ),
                    ));
                }
                self.listens.push(Listen { id: request.id, target: request.target.clone(), guard: guard.clone() });
                if self.attachment_len() > MAX_ATTACHMENT_BYTES {
                    self.listens.pop();
                    return Err(refuse(
                        id,
                        ErrorCode::ResourceExhausted,
                        "this connection's listens exceed 16 KiB: open another connection",
                    ));
                }
                Ok(SocketAction::Listen(request, guard))
            }
        }
    }

    /// The serialized attachment's size.
    pub fn attachment_len(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }
}
