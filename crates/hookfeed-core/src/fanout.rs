//! Fan-out decisions: what a subscriber's socket remembers, which listens a change
//! reaches and as what, and what a listen's first snapshot holds.
//!
//! The Durable Object keeps a [`SocketState`] in each hibernating socket's attachment and
//! rebuilds a [`SubscriptionIndex`] from them when it wakes, so an event costs work only
//! for the listens it concerns.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ledger::{ChangeKind, DocChange, Seq};
use crate::path::DocPath;
use crate::protocol::{
    parse_client_message, ClientMessage, CollectionQuery, DocEntry, ErrorCode, ListenRequest, ServerMessage, Target,
};
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

/// Whether `guard` (if any) lets a listen show a document with `data`.
fn shown(guard: Option<&Filter>, data: &Map<String, Value>) -> bool {
    guard.is_none_or(|g| g.matches(data))
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
        Self { v: SOCKET_STATE_VERSION, sid, claims, listens: Vec::new(), client: None }
    }

    /// The same state, remembering the client address it was opened from (cut to
    /// [`MAX_CLIENT_LEN`](crate::refusal::MAX_CLIENT_LEN): the attachment is small).
    pub fn from_client(mut self, client: &str) -> Self {
        self.client = Some(crate::refusal::truncate(client, crate::refusal::MAX_CLIENT_LEN).to_owned());
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

/// Which listens of which sockets watch what: documents by path, queries by collection.
#[derive(Debug, Default)]
pub struct SubscriptionIndex {
    documents: HashMap<DocPath, Vec<(SocketId, u32, Option<Filter>)>>,
    collections: HashMap<String, Vec<(SocketId, u32, CollectionQuery)>>,
    /// Document listens per collection, so that whether anyone reads a collection costs
    /// one lookup ([`SubscriptionIndex::reads_collection`]).
    document_listens: HashMap<String, usize>,
    /// The largest socket id seen or handed out.
    last_sid: SocketId,
    /// Each socket's token expiry (Unix seconds), so a change never reaches a socket
    /// whose token has run out.
    expiries: HashMap<SocketId, i64>,
    /// Open sockets per client address.
    clients: HashMap<String, u32>,
}

/// One listen a change must reach, and how the change looks from that listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// The socket.
    pub sid: SocketId,
    /// The listen.
    pub listen_id: u32,
    /// How the document changed in that listen's view (a query sees a document that
    /// stops matching as removed).
    pub kind: ChangeKind,
}

impl SubscriptionIndex {
    /// Indexes every listen of a socket (when the object wakes, or a socket connects).
    pub fn add_socket(&mut self, state: &SocketState) {
        self.last_sid = self.last_sid.max(state.sid);
        if self.expiries.insert(state.sid, state.claims.exp).is_none() {
            if let Some(client) = &state.client {
                *self.clients.entry(client.clone()).or_default() += 1;
            }
        }
        for listen in &state.listens {
            self.add(state.sid, listen);
        }
    }

    /// The sockets whose token has expired at `now`.
    pub fn expired_sockets(&self, now: UnixTime) -> Vec<SocketId> {
        self.expiries.iter().filter(|(_, exp)| **exp <= now.as_secs()).map(|(sid, _)| *sid).collect()
    }

    /// When the next open socket's token expires (Unix seconds), if any socket is open.
    pub fn next_expiry(&self) -> Option<i64> {
        self.expiries.values().min().copied()
    }

    /// How many open sockets came from `client`.
    pub fn sockets_from(&self, client: &str) -> u32 {
        self.clients.get(client).copied().unwrap_or(0)
    }

    /// Whether socket `sid`'s token has expired at `now` (an unknown socket has).
    pub fn expired(&self, sid: SocketId, now: UnixTime) -> bool {
        self.expiries.get(&sid).is_none_or(|exp| *exp <= now.as_secs())
    }

    /// An id for a new socket, above every socket's the index has seen. Ids need only be
    /// unique among the sockets open at once, and the index is rebuilt from all of them
    /// when the object wakes, so no counter has to be stored (nor a connect wait for it).
    pub fn next_socket_id(&mut self) -> SocketId {
        self.last_sid += 1;
        self.last_sid
    }

