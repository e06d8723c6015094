//! The subscription index: which listens of which sockets watch what, rebuilt from the
//! sockets' states when the object wakes, so that a change costs work only for the
//! listens it reaches.

use std::collections::{BTreeMap, HashMap};

use super::socket::{Listen, SocketId, SocketState};
use crate::ledger::{ChangeKind, DocChange};
use crate::path::DocPath;
use crate::protocol::{CollectionQuery, Target};
use crate::query::Filter;
use crate::time::UnixTime;

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
    pub fn targets_read(&self) -> BTreeMap<String, (bool, Vec<DocPath>)> {
        let mut out: BTreeMap<String, (bool, Vec<DocPath>)> = Default::default();
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
    /// [`window_delta`](super::window_delta) rather than a change frame.
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
