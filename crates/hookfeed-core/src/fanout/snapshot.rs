//! A listen's first answer: the snapshot of what its target holds (or, on a resume, what
//! changed after `since`), and the live-only answer to a hub's upstream listen.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::socket::SocketState;
use super::stored::StoredDoc;
use super::window::query_window;
use crate::ledger::Seq;
use crate::path::DocPath;
use crate::protocol::{DocEntry, ListenRequest, ServerMessage, Target};
use crate::query::Filter;

/// The `since` a hub's upstream listen asks with: no documents, only the seq the feed is
/// at, after which every change of the collection streams (a hub loads documents itself).
/// The largest integer JSON carries exactly. Only a hub's socket ([`HUB_CLIENT`]) gets
/// this meaning ([`live_only`]); from anyone else it is a `since` ahead of the feed.
pub const LIVE_ONLY_SINCE: Seq = (1 << 53) - 1;
/// The client address a hub's upstream socket gives, so the feed knows it for one.
pub const HUB_CLIENT: &str = "hub";

/// Whether `request`, on `socket`, is a hub's upstream listen: answered with no documents,
/// only the seq the stream starts after ([`live_start`]).
pub fn live_only(socket: &SocketState, request: &ListenRequest) -> bool {
    socket.client.as_deref() == Some(HUB_CLIENT) && request.since == Some(LIVE_ONLY_SINCE)
}

/// The answer to a hub's upstream listen ([`live_only`]): nothing changed after `head`,
/// and every change after it will stream.
pub fn live_start(listen_id: u32, head: Seq) -> ServerMessage {
    ServerMessage::Snapshot { id: listen_id, seq: head, docs: Vec::new(), since: Some(head), removed: Vec::new() }
}

/// Whether `guard` (if any) lets a listen show a document with `data`.
fn shown(guard: Option<&Filter>, data: &Map<String, Value>) -> bool {
    guard.is_none_or(|g| g.matches(data))
}

/// The first answer to a listen: the target's documents as of `head` (the feed's latest
/// seq), or on a resume (`since`), only what changed after `since`.
///
/// `docs` are the candidate documents: the one document, or the collection's documents
/// (the caller may already have dropped those not changed after `since`). A document the
/// listen's `guard` does not let it show is left out as if it did not exist.
///
/// Resume rule: a delta (changes after `since`, with `removed`) is answered only to a
/// listen without a guard whose `since` is not ahead of `head`. A guarded listen gets a
/// full snapshot whatever `since` says ([`SocketState::handle_frame`] already drops the
/// `since` of every listen its token does not read whole), so its answer is the same for
/// another owner's document as for a missing one; a `since` ahead of the feed (another
/// feed's seq, or made up) gets a full snapshot too, which costs no more than a first
/// listen.
pub fn snapshot(request: &ListenRequest, guard: Option<&Filter>, docs: Vec<StoredDoc>, head: Seq) -> ServerMessage {
    let matches = |d: &StoredDoc| request.target.matches(&d.path, &d.data) && shown(guard, &d.data);
    let since = request.resume_since().filter(|since| guard.is_none() && *since <= head);
    if let Some(since) = since {
        // Only the target's own documents can be among the removed, whatever the caller
        // passed: a document listen names no other path.
        let (current, gone): (Vec<_>, Vec<_>) =
            docs.into_iter().filter(|d| d.seq > since && request.target.holds(&d.path)).partition(matches);
        return ServerMessage::Snapshot {
            id: request.id,
            seq: head,
            docs: current.into_iter().map(|d| DocEntry { path: d.path, data: d.data }).collect(),
            since: Some(since),
            removed: gone.into_iter().map(|d| d.path).collect(),
        };
    }
    let mut current: Vec<StoredDoc> = docs.into_iter().filter(matches).collect();
    if let Target::Collection(q) = &request.target {
        let order: Vec<DocPath> =
            query_window(q, current.iter().map(|d| (&d.path, &d.data))).into_iter().map(|(p, _)| p.clone()).collect();
        let mut by_path: HashMap<DocPath, StoredDoc> = current.drain(..).map(|d| (d.path.clone(), d)).collect();
        current = order.into_iter().filter_map(|p| by_path.remove(&p)).collect();
    }
    ServerMessage::Snapshot {
        id: request.id,
        seq: head,
        docs: current.into_iter().map(|d| DocEntry { path: d.path, data: d.data }).collect(),
        since: None,
        removed: Vec::new(),
    }
}