    /// Indexes one listen.
    pub fn add(&mut self, sid: SocketId, listen: &Listen) {
        match &listen.target {
            Target::Document(path) => {
                *self.document_listens.entry(path.collection().to_owned()).or_default() += 1;
                self.documents.entry(path.clone()).or_default().push((sid, listen.id, listen.guard.clone()))
            }
            // A query is granted to an owner-scoped token only with the owner filter among
            // its own (`TokenClaims::access`), so its guard is always `None`.
            Target::Collection(q) => {
                self.collections.entry(q.collection.clone()).or_default().push((sid, listen.id, q.clone()))
            }
        }
    }

    /// Unindexes one listen.
    pub fn remove(&mut self, sid: SocketId, listen: &Listen) {
        match &listen.target {
            Target::Document(path) => {
                if let Some(list) = self.documents.get_mut(path) {
                    let before = list.len();
                    list.retain(|(s, l, _)| (*s, *l) != (sid, listen.id));
                    let removed = before - list.len();
                    if list.is_empty() {
                        self.documents.remove(path);
                    }
                    if let Some(count) = self.document_listens.get_mut(path.collection()) {
                        *count = count.saturating_sub(removed);
                        if *count == 0 {
                            self.document_listens.remove(path.collection());
                        }
                    }
                }
            }
            Target::Collection(q) => {
                if let Some(list) = self.collections.get_mut(&q.collection) {
                    list.retain(|(s, l, _)| (*s, *l) != (sid, listen.id));
                    if list.is_empty() {
                        self.collections.remove(&q.collection);
                    }
                }
            }
        }
    }

    /// Unindexes every listen of a closed socket.
    pub fn remove_socket(&mut self, state: &SocketState) {
        for listen in &state.listens {
            self.remove(state.sid, listen);
        }
        if self.expiries.remove(&state.sid).is_some() {
            if let Some(client) = &state.client {
                if let Some(count) = self.clients.get_mut(client) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        self.clients.remove(client);
                    }
                }
            }
        }
    }

    /// Whether any listen reads the document at `path` (a query of its collection aside).
    pub fn reads_document(&self, path: &DocPath) -> bool {
        self.documents.contains_key(path)
    }

    /// Whether any listen reads `collection`: a query of it, or a listen on one of its
    /// documents.
    pub fn reads_collection(&self, collection: &str) -> bool {
        self.collections.contains_key(collection) || self.document_listens.contains_key(collection)
    }

    /// Every listen of `collection` (its queries and its documents' listens), by socket.
    pub fn listens_of(&self, collection: &str) -> Vec<(SocketId, Listen)> {
        let mut out: Vec<(SocketId, Listen)> = Vec::new();
        for (path, list) in self.documents.iter().filter(|(p, _)| p.collection() == collection) {
            for (sid, id, guard) in list {
                out.push((*sid, Listen { id: *id, target: Target::Document(path.clone()), guard: guard.clone() }));
            }
        }
        for (sid, id, q) in self.collections.get(collection).into_iter().flatten() {
            out.push((*sid, Listen { id: *id, target: Target::Collection(q.clone()), guard: None }));
        }
        out
    }

    /// What the indexed listens read, by collection: whether a query reads it whole, and
    /// the documents listened to (what a hub woken from hibernation rebuilds).
    pub fn targets_read(&self) -> std::collections::BTreeMap<String, (bool, Vec<DocPath>)> {
        let mut out: std::collections::BTreeMap<String, (bool, Vec<DocPath>)> = Default::default();
        for path in self.documents.keys() {
            out.entry(path.collection().to_owned()).or_default().1.push(path.clone());
        }
        for collection in self.collections.keys() {
            out.entry(collection.clone()).or_default().0 = true;
        }
        out
    }

    /// How many listens are indexed.
    pub fn len(&self) -> usize {
        self.documents.values().map(Vec::len).sum::<usize>() + self.collections.values().map(Vec::len).sum::<usize>()
    }

    /// Whether no listen is indexed.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.collections.is_empty()
    }

    /// The listens `change` reaches. Costs nothing for listens on other documents or
    /// collections.
    pub fn recipients(&self, change: &DocChange) -> Vec<Recipient> {
        let mut out = Vec::new();
        if let Some(list) = self.documents.get(&change.path) {
            for (sid, listen_id, guard) in list {
                let kind = match guard {
                    None => change.kind,
                    // An owner-guarded document listen sees the document come and go as
                    // it starts and stops meeting the guard, as a query would.
                    Some(guard) => {
                        let was = change.before.as_ref().is_some_and(|b| guard.matches(b));
                        let is = change.kind != ChangeKind::Removed && guard.matches(&change.data);
                        match (was, is) {
                            (false, true) => ChangeKind::Added,
                            (true, true) => ChangeKind::Modified,
                            (true, false) => ChangeKind::Removed,
                            (false, false) => continue,
                        }
                    }
                };
                out.push(Recipient { sid: *sid, listen_id: *listen_id, kind });
            }
        }
        if let Some(list) = self.collections.get(change.path.collection()) {
            // Limited queries are answered by a window of documents instead: see
            // `limited_recipients` and `window_delta`.
            for (sid, listen_id, q) in list.iter().filter(|(_, _, q)| q.limit.is_none()) {
                let was = change.before.as_ref().is_some_and(|b| q.matches(&change.path, b));
                let is = change.kind != ChangeKind::Removed && q.matches(&change.path, &change.data);
                let kind = match (was, is) {
                    (false, true) => ChangeKind::Added,
                    (true, true) => ChangeKind::Modified,
                    (true, false) => ChangeKind::Removed,
                    (false, false) => continue,
                };
                out.push(Recipient { sid: *sid, listen_id: *listen_id, kind });
            }
        }
        out
    }

    /// The limited queries (`limit(n)`) of `change`'s collection: which `n` documents such
    /// a query holds can change with any document of the collection, so each gets a
    /// [`window_delta`] rather than a change frame.
    pub fn limited_recipients(&self, change: &DocChange) -> Vec<(SocketId, u32, &CollectionQuery)> {
        self.collections
            .get(change.path.collection())
            .into_iter()
            .flatten()
            .filter(|(_, _, q)| q.limit.is_some())
            .map(|(sid, listen_id, q)| (*sid, *listen_id, q))
            .collect()
    }
}

/// The documents a collection query holds, in its order, limited: `(path, data)`.
pub fn query_window<'d>(
    q: &CollectionQuery,
    docs: impl Iterator<Item = (&'d DocPath, &'d Map<String, Value>)>,
) -> Vec<(&'d DocPath, &'d Map<String, Value>)> {
    let mut window: Vec<(&DocPath, &Map<String, Value>)> = docs.filter(|(path, data)| q.matches(path, data)).collect();
    window.sort_by(|(pa, a), (pb, b)| crate::query::compare_documents(&q.order_by, (pa.as_str(), a), (pb.as_str(), b)));
    window.truncate(q.limit.map_or(usize::MAX, |l| l as usize));
    window
}

/// What a limited query's listener must be told after `change`, as a resume-style delta
/// snapshot (documents that entered the window or changed in it, and those that left it),
/// or `None` when its window is the same. `after` are the collection's documents as
/// committed, `change` included; the window before is rebuilt from `change.before`.
pub fn window_delta(
    listen_id: u32,
    q: &CollectionQuery,
    after: &[StoredDoc],
    change: &DocChange,
) -> Option<ServerMessage> {
    let now: Vec<(&DocPath, &Map<String, Value>)> = query_window(q, after.iter().map(|d| (&d.path, &d.data)));
    let before_docs = after
        .iter()
        .filter(|d| d.path != change.path)
        .map(|d| (&d.path, &d.data))
        .chain(change.before.as_ref().map(|b| (&change.path, b)));
    let was: Vec<(&DocPath, &Map<String, Value>)> = query_window(q, before_docs);
    let removed: Vec<DocPath> =
        was.iter().filter(|(p, _)| !now.iter().any(|(n, _)| n == p)).map(|(p, _)| (*p).clone()).collect();
    let docs: Vec<DocEntry> = now
        .iter()
        .filter(|(p, d)| !was.iter().any(|(w, old)| w == p && old == d))
        .map(|(p, d)| DocEntry { path: (*p).clone(), data: (*d).clone() })
        .collect();
    if removed.is_empty() && docs.is_empty() {
        return None;
    }
    Some(ServerMessage::Snapshot {
        id: listen_id,
        seq: change.seq,
        docs,
        since: Some(change.seq.saturating_sub(1)),
        removed,
    })
}

/// A change serialised once, then framed per listen: the data is the bulk of each frame
/// and the same for every recipient.
#[derive(Debug, Clone)]
pub struct ChangeFrame {
    seq_and_path: String,
    data: String,
}

impl ChangeFrame {
    /// Serialises `change` once.
    pub fn new(change: &DocChange) -> Self {
        let path = serde_json::to_string(change.path.as_str()).unwrap_or_default();
        Self {
            seq_and_path: format!(",\"seq\":{},\"path\":{path}", change.seq),
            data: serde_json::to_string(&change.data).unwrap_or_default(),
        }
    }

    /// The `change` frame for one recipient; the same text as serialising
    /// [`ServerMessage::Change`].
    pub fn for_recipient(&self, recipient: &Recipient) -> String {
        let kind = recipient.kind.as_str();
        if recipient.kind == ChangeKind::Removed {
            return format!(
                "{{\"type\":\"change\",\"id\":{}{},\"kind\":\"{kind}\"}}",
                recipient.listen_id, self.seq_and_path
            );
        }
        format!(
            "{{\"type\":\"change\",\"id\":{}{},\"kind\":\"{kind}\",\"data\":{}}}",
            recipient.listen_id, self.seq_and_path, self.data
        )
    }
}

/// A stored document as the feed reads it for a snapshot (and, as JSON
/// `{path, data, seq}`, as a hub loads it from the feed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDoc {
    /// Its path.
    pub path: DocPath,
    /// Its data.
    pub data: Map<String, Value>,
    /// The seq of its last change.
    pub seq: Seq,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(scopes: &[&str]) -> TokenClaims {
        TokenClaims::new("demo", scopes.iter().map(|s| (*s).to_owned()).collect(), 1_000)
    }

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn path(p: &str) -> DocPath {
        p.parse().expect("path")
    }

    fn change(p: &str, before: Option<Value>, after: Value, seq: Seq) -> DocChange {
        DocChange {
            path: path(p),
            kind: if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added },
            seq,
            before: before.map(data),
            data: data(after),
        }
    }

    fn listen_of(id: u32, target: Target) -> Listen {
        Listen { id, target, guard: None }
    }

    /// A token of user `alice` that reads `projects` by owner (`user_id`) and all of `news`.
    fn alice() -> TokenClaims {
        let mut claims = claims(&["news/*"]);
        claims.sub = Some("alice".into());
        claims.owner.insert("projects".into(), "user_id".into());
        claims
    }

    fn listen_frame(id: u32, target: Value) -> String {
        json!({"type": "listen", "id": id, "target": target}).to_string()
    }

    #[test]
    fn an_owner_scoped_token_queries_its_collection_only_through_the_owner_filter() {
        let now = UnixTime::from_secs(10);
        let mut state = SocketState::new(1, alice());
        let own = json!({"collection": "projects", "where": [{"field": "user_id", "op": "==", "value": "alice"}],
                         "orderBy": [{"field": "progress"}]});
        assert!(matches!(state.handle_frame(&listen_frame(1, own), now), Ok(SocketAction::Listen(_, None))));
        for (id, outside) in [
            (2, json!({"collection": "projects"})),
            (3, json!({"collection": "projects", "where": [{"field": "user_id", "op": "==", "value": "bob"}]})),
            (4, json!({"collection": "projects", "where": [{"field": "user_id", "op": "!=", "value": "alice"}]})),
            (5, json!({"collection": "projects", "where": [{"field": "owner", "op": "==", "value": "alice"}]})),
            (
                6,
                json!({"collection": "projects", "where": [{"field": "user_id", "op": "in", "value": ["alice", "bob"]}]}),
            ),
            (7, json!({"collection": "voices", "where": [{"field": "user_id", "op": "==", "value": "alice"}]})),
        ] {
            let denied = state.handle_frame(&listen_frame(id, outside.clone()), now).expect_err("outside");
            assert!(
                matches!(denied, ServerMessage::Error { id: Some(i), code: ErrorCode::PermissionDenied, .. } if i == id),
                "{outside}"
            );
        }
        assert!(matches!(
            state.handle_frame(&listen_frame(8, json!({"collection": "news"})), now),
            Ok(SocketAction::Listen(_, None))
        ));
        assert_eq!(state.listens.len(), 2);
    }

    #[test]
    fn an_owner_scope_without_a_subject_grants_nothing() {
        let mut claims = alice();
        claims.sub = None;
        let mut state = SocketState::new(1, claims);
        let own = json!({"collection": "projects", "where": [{"field": "user_id", "op": "==", "value": "alice"}]});
        assert!(state.handle_frame(&listen_frame(1, own), UnixTime(0)).is_err());
        assert!(state.handle_frame(&listen_frame(2, json!({"doc": "projects/1"})), UnixTime(0)).is_err());
    }

    #[test]
    fn an_owner_guarded_document_shows_only_while_it_is_the_owners_and_reveals_nothing_else() {
        let mut state = SocketState::new(1, alice());
        let Ok(SocketAction::Listen(request, Some(guard))) =
            state.handle_frame(&listen_frame(1, json!({"doc": "projects/7"})), UnixTime(0))
        else {
            panic!("a document of an owner-scoped collection is listened to with a guard");
        };
        // The snapshot: another owner's document looks like one that does not exist.
        let stored = |owner: &str, seq: Seq| StoredDoc {
            path: path("projects/7"),
            data: data(json!({"user_id": owner, "status": "processing"})),
            seq,
        };
        let ServerMessage::Snapshot { docs, .. } = snapshot(&request, Some(&guard), vec![stored("bob", 3)], 3) else {
            panic!("snapshot")
        };
        assert!(docs.is_empty());
        let ServerMessage::Snapshot { docs, .. } = snapshot(&request, Some(&guard), vec![stored("alice", 3)], 3) else {
            panic!("snapshot")
        };
        assert_eq!(docs.len(), 1);
        // A resume after the document passed to another owner: a full snapshot, the same
        // as for a document that does not exist, whatever `since` says (no `removed` that
        // would tell the two apart, nor the seq of its last change).
        for since in [0, 2, 3, 9] {
            let resume = ListenRequest { since: Some(since), ..request.clone() };
            let elsewhere = snapshot(&resume, Some(&guard), vec![stored("bob", 3)], 3);
            assert_eq!(elsewhere, snapshot(&resume, Some(&guard), Vec::new(), 3), "since {since}");
            assert!(
                matches!(elsewhere, ServerMessage::Snapshot { since: None, ref removed, .. } if removed.is_empty())
            );
        }
        // The socket drops the `since` of a listen its token reads only through the owner
        // scope, documents and queries alike; one it reads whole keeps it.
        let resume =
            |id: u32, target: Value| json!({"type": "listen", "id": id, "target": target, "since": 5}).to_string();
        let Ok(SocketAction::Listen(request, _)) =
            state.handle_frame(&resume(2, json!({"doc": "projects/8"})), UnixTime(0))
        else {
            panic!("listen")
        };
        assert_eq!(request.since, None);
        let own = json!({"collection": "projects", "where": [{"field": "user_id", "op": "==", "value": "alice"}]});
        let Ok(SocketAction::Listen(request, None)) = state.handle_frame(&resume(3, own), UnixTime(0)) else {
            panic!("listen")
        };
        assert_eq!(request.since, None);
        let Ok(SocketAction::Listen(request, None)) =
            state.handle_frame(&resume(4, json!({"doc": "news/1"})), UnixTime(0))
        else {
            panic!("listen")
        };
        assert_eq!(request.since, Some(5));
        state.listens.retain(|l| l.id == 1);

        // Every change: it enters as it becomes alice's, leaves as it stops being hers,
        // and nothing of it reaches her while it is someone else's.
        let mut index = SubscriptionIndex::default();
        index.add_socket(&state);
        let kinds = |c: DocChange| index.recipients(&c).iter().map(|r| r.kind).collect::<Vec<_>>();
        assert!(kinds(change("projects/7", None, json!({"user_id": "bob"}), 1)).is_empty());
        assert!(kinds(change("projects/7", Some(json!({"user_id": "bob"})), json!({"user_id": "bob", "n": 1}), 2))
            .is_empty());
        assert_eq!(
            kinds(change("projects/7", Some(json!({"user_id": "bob"})), json!({"user_id": "alice"}), 3)),
            [ChangeKind::Added]
        );
        assert_eq!(
            kinds(change("projects/7", Some(json!({"user_id": "alice"})), json!({"user_id": "alice", "n": 2}), 4)),
            [ChangeKind::Modified]
        );
        assert_eq!(
            kinds(change("projects/7", Some(json!({"user_id": "alice"})), json!({"user_id": "bob"}), 5)),
            [ChangeKind::Removed]
        );
        assert!(kinds(change("projects/7", None, json!({"user_id": 7}), 6)).is_empty(), "a number is not the subject");
        // The guard survives hibernation: it is part of the socket's attachment.
        let woken: SocketState = serde_json::from_slice(&serde_json::to_vec(&state).expect("json")).expect("state");
        assert_eq!(woken.listens[0].guard.as_ref(), Some(&guard));
    }

    #[test]
    fn listens_are_checked_against_the_token_and_the_limits() {
        let now = UnixTime::from_secs(10);
        let mut state = SocketState::new(1, claims(&["projects/42", "users/*"]));
        let listen = |id: u32, target: &str| format!(r#"{{"type":"listen","id":{id},"target":{target}}}"#);
        assert!(matches!(
            state.handle_frame(&listen(1, r#"{"doc":"projects/42"}"#), now),
            Ok(SocketAction::Listen(_, None))
        ));
        let denied = state.handle_frame(&listen(2, r#"{"doc":"projects/43"}"#), now).expect_err("out of scope");
        assert!(matches!(denied, ServerMessage::Error { id: Some(2), code: ErrorCode::PermissionDenied, .. }));
        let denied = state.handle_frame(&listen(3, r#"{"collection":"projects"}"#), now).expect_err("collection");
        assert!(matches!(denied, ServerMessage::Error { code: ErrorCode::PermissionDenied, .. }));
        let dup = state.handle_frame(&listen(1, r#"{"doc":"projects/42"}"#), now).expect_err("duplicate");
        assert!(matches!(dup, ServerMessage::Error { code: ErrorCode::InvalidArgument, .. }));
        let expired = state
            .handle_frame(&listen(4, r#"{"collection":"users"}"#), UnixTime::from_secs(1_000))
            .expect_err("expired");
        assert!(matches!(expired, ServerMessage::Error { code: ErrorCode::Unauthenticated, .. }));
        let garbage = state.handle_frame("{", now).expect_err("garbage");
        assert!(matches!(garbage, ServerMessage::Error { id: None, code: ErrorCode::InvalidArgument, .. }));
        assert_eq!(state.listens.len(), 1);
        assert!(matches!(state.handle_frame(r#"{"type":"unlisten","id":1}"#, now), Ok(SocketAction::Unlisten(_))));
        assert_eq!(state.handle_frame(r#"{"type":"unlisten","id":1}"#, now), Ok(SocketAction::Nothing));
    }

    #[test]
    fn a_socket_holds_at_most_the_listen_limit() {
        let mut state = SocketState::new(1, claims(&["*"]));
        for id in 0..MAX_LISTENS_PER_SOCKET as u32 {
            let frame = format!(r#"{{"type":"listen","id":{id},"target":{{"doc":"projects/{id}"}}}}"#);
            assert!(state.handle_frame(&frame, UnixTime(0)).is_ok());
        }
        let frame = r#"{"type":"listen","id":100000,"target":{"doc":"projects/x"}}"#;
        let err = state.handle_frame(frame, UnixTime(0)).expect_err("over the limit");
        assert!(matches!(err, ServerMessage::Error { code: ErrorCode::ResourceExhausted, .. }));
        assert!(state.attachment_len() <= MAX_ATTACHMENT_BYTES);
    }

    #[test]
    fn a_document_listener_is_not_touched_by_other_documents() {
        let mut index = SubscriptionIndex::default();
        index.add(1, &listen_of(7, Target::Document(path("projects/1"))));
        index.add(2, &listen_of(7, Target::Document(path("projects/2"))));
        let recipients = index.recipients(&change("projects/1", None, json!({"status": "created"}), 5));
        assert_eq!(recipients, [Recipient { sid: 1, listen_id: 7, kind: ChangeKind::Added }]);
        assert!(index.recipients(&change("projects/3", None, json!({}), 6)).is_empty());
    }

    #[test]
    fn a_query_sees_documents_enter_and_leave_its_filter() {
        let mut index = SubscriptionIndex::default();
        let target: Target = serde_json::from_value(json!({
            "collection": "projects", "where": [{"field": "status", "op": "==", "value": "processing"}]
        }))
        .expect("target");
        index.add(9, &listen_of(1, target));
        let kinds = |c: DocChange| index.recipients(&c).iter().map(|r| r.kind).collect::<Vec<_>>();
        assert_eq!(kinds(change("projects/1", None, json!({"status": "processing"}), 1)), [ChangeKind::Added]);
        assert_eq!(
            kinds(change(
                "projects/1",
                Some(json!({"status": "processing"})),
                json!({"status": "processing", "progress": 5}),
                2
            )),
            [ChangeKind::Modified]
        );
        assert_eq!(
            kinds(change("projects/1", Some(json!({"status": "processing"})), json!({"status": "completed"}), 3)),
            [ChangeKind::Removed]
        );
        assert!(kinds(change("projects/2", None, json!({"status": "created"}), 4)).is_empty());
        assert!(kinds(change("videos/1", None, json!({"status": "processing"}), 5)).is_empty());
    }

    #[test]
    fn new_socket_ids_stay_above_every_socket_the_index_was_rebuilt_from() {
        // A wake-up rebuilds the index from the open sockets' attachments, listening or not.
        let mut index = SubscriptionIndex::default();
        for sid in [4, 9, 2] {
            index.add_socket(&SocketState::new(sid, claims(&["*"])));
        }
        assert_eq!([index.next_socket_id(), index.next_socket_id()], [10, 11]);
        assert_eq!(SubscriptionIndex::default().next_socket_id(), 1);
    }

    #[test]
    fn removing_a_socket_unindexes_all_its_listens() {
        let mut index = SubscriptionIndex::default();
        let mut state = SocketState::new(3, claims(&["*"]));
        state.listens.push(listen_of(1, Target::Document(path("a/1"))));
        state.listens.push(listen_of(2, serde_json::from_value(json!({"collection": "a"})).expect("t")));
        index.add_socket(&state);
        assert_eq!(index.len(), 2);
        index.remove_socket(&state);
        assert!(index.is_empty());
    }

    #[test]
    fn change_frames_match_the_protocol_serialisation() {
        let c = change("projects/42", Some(json!({})), json!({"status": "completed", "n": 1}), 18);
        let frame = ChangeFrame::new(&c);
        for kind in [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Removed] {
            let expected = ServerMessage::Change {
                id: 3,
                seq: 18,
                path: c.path.clone(),
                kind,
                data: (kind != ChangeKind::Removed).then(|| c.data.clone()),
            };
            assert_eq!(frame.for_recipient(&Recipient { sid: 1, listen_id: 3, kind }), expected.to_json());
        }
    }

    #[test]
    fn a_resume_snapshot_holds_only_what_changed_after_since() {
        let docs = vec![
            StoredDoc { path: path("projects/1"), data: data(json!({"status": "processing"})), seq: 4 },
            StoredDoc { path: path("projects/2"), data: data(json!({"status": "processing"})), seq: 9 },
            StoredDoc { path: path("projects/3"), data: data(json!({"status": "completed"})), seq: 10 },
        ];
        let request: ListenRequest = serde_json::from_value(json!({
            "id": 1, "since": 5,
            "target": {"collection": "projects", "where": [{"field": "status", "op": "==", "value": "processing"}]}
        }))
        .expect("request");
        let ServerMessage::Snapshot { docs: got, since, removed, seq, .. } = snapshot(&request, None, docs.clone(), 10)
        else {
            panic!("snapshot")
        };
        assert_eq!(got.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(), ["projects/2"]);
        assert_eq!(removed, [path("projects/3")]);
        assert_eq!((since, seq), (Some(5), 10));

        let first: ListenRequest = serde_json::from_value(json!({
            "id": 2, "target": {"collection": "projects", "orderBy": [{"field": "status", "direction": "desc"}], "limit": 2}
        }))
        .expect("request");
        let ServerMessage::Snapshot { docs: got, since: None, .. } = snapshot(&first, None, docs, 10) else {
            panic!("snapshot")
        };
        // Equal statuses, ordered descending: by path descending too, as in Firestore.
        assert_eq!(got.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(), ["projects/2", "projects/1"]);
    }

    #[test]
    fn a_socket_whose_token_ran_out_is_expired_and_its_listens_end_with_unauthenticated() {
        let listen = |id: u32, target: &str| format!(r#"{{"type":"listen","id":{id},"target":{target}}}"#);
        let mut index = SubscriptionIndex::default();
        let mut state = SocketState::new(7, claims(&["*"])).from_client("203.0.113.9");
        state.handle_frame(&listen(1, r#"{"doc":"projects/42"}"#), UnixTime::from_secs(10)).expect("listen");
        state.handle_frame(&listen(2, r#"{"collection":"projects"}"#), UnixTime::from_secs(10)).expect("listen");
        index.add_socket(&state);
        assert!(!index.expired(7, UnixTime::from_secs(999)));
        assert!(index.expired(7, UnixTime::from_secs(1_000)), "exp is the first second it is refused");
        assert!(index.expired(8, UnixTime::from_secs(0)), "an unknown socket gets nothing");
        assert_eq!(index.next_expiry(), Some(1_000));
        assert_eq!(index.expired_sockets(UnixTime::from_secs(999)), Vec::<SocketId>::new());
        assert_eq!(index.expired_sockets(UnixTime::from_secs(1_000)), vec![7]);
        let (dropped, frames) = state.expire();
        assert_eq!(dropped.len(), 2);
        assert!(state.listens.is_empty());
        let ids: Vec<_> = frames
            .iter()
            .map(|f| match f {
                ServerMessage::Error { id, code: ErrorCode::Unauthenticated, .. } => *id,
                other => panic!("expected unauthenticated, got {other:?}"),
            })
            .collect();
        assert_eq!(ids, [Some(1), Some(2)]);
    }

    #[test]
    fn the_index_counts_open_sockets_per_client_address_once_each() {
        let mut index = SubscriptionIndex::default();
        let a1 = SocketState::new(1, claims(&["*"])).from_client("a");
        let a2 = SocketState::new(2, claims(&["*"])).from_client("a");
        let b = SocketState::new(3, claims(&["*"])).from_client("b");
        for state in [&a1, &a2, &b, &a1] {
            index.add_socket(state);
        }
        assert_eq!(index.sockets_from("a"), 2, "adding a socket twice counts it once");
        assert_eq!(index.sockets_from("b"), 1);
        index.remove_socket(&a1);
        index.remove_socket(&a1);
        assert_eq!(index.sockets_from("a"), 1, "removing twice uncounts once");
        index.remove_socket(&a2);
        assert_eq!(index.sockets_from("a"), 0);
    }
}
