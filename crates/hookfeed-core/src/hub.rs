//! The fan-out tier: what a hub knows of its tenant's documents, and how it stays exact.
//!
//! A tenant past one object spreads its subscriber sockets over hub objects. The feed
//! stays the single writer and the source of order; each hub is one subscriber of the feed
//! (one upstream socket, one listen per collection its own subscribers read), so the feed
//! sends each change once per hub, and the hub sends it on to its sockets with the same
//! [`fanout`](crate::fanout) code the feed uses.
//!
//! A hub answers its subscribers from a [`HubMirror`]: per collection, the documents its
//! subscribers read, each with the seq of its last change. Documents are loaded from the
//! feed (the whole collection for queries, one document for a document listen) only after
//! the upstream listen is live, and every load and every change is merged by seq, so a
//! load that raced a change, or a change the load already holds, is applied once: no
//! subscriber sees a change twice, or one older than its snapshot. Documents are never
//! deleted from a feed, so a mirror never needs tombstones: a resume after `since` is the
//! mirror's documents changed after `since`, exactly as the feed computes it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::fanout::{StoredDoc, SubscriptionIndex, MAX_LISTENS_PER_SOCKET};
use crate::ledger::{ChangeKind, DocChange, Seq};
use crate::path::DocPath;
use crate::protocol::{ErrorCode, ListenRequest, Target};
use crate::token::TokenClaims;

pub use crate::fanout::{HUB_CLIENT, LIVE_ONLY_SINCE};

/// Hubs a tenant may be spread over.
pub const MAX_HUBS: u32 = 256;

/// Collections a hub streams at once: the feed allows [`MAX_LISTENS_PER_SOCKET`] listens
/// on the hub's one upstream socket, and one is kept for head probes ([`HEAD_PROBE_PATH`]).
pub const MAX_HUB_COLLECTIONS: usize = MAX_LISTENS_PER_SOCKET - 1;

/// Collections one token (by [`token_key`]) may have a hub open upstream: past it, a listen
/// that would open another is refused `resource-exhausted` (after the token's collections
/// that nobody reads are ended), so one token cannot take every upstream listen of a hub.
pub const MAX_COLLECTIONS_PER_TOKEN: usize = 16;

/// Documents and missing ids a hub's non-full collection mirrors keep while no socket
/// reads them (so that a listen/unlisten loop does not reload from the feed each time).
/// A mirror holding more than this, and more than twice what it held after its last
/// eviction, evicts every one nobody reads: unread entries stay below this bound or the
/// number read, amortised over one scan per doubling.
pub const MIRROR_UNREAD_SLACK: usize = 1_024;

/// Ids of documents that do not exist a hub remembers, over all its collections (a
/// document listen before the document's first event). Past it, after the unread ones are
/// evicted, a document listen that may need one more is refused `resource-exhausted`.
pub const MAX_MISSING_IDS: usize = 20_000;
/// Owner-guarded document listens (a document read through an owner scope) one token may
/// have a hub keep, counted alike whether the document exists or not: so that neither a
/// refusal nor its timing can tell another owner's document from a missing one, and one
/// user cannot take every slot. Unread entries are dropped before anyone is refused.
pub const MAX_GUARDED_DOCUMENTS_PER_TOKEN: usize = 1_000;
/// Owner-guarded documents a hub keeps over every token (their missing ids are bounded by
/// this, not by [`MAX_MISSING_IDS`], whose count depends on what exists).
pub const MAX_GUARDED_DOCUMENTS: usize = 20_000;

/// Steps a hub takes to prepare one listen (open, stream, one load, one head probe, answer,
/// a wait for the collection's reload after a lost upstream socket, and a retry of the
/// stream), after which it answers `unavailable` rather than go on.
pub const MAX_PREPARATION_STEPS: u32 = 7;

/// Above this many documents (and missing ids) of a collection mirror, a reload takes the
/// whole collection in one load rather than each document.
pub const RELOAD_WHOLE_ABOVE: usize = 64;

/// The document a head probe listens to upstream: any path does (its answer's seq is what
/// the probe is for), and this one names what it is in the feed's logs.
pub const HEAD_PROBE_PATH: &str = "_hookfeed/head";

/// One collection as a hub knows it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CollectionMirror {
    docs: BTreeMap<DocPath, StoredDoc>,
    /// Documents loaded as missing (a document listen before the document's first event):
    /// their first change must be kept.
    missing: HashSet<DocPath>,
    /// The feed's seq the upstream stream started after: every change after it reaches
    /// the hub. `None` until the upstream listen is live.
    streaming_after: Option<Seq>,
    /// Set once the whole collection is loaded (a query needs it).
    full: bool,
    /// The mirror reflects every change of its loaded documents up to this seq.
    as_of: Seq,
    /// Loaded before the upstream socket was lost and not loaded again since: changes may
    /// have been missed, so it is exact only at `as_of`, not at the stream's head.
    stale: bool,
    /// Held entries (documents and missing ids) past which unread ones are evicted.
    evict_above: usize,
    /// The token that had the hub open it ([`token_key`]), counted against its
    /// [`MAX_COLLECTIONS_PER_TOKEN`].
    opened_by: Option<String>,
    /// When a listen last asked for it (ms), to end the least recently asked first.
    last_asked: i64,
    /// A stale mirror on a new stream: what streams and what loads bring wait here, and are
    /// merged in seq order once every document it held is loaded again
    /// ([`HubMirror::finish_reload`]).
    reload: Option<Reload>,
    /// The reload (by [`HubMirror`]'s count of reloads begun) that last made it current.
    reloaded_in: u64,
    /// Rebuilt for listens restored from hibernation (what their clients hold is not
    /// known): once reloaded, they get a full snapshot instead of changes.
    restored: bool,
    /// Documents (or, `loading_whole`, the collection) a load is asked for: a change of
    /// one streamed before the load's answer arrives is kept, so that the load (older)
    /// does not take its place.
    loading: HashSet<DocPath>,
    loading_whole: bool,
}

/// What a stale collection's reload has gathered so far.
#[derive(Debug, Default, Clone, PartialEq)]
struct Reload {
    /// Its number among the reloads the hub began.
    number: u64,
    /// Documents loaded at a feed seq at or after the stream's start, and ids loaded as
    /// missing.
    loaded: Vec<StoredDoc>,
    missing: Vec<DocPath>,
    /// Paths loaded again; `whole`: the whole collection was.
    covered: HashSet<DocPath>,
    whole: bool,
    /// The highest seq a load was current at.
    loaded_at: Seq,
    /// Changes streamed since the stream started, in the feed's (seq) order.
    streamed: Vec<StoredDoc>,
}

/// A finished reload's versions, applied to the mirror one at a time in seq order
/// ([`HubMirror::replay_next`]), each change fanned out before the next is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    collection: String,
    /// (version, came from a load), in seq order.
    versions: std::collections::VecDeque<(StoredDoc, bool)>,
    /// Whether the mirror was whole before the reload (a document new to it is news).
    was_full: bool,
    /// Listens restored from hibernation read this collection: no changes, a full
    /// snapshot each once the replay is done.
    resnapshot: bool,
}

impl Replay {
    /// The collection reloaded.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Whether every listen of the collection gets a full snapshot at the collection's
    /// head once replayed ([`HubMirror::head_of`]), instead of changes.
    pub fn resnapshot(&self) -> bool {
        self.resnapshot
    }
}

impl CollectionMirror {
    /// Whether the upstream listen is live.
    pub fn is_streaming(&self) -> bool {
        self.streaming_after.is_some()
    }

    /// Whether it was loaded before the upstream socket was lost and is not loaded again
    /// yet: listens of it wait ([`Step::AwaitReload`]).
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Whether it streams on a new socket and is being loaded again: streamed changes wait.
    pub fn is_reloading(&self) -> bool {
        self.reload.is_some()
    }

    /// The seq every loaded document is current at.
    pub fn as_of(&self) -> Seq {
        self.as_of
    }

    /// Whether `path` is loaded (present, or known to be missing).
    pub fn knows(&self, path: &DocPath) -> bool {
        self.full || self.docs.contains_key(path) || self.missing.contains(path)
    }

    /// The loaded documents.
    pub fn docs(&self) -> impl Iterator<Item = &StoredDoc> {
        self.docs.values()
    }

    /// How many ids it remembers as missing.
    pub fn missing_len(&self) -> usize {
        self.missing.len()
    }

    /// The seq the mirror is exact at, given the highest seq the hub's upstream socket has
    /// delivered (`stream_head`): every change up to it has reached a live, loaded mirror.
    fn current_at(&self, stream_head: Seq) -> Seq {
        if self.stale {
            self.as_of
        } else {
            self.as_of.max(stream_head)
        }
    }

    fn merge(&mut self, doc: StoredDoc) -> Option<StoredDoc> {
        match self.docs.get(&doc.path) {
            Some(held) if held.seq >= doc.seq => None,
            _ => {
                self.missing.remove(&doc.path);
                self.docs.insert(doc.path.clone(), doc)
            }
        }
    }
}

/// Who reads what at a hub, for eviction: the hub's [`SubscriptionIndex`].
pub trait Readers {
    /// Whether a listen reads the document at `path`.
    fn reads_document(&self, path: &DocPath) -> bool;
    /// Whether a listen reads `collection` (a query, or one of its documents).
    fn reads_collection(&self, collection: &str) -> bool;
}

impl Readers for SubscriptionIndex {
    fn reads_document(&self, path: &DocPath) -> bool {
        SubscriptionIndex::reads_document(self, path)
    }

    fn reads_collection(&self, collection: &str) -> bool {
        SubscriptionIndex::reads_collection(self, collection)
    }
}

/// Nobody reads anything (a hub before its index is built).
impl Readers for () {
    fn reads_document(&self, _: &DocPath) -> bool {
        false
    }

    fn reads_collection(&self, _: &str) -> bool {
        false
    }
}

/// What one token is counted as, for [`MAX_COLLECTIONS_PER_TOKEN`]: its tenant, subject,
/// scopes and owner scopes (not its expiry, so a refreshed token counts as the same).
pub fn token_key(claims: &TokenClaims) -> String {
    serde_json::to_string(&(&claims.tenant, &claims.sub, &claims.scopes, &claims.owner)).unwrap_or_default()
}

/// Why a hub cannot answer a listen. Each tells the client what it can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubRefusal {
    /// The token already has the hub stream as many collections as it may.
    #[error(
        "this token already has {limit} collections open on this connection's hub: unlisten from some collection first"
    )]
    TokenCollections {
        /// [`MAX_COLLECTIONS_PER_TOKEN`].
        limit: usize,
    },
    /// Every upstream listen of the hub is read by someone.
    #[error("this hub streams {limit} collections, all in use: reconnect (to land on another hub) or try again later")]
    HubCollections {
        /// [`MAX_HUB_COLLECTIONS`].
        limit: usize,
    },
    /// The hub remembers as many missing document ids as it may, all read.
    #[error(
        "this hub already watches {limit} documents that do not exist yet: unlisten from some, or listen to their collection"
    )]
    MissingIds {
        /// [`MAX_MISSING_IDS`].
        limit: usize,
    },
    /// The token already has the hub keep as many owner-guarded documents as it may.
    #[error(
        "this token already watches {limit} documents of its own on this connection's hub: unlisten from some, or query them with where(owner == uid)"
    )]
    TokenDocuments {
        /// [`MAX_GUARDED_DOCUMENTS_PER_TOKEN`].
        limit: usize,
    },
    /// The hub keeps as many owner-guarded documents as it may, all read.
    #[error("this hub watches {limit} documents of their owners, all in use: reconnect (to land on another hub) or try again later")]
    GuardedDocuments {
        /// [`MAX_GUARDED_DOCUMENTS`].
        limit: usize,
    },
    /// The feed could not be reached, or did not answer in time.
    #[error("the feed could not be reached: listen again shortly")]
    Unavailable,
}

impl HubRefusal {
    /// The protocol's error code for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable => ErrorCode::Unavailable,
            _ => ErrorCode::ResourceExhausted,
        }
    }
}

/// The head probes a hub sends upstream: one at a time, and every listen that needs one
/// waits for the first probe *sent after* it asked, so that the answer's seq is at or after
/// every seq its client could have seen. Listens asking together share one probe.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct HeadProbes {
    /// Probes sent (the last one's number).
    sent: u64,
    /// The highest probe number answered.
    answered: u64,
    /// The highest probe number a listen waits for.
    wanted: u64,
    in_flight: bool,
}

/// What a hub knows, by collection.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HubMirror {
    collections: HashMap<String, CollectionMirror>,
    /// The highest seq the upstream socket has delivered (a listen's snapshot, a change,
    /// a head probe's answer). Frames on the socket come in the feed's order, so every
    /// change up to it of every streaming collection has arrived. (A load's seq comes over
    /// another request, so it raises only its own collection's `as_of`.)
    stream_head: Seq,
    probes: HeadProbes,
    /// Listens being prepared, by collection and by document: what they need is not
    /// evicted under them (they are not indexed yet).
    pinned: HashMap<String, u32>,
    pinned_docs: HashMap<DocPath, u32>,
    /// Loads served to prepare listens, since the hub woke (`/healthz`).
    loads: u64,
    /// Reloads begun (a stale collection streaming again), since the hub woke.
    reloads: u64,
    /// Owner-guarded documents kept, by the token that first listened to each, and how
    /// many each token holds ([`MAX_GUARDED_DOCUMENTS_PER_TOKEN`]).
    guarded: HashMap<DocPath, String>,
    guarded_per_token: HashMap<String, usize>,
}

/// What a listen needs the hub to do before it can be answered from the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorNeed {
    /// Listen upstream to the collection (then ask again).
    Stream(String),
    /// Load the whole collection (its documents and the feed's seq).
    Collection(String),
    /// Load one document.
    Document(DocPath),
}

/// One listen being prepared at a hub ([`HubMirror::prepare`]): what was done for it, so
/// that each step is taken at most once (one load, one head probe).
#[derive(Debug, Clone, PartialEq)]
pub struct Preparation {
    request: ListenRequest,
    token: String,
    /// A document read through an owner scope: counted in the guarded book, not against
    /// the missing-id bound.
    guarded: bool,
    steps: u32,
    loaded: bool,
    probe: Option<u64>,
    /// Reloads begun before the listen arrived: a reload numbered above loaded after it.
    arrived_after: u64,
}

impl Preparation {
    /// The listen, its `since` dropped if it turned out to be ahead of the feed.
    pub fn request(&self) -> &ListenRequest {
        &self.request
    }
}

/// The next step in preparing a listen ([`HubMirror::next_step`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// End these collections upstream (unlisten: they were evicted to make room), then make
    /// the upstream socket stream the collection and wait until it does.
    Stream {
        /// The collection to stream.
        collection: String,
        /// Collections ended to make room.
        ended: Vec<String>,
    },
    /// Load this from the feed.
    Load(MirrorNeed),
    /// Send head probe number `n` upstream (unless it is sent: [`HubMirror::probe_to_send`])
    /// and wait until it is answered ([`HubMirror::probe_answered`]).
    Probe(u64),
    /// Wait until the collection, loaded before the upstream socket was lost, is loaded
    /// again on a new stream (the hub's recovery does it; make sure one runs), then ask
    /// again. Its streamed changes wait meanwhile, and so does the listen: its snapshot
    /// and the changes after it then come in seq order.
    AwaitReload(String),
    /// Answer from the mirror: the snapshot of [`Preparation::request`] is current at
    /// `head`.
    Answer {
        /// The seq the snapshot is current at.
        head: Seq,
    },
    /// Refuse the listen.
    Refuse(HubRefusal),
}

impl HubMirror {
    /// The collection's mirror, if the hub holds one.
    pub fn collection(&self, name: &str) -> Option<&CollectionMirror> {
        self.collections.get(name)
    }

    /// The collections the hub streams or is starting to.
    pub fn collections(&self) -> impl Iterator<Item = &str> {
        self.collections.keys().map(String::as_str)
    }

    /// The highest seq the upstream socket has delivered.
    pub fn stream_head(&self) -> Seq {
        self.stream_head
    }

    /// Loads taken to prepare listens since the hub woke.
    pub fn loads(&self) -> u64 {
        self.loads
    }

    /// Head probes sent since the hub woke.
    pub fn probes_sent(&self) -> u64 {
        self.probes.sent
    }

    /// Ids remembered as missing, over every collection.
    pub fn missing_len(&self) -> usize {
        self.collections.values().map(|m| m.missing.len()).sum()
    }

    /// Starts preparing a listen by the token `claims`: what it needs is pinned until
    /// [`HubMirror::finish`].
    pub fn prepare(&mut self, request: ListenRequest, claims: &TokenClaims) -> Preparation {
        *self.pinned.entry(request.target.collection().to_owned()).or_default() += 1;
        if let Target::Document(path) = &request.target {
            *self.pinned_docs.entry(path.clone()).or_default() += 1;
        }
        let guarded = matches!(request.target, Target::Document(_)) && !claims.resumes(&request.target);
        Preparation {
            guarded,
            request,
            token: token_key(claims),
            steps: 0,
            loaded: false,
            probe: None,
            arrived_after: self.reloads,
        }
    }

    /// A listen is answered or refused: unpins what it needed.
    pub fn finish(&mut self, preparation: &Preparation) {
        let collection = preparation.request.target.collection();
        if let Some(n) = self.pinned.get_mut(collection) {
            *n -= 1;
            if *n == 0 {
                self.pinned.remove(collection);
            }
        }
        if let Target::Document(path) = &preparation.request.target {
            if let Some(n) = self.pinned_docs.get_mut(path) {
                *n -= 1;
                if *n == 0 {
                    self.pinned_docs.remove(path);
                }
            }
        }
    }

    /// What the hub does next for a listen. At most [`MAX_PREPARATION_STEPS`] steps, one
    /// load and one head probe per listen:
    ///
    /// - a collection no hub listen streams is opened (a slot of [`MAX_HUB_COLLECTIONS`],
    ///   within the token's [`MAX_COLLECTIONS_PER_TOKEN`], ending collections nobody reads
    ///   to make room) and streamed;
    /// - a query needs its whole collection loaded, a document listen its document;
    /// - a resume (`since`) is answered from the mirror when `since` is at or before the
    ///   seq the mirror is exact at (its loads' and the upstream socket's): the changes in
    ///   between are ones the client holds. A `since` past it costs one head probe, and if
    ///   still past the probe's answer it is ahead of the feed (made up, or another feed's):
    ///   it is dropped, and the listen gets a full snapshot, as the feed answers it.
    pub fn next_step(&mut self, prep: &mut Preparation, readers: &impl Readers, now_ms: i64) -> Step {
        prep.steps += 1;
        if prep.steps > MAX_PREPARATION_STEPS {
            return Step::Refuse(HubRefusal::Unavailable);
        }
        let collection = prep.request.target.collection().to_owned();
        if let (true, Target::Document(path)) = (prep.guarded, &prep.request.target) {
            // Before anything that depends on whether the document exists.
            if let Err(refusal) = self.admit_guarded(path, &prep.token, readers) {
                return Step::Refuse(refusal);
            }
        }
        let Some(mirror) = self.collections.get_mut(&collection) else {
            return match self.open(&collection, &prep.token, readers, now_ms) {
                Ok(ended) => Step::Stream { collection, ended },
                Err(refusal) => Step::Refuse(refusal),
            };
        };
        mirror.last_asked = now_ms;
        if mirror.stale {
            return Step::AwaitReload(collection);
        }
        if !mirror.is_streaming() {
            return Step::Stream { collection, ended: Vec::new() };
        }
        let need = match &prep.request.target {
            Target::Collection(_) if !mirror.full => Some(MirrorNeed::Collection(collection.clone())),
            Target::Document(path) if !mirror.knows(path) => Some(MirrorNeed::Document(path.clone())),
            _ => None,
        };
        if let Some(need) = need {
            if prep.loaded {
                return Step::Refuse(HubRefusal::Unavailable);
            }
            if matches!(need, MirrorNeed::Document(_)) && !prep.guarded && self.missing_len() >= MAX_MISSING_IDS {
                for name in self.collections.keys().cloned().collect::<Vec<_>>() {
                    self.evict(&name, readers, true);
                }
                if self.missing_len() >= MAX_MISSING_IDS {
                    return Step::Refuse(HubRefusal::MissingIds { limit: MAX_MISSING_IDS });
                }
            }
            prep.loaded = true;
            self.loads += 1;
            if let Some(mirror) = self.collections.get_mut(&collection) {
                match &need {
                    MirrorNeed::Document(path) => {
                        mirror.loading.insert(path.clone());
                    }
                    _ => mirror.loading_whole = true,
                }
            }
            return Step::Load(need);
        }
        let head = mirror.current_at(self.stream_head);
        if prep.request.resume_since().is_none_or(|since| since <= head) {
            return Step::Answer { head };
        }
        // A reload begun after the listen arrived loaded at the feed's seq of a moment
        // after it, as a load of its own would have.
        let reloaded_since = mirror.reloaded_in > prep.arrived_after;
        if !prep.loaded && !reloaded_since {
            match prep.probe {
                None => {
                    let n = self.probes.sent + 1;
                    self.probes.wanted = self.probes.wanted.max(n);
                    prep.probe = Some(n);
                    return Step::Probe(n);
                }
                Some(n) if !self.probe_done(n) => return Step::Probe(n),
                Some(_) => {}
            }
        }
        // Past the seq of the feed at a moment after the listen arrived (a load's or a
        // probe's): `since` is ahead of the feed, so the listen gets a full snapshot.
        prep.request.since = None;
        Step::Answer { head }
    }

    /// The number of the head probe to send now, if a listen waits for one not yet sent
    /// and none is in flight.
    pub fn probe_to_send(&mut self) -> Option<u64> {
        if self.probes.in_flight || self.probes.wanted <= self.probes.sent {
            return None;
        }
        self.probes.sent += 1;
        self.probes.in_flight = true;
        Some(self.probes.sent)
    }

    /// Head probe `n` was answered, over the upstream socket, with the feed's `seq`.
    pub fn probe_answered(&mut self, n: u64, seq: Seq) {
        self.stream_head = self.stream_head.max(seq);
        self.probes.answered = self.probes.answered.max(n);
        if n >= self.probes.sent {
            self.probes.in_flight = false;
        }
    }

    /// Head probe `n` was refused or lost with the socket: it may be sent again.
    pub fn probe_lost(&mut self, n: u64) {
        if n >= self.probes.sent {
            self.probes.in_flight = false;
            self.probes.sent = self.probes.sent.min(self.probes.answered.max(n.saturating_sub(1)));
        }
    }

    /// Whether head probe `n` has been answered.
    pub fn probe_done(&self, n: u64) -> bool {
        self.probes.answered >= n
    }

    /// Counts an owner-guarded document listen of `token` on `path` (once per path, whoever
    /// listens first), dropping entries nobody reads (or prepares) before refusing: the
    /// answer depends on the token's own count and the hub's, never on what exists.
    fn admit_guarded(&mut self, path: &DocPath, token: &str, readers: &impl Readers) -> Result<(), HubRefusal> {
        if self.guarded.contains_key(path) {
            return Ok(());
        }
        let held = |book: &HashMap<String, usize>| book.get(token).copied().unwrap_or(0);
        if held(&self.guarded_per_token) >= MAX_GUARDED_DOCUMENTS_PER_TOKEN
            || self.guarded.len() >= MAX_GUARDED_DOCUMENTS
        {
            let (pinned, per_token) = (&self.pinned_docs, &mut self.guarded_per_token);
            self.guarded.retain(|p, owner| {
                let keep = readers.reads_document(p) || pinned.contains_key(p);
                if !keep {
                    if let Some(n) = per_token.get_mut(owner.as_str()) {
                        *n = n.saturating_sub(1);
                    }
                }
                keep
            });
            per_token.retain(|_, n| *n > 0);
        }
        if held(&self.guarded_per_token) >= MAX_GUARDED_DOCUMENTS_PER_TOKEN {
            return Err(HubRefusal::TokenDocuments { limit: MAX_GUARDED_DOCUMENTS_PER_TOKEN });
        }
        if self.guarded.len() >= MAX_GUARDED_DOCUMENTS {
            return Err(HubRefusal::GuardedDocuments { limit: MAX_GUARDED_DOCUMENTS });
        }
        self.guarded.insert(path.clone(), token.to_owned());
        *self.guarded_per_token.entry(token.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Takes a slot for `collection`, opened by `token`: ending, to make room, collections
    /// nobody reads (the token's own first when it is at its cap, then any, least recently
    /// asked first). Returns the collections ended.
    fn open(
        &mut self,
        collection: &str,
        token: &str,
        readers: &impl Readers,
        now_ms: i64,
    ) -> Result<Vec<String>, HubRefusal> {
        let mut ended = Vec::new();
        let owned = |m: &CollectionMirror| m.opened_by.as_deref() == Some(token);
        if self.collections.values().filter(|m| owned(m)).count() >= MAX_COLLECTIONS_PER_TOKEN {
            let Some(victim) = self.unread_victim(readers, |m| owned(m)) else {
                return Err(HubRefusal::TokenCollections { limit: MAX_COLLECTIONS_PER_TOKEN });
            };
            self.collections.remove(&victim);
            ended.push(victim);
        }
        if self.collections.len() >= MAX_HUB_COLLECTIONS {
            let Some(victim) = self.unread_victim(readers, |_| true) else {
                return Err(HubRefusal::HubCollections { limit: MAX_HUB_COLLECTIONS });
            };
            self.collections.remove(&victim);
            ended.push(victim);
        }
        let mirror = CollectionMirror {
            opened_by: Some(token.to_owned()),
            last_asked: now_ms,
            evict_above: MIRROR_UNREAD_SLACK,
            ..CollectionMirror::default()
        };
        self.collections.insert(collection.to_owned(), mirror);
        Ok(ended)
    }

    /// The least recently asked collection nobody reads or prepares a listen of, among
    /// those `eligible`.
    fn unread_victim(&self, readers: &impl Readers, eligible: impl Fn(&CollectionMirror) -> bool) -> Option<String> {
        self.collections
            .iter()
            .filter(|(name, m)| eligible(m) && !self.pinned.contains_key(*name) && !readers.reads_collection(name))
            .min_by_key(|(name, m)| (m.last_asked, name.as_str()))
            .map(|(name, _)| name.clone())
    }

    /// Ends `collection`: its mirror is dropped (the caller unlistens upstream).
    pub fn end(&mut self, collection: &str) {
        self.collections.remove(collection);
    }

    /// Evicts from a non-full collection mirror the documents and missing ids nobody reads
    /// (nor a listen being prepared), once it holds more than [`MIRROR_UNREAD_SLACK`] and
    /// more than twice what it held after the last eviction. Returns how many it evicted.
    pub fn evict_unread(&mut self, collection: &str, readers: &impl Readers) -> usize {
        self.evict(collection, readers, false)
    }

    /// [`HubMirror::evict_unread`], or with `now`, whatever the mirror holds.
    fn evict(&mut self, collection: &str, readers: &impl Readers, now: bool) -> usize {
        let pinned_docs = &self.pinned_docs;
        let Some(mirror) = self.collections.get_mut(collection) else { return 0 };
        let held = mirror.docs.len() + mirror.missing.len();
        if mirror.full || (!now && held <= mirror.evict_above.max(MIRROR_UNREAD_SLACK)) {
            return 0;
        }
        let keep = |path: &DocPath| readers.reads_document(path) || pinned_docs.contains_key(path);
        mirror.docs.retain(|path, _| keep(path));
        mirror.missing.retain(|path| keep(path));
        let left = mirror.docs.len() + mirror.missing.len();
        mirror.evict_above = (2 * left).max(MIRROR_UNREAD_SLACK);
        held - left
    }

    /// The upstream listen of `collection` is live: every change after `seq` will arrive.
    /// Documents loaded before a lost socket stay, marked stale (exact only at their
    /// `as_of`) until loaded again ([`HubMirror::reload`] tells what).
    pub fn streaming(&mut self, collection: &str, seq: Seq) {
        self.stream_head = self.stream_head.max(seq);
        let mirror = self
            .collections
            .entry(collection.to_owned())
            .or_insert_with(|| CollectionMirror { evict_above: MIRROR_UNREAD_SLACK, ..CollectionMirror::default() });
        mirror.streaming_after = Some(seq);
        if mirror.stale {
            // From its first streamed change on, what streams waits for the reload.
            self.reloads += 1;
            mirror.reload = Some(Reload { number: self.reloads, ..Reload::default() });
        }
    }

    /// The upstream socket closed: no collection streams until it is listened to again,
    /// and what each mirror holds is stale. The documents stay, to compare with what is
    /// loaded after the reconnect.
    pub fn upstream_lost(&mut self) {
        for mirror in self.collections.values_mut() {
            mirror.streaming_after = None;
            mirror.stale = true;
            // What a reload gathered on the lost stream is not enough: start again.
            mirror.reload = None;
        }
        self.probes.in_flight = false;
        self.probes.sent = self.probes.answered;
    }

    /// Rebuilds, after the hub woke from hibernation with sockets, a collection their
    /// listens read: the whole collection for a query, else those documents. It is stale
    /// (a new stream and a reload make it current), and what its listens' clients hold is
    /// not known: once reloaded they get a full snapshot ([`Replay::resnapshot`]), which a
    /// client applies as a resync (a document that did not change is not news to it).
    pub fn restore(&mut self, collection: &str, whole: bool, documents: impl IntoIterator<Item = DocPath>) {
        let mirror = self.collections.entry(collection.to_owned()).or_insert_with(|| CollectionMirror {
            evict_above: MIRROR_UNREAD_SLACK,
            restored: true,
            stale: true,
            ..CollectionMirror::default()
        });
        if !mirror.restored {
            return;
        }
        mirror.full |= whole;
        if !mirror.full {
            mirror.missing.extend(documents.into_iter().filter(|p| p.collection() == collection));
        }
    }

    /// The seq a current (not stale) collection mirror answers at.
    pub fn head_of(&self, collection: &str) -> Seq {
        self.collections.get(collection).map_or(self.stream_head, |m| m.current_at(self.stream_head))
    }

    /// Ends a reload whose every need was loaded ([`HubMirror::reload`] is empty): the
    /// versions it loaded and the changes that streamed meanwhile, in seq order, to apply
    /// with [`HubMirror::replay_next`] (all of them, with no other change in between: the
    /// caller drains it at once). `None` if the collection is not reloading, or still
    /// needs loads.
    pub fn finish_reload(&mut self, collection: &str) -> Option<Replay> {
        if !self.reload(collection).is_empty() {
            return None;
        }
        let mirror = self.collections.get_mut(collection)?;
        let reload = mirror.reload.take()?;
        let was_full = mirror.full;
        for path in reload.missing {
            if !mirror.full && !mirror.docs.contains_key(&path) {
                mirror.missing.insert(path);
            }
        }
        if reload.whole {
            mirror.full = true;
            mirror.missing.clear();
        }
        mirror.as_of = mirror.as_of.max(reload.loaded_at);
        mirror.stale = false;
        mirror.reloaded_in = reload.number;
        let resnapshot = std::mem::take(&mut mirror.restored);
        let mut versions: Vec<(StoredDoc, bool)> = reload.loaded.into_iter().map(|d| (d, true)).collect();
        versions.extend(reload.streamed.into_iter().map(|d| (d, false)));
        // Stable: a load's version of a seq comes before the same change streamed (which
        // is then already held).
        versions.sort_by_key(|(d, _)| d.seq);
        Some(Replay { collection: collection.to_owned(), versions: versions.into(), was_full, resnapshot })
    }

    /// Applies the replay's versions in seq order until one is news: that change, to fan
    /// out before the next is applied (a limited query reads the collection as of it).
    /// `None` once it is done. A restored collection's replay applies everything and gives
    /// no change ([`Replay::resnapshot`]).
    pub fn replay_next(&mut self, replay: &mut Replay) -> Option<DocChange> {
        let mirror = self.collections.get_mut(&replay.collection)?;
        while let Some((doc, from_load)) = replay.versions.pop_front() {
            mirror.as_of = mirror.as_of.max(doc.seq);
            let held = mirror.docs.get(&doc.path);
            if held.is_some_and(|h| h.seq >= doc.seq) {
                continue; // held already (the load had it, or a later version)
            }
            let before = held.map(|h| h.data.clone());
            let was_missing = mirror.missing.contains(&doc.path);
            if from_load || mirror.knows(&doc.path) || mirror.loading_whole || mirror.loading.contains(&doc.path) {
                mirror.merge(doc.clone());
            }
            if replay.resnapshot {
                continue;
            }
            let news = match (&before, from_load) {
                // A load shows a document's latest version: news if its data moved.
                (Some(old), true) => *old != doc.data,
                (None, true) => replay.was_full || was_missing,
                // A streamed change is passed on as the feed sent it.
                (_, false) => true,
            };
            if news {
                let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
                return Some(DocChange { path: doc.path, kind, seq: doc.seq, before, data: doc.data });
            }
        }
        None
    }

    /// Merges a load of the whole collection, current at the feed's `seq` (which is at
    /// or after the stream's start, since loads happen once it is live). Returns the
    /// documents that changed compared with what the mirror held, as changes to fan out
    /// (after a reconnect, what happened while the hub was away). A collection ended
    /// meanwhile is not held again.
    ///
    /// A stale mirror takes no load directly: on a new stream, a load at or after its
    /// start waits in the reload ([`HubMirror::finish_reload`]); any other (older than the
    /// stream, or with no stream) is dropped.
    pub fn load_collection(&mut self, collection: &str, docs: Vec<StoredDoc>, seq: Seq) -> Vec<DocChange> {
        let Some(mirror) = self.collections.get_mut(collection) else { return Vec::new() };
        if mirror.stale {
            if let Some(reload) = mirror.reload.as_mut().filter(|_| mirror.streaming_after.is_some_and(|s| seq >= s)) {
                reload.loaded.extend(docs);
                reload.whole = true;
                reload.loaded_at = reload.loaded_at.max(seq);
            }
            return Vec::new();
        }
        if mirror.streaming_after.is_none_or(|s| seq < s) {
            // Answered before the stream started (it raced a lost socket): the changes
            // between it and the stream's start are in neither. The listen asks again.
            return Vec::new();
        }
        // Whole before: a query read it, so a document new to the hub is news to it.
        let was_full = mirror.full;
        mirror.loading_whole = false;
        let mut changes = Vec::new();
        for doc in docs {
            let (path, data, doc_seq) = (doc.path.clone(), doc.data.clone(), doc.seq);
            let held = mirror.docs.contains_key(&path);
            let was_missing = mirror.missing.contains(&path);
            let Some(replaced) = mirror.merge(doc).map(Some).or_else(|| (!held).then_some(None)) else {
                continue; // the mirror holds this version or a newer one
            };
            let before = replaced.map(|old| old.data);
            let news = match &before {
                Some(old) => *old != data,
                None => was_full || was_missing,
            };
            if news {
                let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
                changes.push(DocChange { path, kind, seq: doc_seq, before, data });
            }
        }
        mirror.full = true;
        mirror.missing.clear();
        mirror.as_of = mirror.as_of.max(seq);
        changes.sort_by_key(|c| c.seq);
        changes
    }

    /// Merges a load of one document (or its absence), current at the feed's `seq`.
    /// Returns its change if the mirror held an older version, or held it as missing. A
    /// collection ended meanwhile is not held again.
    pub fn load_document(&mut self, path: &DocPath, doc: Option<StoredDoc>, seq: Seq) -> Option<DocChange> {
        let mirror = self.collections.get_mut(path.collection())?;
        if mirror.stale {
            // As for a collection: only a load on the new stream counts, in the reload.
            if let Some(reload) = mirror.reload.as_mut().filter(|_| mirror.streaming_after.is_some_and(|s| seq >= s)) {
                match doc {
                    Some(doc) => reload.loaded.push(doc),
                    None => reload.missing.push(path.clone()),
                }
                reload.covered.insert(path.clone());
                reload.loaded_at = reload.loaded_at.max(seq);
            }
            return None;
        }
        if mirror.streaming_after.is_none_or(|s| seq < s) {
            return None; // before the stream started: as for a collection
        }
        mirror.loading.remove(path);
        mirror.as_of = mirror.as_of.max(seq);
        let Some(doc) = doc else {
            if !mirror.full && !mirror.docs.contains_key(path) {
                mirror.missing.insert(path.clone());
            }
            return None;
        };
        let (data, doc_seq) = (doc.data.clone(), doc.seq);
        let known_before = mirror.docs.contains_key(path);
        let was_missing = mirror.missing.contains(path);
        match mirror.merge(doc) {
            Some(before) => (known_before && before.data != data).then(|| DocChange {
                path: path.clone(),
                kind: ChangeKind::Modified,
                seq: doc_seq,
                before: Some(before.data),
                data,
            }),
            // Created while the hub was away: its listeners saw it missing.
            None if was_missing => {
                Some(DocChange { path: path.clone(), kind: ChangeKind::Added, seq: doc_seq, before: None, data })
            }
            None => None,
        }
    }

    /// What a stale collection streaming again still needs loaded before its reload is
    /// done: the whole collection if it was whole (or held more than
    /// [`RELOAD_WHOLE_ABOVE`]), else each document and missing id it held. Empty for a
    /// collection that is not reloading, or is loaded again.
    pub fn reload(&self, collection: &str) -> Vec<MirrorNeed> {
        let Some(mirror) = self.collections.get(collection) else { return Vec::new() };
        let Some(reload) = &mirror.reload else { return Vec::new() };
        if reload.whole {
            return Vec::new();
        }
        if mirror.full || mirror.docs.len() + mirror.missing.len() > RELOAD_WHOLE_ABOVE {
            return vec![MirrorNeed::Collection(collection.to_owned())];
        }
        mirror
            .docs
            .keys()
            .chain(&mirror.missing)
            .filter(|p| !reload.covered.contains(*p))
            .map(|p| MirrorNeed::Document(p.clone()))
            .collect()
    }

    /// The collections that are stale: loaded before a lost upstream socket, not yet
    /// loaded again.
    pub fn stale_collections(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.collections.iter().filter(|(_, m)| m.stale).map(|(name, _)| name.clone()).collect();
        names.sort();
        names
    }

    /// Applies one change streamed from the feed: the change to fan out, or `None` when
    /// the mirror already holds it (a load got there first). A document the hub has not
    /// loaded is not kept (none of its listens reads it), but its change is still given,
    /// so that a query of a whole collection sees it added.
    pub fn apply(&mut self, path: DocPath, seq: Seq, data: Map<String, Value>) -> Option<DocChange> {
        let mirror = self.collections.get_mut(path.collection())?;
        if !mirror.is_streaming() || mirror.streaming_after.is_some_and(|after| seq <= after) {
            return None;
        }
        self.stream_head = self.stream_head.max(seq);
        if let Some(reload) = &mut mirror.reload {
            // Reloading: it waits, to be applied in seq order with what the reload loads.
            reload.streamed.push(StoredDoc { path, data, seq });
            return None;
        }
        mirror.as_of = mirror.as_of.max(seq);
        let kept = mirror.knows(&path) || mirror.loading_whole || mirror.loading.contains(&path);
        let before = match mirror.docs.get(&path) {
            Some(held) if held.seq >= seq => return None,
            Some(held) => Some(held.data.clone()),
            None => None,
        };
        if kept {
            mirror.merge(StoredDoc { path: path.clone(), data: data.clone(), seq });
        }
        let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        Some(DocChange { path, kind, seq, before, data })
    }

    /// The documents a listen's snapshot is computed from
    /// ([`fanout::snapshot`](crate::fanout::snapshot)), once [`HubMirror::next_step`] says
    /// [`Step::Answer`].
    pub fn snapshot_docs(&self, target: &Target) -> Vec<StoredDoc> {
        let Some(mirror) = self.collections.get(target.collection()) else { return Vec::new() };
        match target {
            Target::Document(path) => mirror.docs.get(path).cloned().into_iter().collect(),
            Target::Collection(_) => mirror.docs.values().cloned().collect(),
        }
    }

    /// The collection's documents, for a limited query's window after a change.
    pub fn collection_docs(&self, collection: &str) -> Vec<StoredDoc> {
        self.collections.get(collection).map(|m| m.docs.values().cloned().collect()).unwrap_or_default()
    }
}

/// The variable that spreads tenants over hubs.
pub const HUBS_VAR: &str = "HOOKFEED_HUBS";

/// How many hubs each tenant's sockets are spread over (`HOOKFEED_HUBS`): `{"demo": 8}`,
/// with `"*"` for every tenant not named. 0 (the default) keeps a tenant on its feed alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubPlan {
    tenants: BTreeMap<String, u32>,
    default: u32,
}

impl HubPlan {
    /// Reads `HOOKFEED_HUBS` (unset or empty: no hubs).
    pub fn parse(text: &str) -> Result<Self, crate::source::ConfigError> {
        let bad = |expected: &'static str| crate::source::ConfigError::BadSetting {
            var: HUBS_VAR.to_owned(),
            value: crate::refusal::quote(text),
            expected,
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let map: BTreeMap<String, u32> = serde_json::from_str(text).map_err(|_| {
            bad("use a JSON object of tenant → number of hubs, like {\"demo\": 8} (\"*\" for every other tenant)")
        })?;
        if map.values().any(|n| *n > MAX_HUBS) {
            return Err(bad("at most 256 hubs per tenant"));
        }
        let default = map.get("*").copied().unwrap_or(0);
        Ok(Self { tenants: map.into_iter().filter(|(t, _)| t != "*").collect(), default })
    }

    /// How many hubs `tenant`'s sockets are spread over; 0: its feed holds them.
    pub fn hubs_for(&self, tenant: &str) -> u32 {
        self.tenants.get(tenant).copied().unwrap_or(self.default)
    }

    /// Whether any tenant uses hubs.
    pub fn is_empty(&self) -> bool {
        self.default == 0 && self.tenants.values().all(|n| *n == 0)
    }
}

/// Which hub of `hubs` a new socket goes to: spread by a hash of the client's address and
/// a per-connection nonce, so sockets of one address spread too (each hub bounds its own
/// sockets per address).
pub fn place(client: &str, nonce: u64, hubs: u32) -> u32 {
    if hubs <= 1 {
        return 0;
    }
    // FNV-1a: placement needs spread, not secrecy.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in client.bytes().chain(nonce.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(hubs)) as u32
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::fanout::snapshot;
    use crate::protocol::ServerMessage;

    fn path(p: &str) -> DocPath {
        p.parse().expect("path")
    }

    fn data(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    fn doc(p: &str, v: Value, seq: Seq) -> StoredDoc {
        StoredDoc { path: path(p), data: data(v), seq }
    }

    fn listen(target: Value, since: Option<Seq>) -> ListenRequest {
        ListenRequest { id: 1, target: serde_json::from_value(target).expect("target"), since }
    }

    fn claims(sub: &str) -> TokenClaims {
        let mut claims = TokenClaims::new("demo", vec!["*".to_owned()], 4_000_000_000);
        claims.sub = Some(sub.to_owned());
        claims
    }

    /// One step for a fresh listen by token "a".
    fn step(hub: &mut HubMirror, request: &ListenRequest) -> Step {
        let mut prep = hub.prepare(request.clone(), &claims("a"));
        let step = hub.next_step(&mut prep, &(), 0);
        hub.finish(&prep);
        step
    }

    /// The snapshot's documents and seq, if the mirror answers `request` now.
    fn answer(hub: &mut HubMirror, request: &ListenRequest) -> Option<(Vec<StoredDoc>, Seq)> {
        match step(hub, request) {
            Step::Answer { head } => Some((hub.snapshot_docs(&request.target), head)),
            _ => None,
        }
    }

    /// A feed as a hub sees it: documents, its head, and the loads it served.
    #[derive(Default)]
    struct Feed {
        docs: BTreeMap<DocPath, StoredDoc>,
        head: Seq,
        loads: usize,
        /// Loads the hub's recovery took (a reload, shared by every listen of a collection).
        reloads: usize,
    }

    impl Feed {
        /// Commits a change and streams it to the hub, as the upstream socket would.
        fn commit(&mut self, hub: &mut HubMirror, p: &str, v: Value) {
            self.head += 1;
            let d = doc(p, v, self.head);
            self.docs.insert(d.path.clone(), d.clone());
            hub.apply(d.path, d.seq, d.data);
        }

        fn collection(&self, name: &str) -> Vec<StoredDoc> {
            self.docs.values().filter(|d| d.path.collection() == name).cloned().collect()
        }
    }

    /// Prepares and answers one listen as the worker does, against `feed`: the snapshot
    /// or refusal, and how many loads the feed served for it.
    fn drive(
        hub: &mut HubMirror,
        feed: &mut Feed,
        request: &ListenRequest,
        token: &str,
        readers: &impl Readers,
    ) -> (Result<ServerMessage, HubRefusal>, usize) {
        drive_as(hub, feed, request, &claims(token), readers)
    }

    /// An owner-scoped user's claims: `projects` by `user_id`, nothing else.
    fn owner(sub: &str) -> TokenClaims {
        let mut claims = TokenClaims::new("demo", Vec::new(), 4_000_000_000);
        claims.sub = Some(sub.to_owned());
        claims.owner.insert("projects".to_owned(), "user_id".to_owned());
        claims
    }

    fn drive_as(
        hub: &mut HubMirror,
        feed: &mut Feed,
        request: &ListenRequest,
        claims: &TokenClaims,
        readers: &impl Readers,
    ) -> (Result<ServerMessage, HubRefusal>, usize) {
        let loads_before = feed.loads;
        let mut prep = hub.prepare(request.clone(), claims);
        let result = loop {
            match hub.next_step(&mut prep, readers, 0) {
                Step::Stream { collection, .. } => hub.streaming(&collection, feed.head),
                Step::Load(MirrorNeed::Collection(c)) => {
                    feed.loads += 1;
                    hub.load_collection(&c, feed.collection(&c), feed.head);
                }
                Step::Load(MirrorNeed::Document(p)) => {
                    feed.loads += 1;
                    hub.load_document(&p, feed.docs.get(&p).cloned(), feed.head);
                }
                Step::Load(MirrorNeed::Stream(_)) => unreachable!("streams are Step::Stream"),
                Step::Probe(n) => {
                    if let Some(sent) = hub.probe_to_send() {
                        hub.probe_answered(sent, feed.head);
                    }
                    assert!(hub.probe_done(n));
                }
                Step::AwaitReload(c) => {
                    recover(hub, feed, &c);
                }
                Step::Answer { head } => {
                    let docs = hub.snapshot_docs(&prep.request().target);
                    // The owner guard the socket's token puts on it, as the hub applies it.
                    let guard = claims.access(&prep.request().target).ok().flatten();
                    break Ok(snapshot(prep.request(), guard.as_ref(), docs, head));
                }
                Step::Refuse(refusal) => break Err(refusal),
            }
        };
        hub.finish(&prep);
        (result, feed.loads - loads_before)
    }

    /// The hub's recovery of one stale collection, as the worker runs it: stream again,
    /// load what the reload needs, replay. Returns the changes fanned out.
    fn recover(hub: &mut HubMirror, feed: &mut Feed, c: &str) -> Vec<DocChange> {
        if !hub.collection(c).is_some_and(CollectionMirror::is_streaming) {
            hub.streaming(c, feed.head);
        }
        for need in hub.reload(c) {
            feed.reloads += 1;
            match need {
                MirrorNeed::Collection(c) => {
                    hub.load_collection(&c, feed.collection(&c), feed.head);
                }
                MirrorNeed::Document(p) => {
                    hub.load_document(&p, feed.docs.get(&p).cloned(), feed.head);
                }
                MirrorNeed::Stream(_) => unreachable!(),
            }
        }
        let mut replay = hub.finish_reload(c).expect("every need loaded");
        std::iter::from_fn(|| hub.replay_next(&mut replay)).collect()
    }

    #[test]
    fn a_query_is_answered_once_the_collection_streams_and_is_loaded() {
        let mut hub = HubMirror::default();
        let query = listen(json!({"collection": "projects"}), None);
        assert_eq!(step(&mut hub, &query), Step::Stream { collection: "projects".into(), ended: vec![] });
        hub.streaming("projects", 10);
        assert_eq!(step(&mut hub, &query), Step::Load(MirrorNeed::Collection("projects".into())));
        // A change streams in before the load returns; the load (at seq 12) holds it too.
        let early = hub.apply(path("projects/1"), 11, data(json!({"progress": 50})));
        assert!(early.is_some(), "a change of a collection being loaded is still news");
        let changes = hub.load_collection(
            "projects",
            vec![doc("projects/1", json!({"progress": 50}), 11), doc("projects/2", json!({"progress": 5}), 12)],
            12,
        );
        assert!(changes.is_empty(), "a first load is a snapshot, not changes");
        let (docs, seq) = answer(&mut hub, &query).expect("answerable");
        assert_eq!((docs.len(), seq), (2, 12));
        // The stream catches up with what the load held: nothing is sent twice.
        assert_eq!(hub.apply(path("projects/2"), 12, data(json!({"progress": 5}))), None);
        let next = hub.apply(path("projects/2"), 13, data(json!({"progress": 9}))).expect("news");
        assert_eq!((next.kind, next.before), (ChangeKind::Modified, Some(data(json!({"progress": 5})))));
    }

    #[test]
    fn a_resume_is_the_mirrors_documents_changed_after_since_as_the_feed_computes_it() {
        let mut hub = HubMirror::default();
        step(&mut hub, &listen(json!({"collection": "projects"}), None));
        hub.streaming("projects", 0);
        hub.load_collection(
            "projects",
            vec![doc("projects/1", json!({"s": "a"}), 3), doc("projects/2", json!({"s": "b"}), 7)],
            7,
        );
        let q = json!({"collection": "projects", "where": [{"field": "s", "op": "==", "value": "a"}]});
        let resume = listen(q.clone(), Some(5));
        let (docs, seq) = answer(&mut hub, &resume).expect("answerable");
        let from_hub = snapshot(&resume, None, docs.clone(), seq);
        // The feed, holding the same documents, answers the same.
        let from_feed = snapshot(&resume, None, docs, 7);
        assert_eq!(from_hub, from_feed);
        // A subscriber that saw seq 9 elsewhere, which this hub's socket has not delivered:
        // one head probe, not a load.
        assert_eq!(step(&mut hub, &listen(q, Some(9))), Step::Probe(1));
    }

    #[test]
    fn a_resume_at_or_before_the_streams_head_needs_no_reload_on_a_quiet_collection() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        feed.commit(&mut hub, "projects/1", json!({"p": 1}));
        let query = listen(json!({"collection": "projects"}), None);
        let (_, loads) = drive(&mut hub, &mut feed, &query, "a", &());
        assert_eq!(loads, 1, "the first query loads its collection");
        // Busy elsewhere: `users` streams too, and the feed's seq moves on through it only.
        let _ = drive(&mut hub, &mut feed, &listen(json!({"doc": "users/u"}), None), "a", &());
        for i in 0..5 {
            feed.commit(&mut hub, "users/u", json!({"i": i}));
        }
        assert_eq!(hub.collection("projects").map(CollectionMirror::as_of), Some(1));
        assert_eq!(hub.stream_head(), feed.head);
        // A client resuming with the feed's head: no load, no probe, an empty delta.
        let probes = hub.probes_sent();
        let resume = listen(json!({"collection": "projects"}), Some(feed.head));
        let (answer, loads) = drive(&mut hub, &mut feed, &resume, "a", &());
        assert_eq!((loads, hub.probes_sent()), (0, probes));
        let Ok(ServerMessage::Snapshot { seq, since, docs, .. }) = answer else { panic!("{answer:?}") };
        assert_eq!((seq, since, docs.len()), (feed.head, Some(feed.head), 0));
        // Same for a document listen.
        let resume = listen(json!({"doc": "projects/1"}), Some(feed.head));
        let (_, loads) = drive(&mut hub, &mut feed, &resume, "a", &());
        assert_eq!((loads, hub.probes_sent()), (0, probes));
    }

    #[test]
    fn a_since_ahead_of_the_feed_costs_one_probe_and_no_load_and_gets_a_full_snapshot() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        feed.commit(&mut hub, "projects/1", json!({"p": 1}));
        let ahead = listen(json!({"collection": "projects"}), Some(LIVE_ONLY_SINCE));
        // Cold: the collection loads once (a query needs it); that load, asked after the
        // listen arrived, shows the since is ahead: no probe.
        let (answer, loads) = drive(&mut hub, &mut feed, &ahead, "a", &());
        assert_eq!((loads, hub.probes_sent()), (1, 0));
        let Ok(ServerMessage::Snapshot { since: None, docs, seq, .. }) = answer else { panic!("{answer:?}") };
        assert_eq!((docs.len(), seq), (1, feed.head));
        // Warm: no load at all, one probe per listen frame.
        for round in 0..20 {
            let (answer, loads) = drive(&mut hub, &mut feed, &ahead, "a", &());
            assert_eq!(loads, 0);
            assert_eq!(hub.probes_sent(), 1 + round);
            assert!(matches!(answer, Ok(ServerMessage::Snapshot { since: None, .. })));
        }
        // A document listen: one load for the document, then none.
        let one = listen(json!({"doc": "videos/9"}), Some(LIVE_ONLY_SINCE));
        assert_eq!(drive(&mut hub, &mut feed, &one, "a", &()).1, 1);
        assert_eq!(drive(&mut hub, &mut feed, &one, "a", &()).1, 0);
        // A stale mirror (the socket was lost) is reloaded once by the hub (the listen waits
        // for it, and takes no load of its own), and the listen takes no probe.
        hub.upstream_lost();
        let (probes, reloads) = (hub.probes_sent(), feed.reloads);
        let (answer, loads) = drive(&mut hub, &mut feed, &ahead, "a", &());
        assert_eq!((loads, feed.reloads - reloads, hub.probes_sent()), (0, 1, probes));
        assert!(matches!(answer, Ok(ServerMessage::Snapshot { since: None, .. })));
    }

    #[test]
    fn listens_asking_together_share_one_head_probe_sent_after_they_asked() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        let _ = drive(&mut hub, &mut feed, &listen(json!({"collection": "projects"}), None), "a", &());
        let ahead = listen(json!({"collection": "projects"}), Some(99));
        let mut first = hub.prepare(ahead.clone(), &claims("a"));
        assert_eq!(hub.next_step(&mut first, &(), 0), Step::Probe(1));
        assert_eq!(hub.probe_to_send(), Some(1));
        // A listen arriving while probe 1 is in flight waits for the next one.
        let mut second = hub.prepare(ahead.clone(), &claims("b"));
        let mut third = hub.prepare(ahead, &claims("c"));
        assert_eq!(hub.next_step(&mut second, &(), 0), Step::Probe(2));
        assert_eq!(hub.next_step(&mut third, &(), 0), Step::Probe(2));
        assert_eq!(hub.probe_to_send(), None, "one probe in flight at a time");
        hub.probe_answered(1, 5);
        assert!(matches!(hub.next_step(&mut first, &(), 0), Step::Answer { .. }));
        assert_eq!(hub.next_step(&mut second, &(), 0), Step::Probe(2));
        assert_eq!(hub.probe_to_send(), Some(2));
        assert_eq!(hub.probe_to_send(), None, "probe 2 serves both");
        hub.probe_answered(2, 5);
        assert!(matches!(hub.next_step(&mut second, &(), 0), Step::Answer { .. }));
        assert!(matches!(hub.next_step(&mut third, &(), 0), Step::Answer { .. }));
        assert_eq!(third.request().since, None, "99 is ahead of the feed at 5");
        // A probe lost with the socket is sent again.
        let mut fourth = hub.prepare(listen(json!({"collection": "projects"}), Some(99)), &claims("a"));
        assert_eq!(hub.next_step(&mut fourth, &(), 0), Step::Probe(3));
        assert_eq!(hub.probe_to_send(), Some(3));
        hub.probe_lost(3);
        assert_eq!(hub.probe_to_send(), Some(3));
        for prep in [&first, &second, &third, &fourth] {
            hub.finish(prep);
        }
    }

    #[test]
    fn a_listen_takes_at_most_its_bounded_steps() {
        let mut hub = HubMirror::default();
        let query = listen(json!({"collection": "projects"}), None);
        let mut prep = hub.prepare(query, &claims("a"));
        // The upstream never streams: the listen is refused after MAX_PREPARATION_STEPS.
        let steps: Vec<Step> = (0..10).map(|_| hub.next_step(&mut prep, &(), 0)).collect();
        let refused = steps.iter().position(|s| *s == Step::Refuse(HubRefusal::Unavailable));
        assert_eq!(refused, Some(MAX_PREPARATION_STEPS as usize));
        // A load that did not make the mirror able to answer is not taken twice.
        hub.streaming("projects", 1);
        let mut prep = hub.prepare(listen(json!({"collection": "projects"}), None), &claims("a"));
        assert!(matches!(hub.next_step(&mut prep, &(), 0), Step::Load(_)));
        assert_eq!(hub.next_step(&mut prep, &(), 0), Step::Refuse(HubRefusal::Unavailable));
    }

    /// Readers for tests: the collections and documents listed are read.
    #[derive(Default)]
    struct Reading {
        collections: HashSet<String>,
        documents: HashSet<DocPath>,
    }

    impl Readers for Reading {
        fn reads_document(&self, path: &DocPath) -> bool {
            self.documents.contains(path)
        }

        fn reads_collection(&self, collection: &str) -> bool {
            self.collections.contains(collection) || self.documents.iter().any(|d| d.collection() == collection)
        }
    }

    #[test]
    fn one_token_opens_at_most_its_cap_of_collections_and_its_unread_ones_are_ended_first() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        let mut reading = Reading::default();
        let query = |c: &str| listen(json!({"collection": c}), None);
        for i in 0..MAX_COLLECTIONS_PER_TOKEN {
            let c = format!("c{i}");
            assert!(drive(&mut hub, &mut feed, &query(&c), "greedy", &reading).0.is_ok());
            reading.collections.insert(c);
        }
        let (refused, _) = drive(&mut hub, &mut feed, &query("one-more"), "greedy", &reading);
        assert_eq!(refused, Err(HubRefusal::TokenCollections { limit: MAX_COLLECTIONS_PER_TOKEN }));
        assert_eq!(refused.as_ref().err().map(HubRefusal::code), Some(ErrorCode::ResourceExhausted));
        // Another token still gets its collection streamed.
        assert!(drive(&mut hub, &mut feed, &query("theirs"), "other", &reading).0.is_ok());
        // The greedy token stops reading c3: its next collection ends c3 instead of failing.
        reading.collections.remove("c3");
        let mut prep = hub.prepare(query("one-more"), &claims("greedy"));
        let step = hub.next_step(&mut prep, &reading, 0);
        assert_eq!(step, Step::Stream { collection: "one-more".into(), ended: vec!["c3".into()] });
        hub.finish(&prep);
        assert!(hub.collection("c3").is_none());
    }

    #[test]
    fn a_full_hub_ends_the_least_recently_asked_unread_collection_before_refusing() {
        let mut hub = HubMirror::default();
        let mut reading = Reading::default();
        for i in 0..MAX_HUB_COLLECTIONS {
            // Many tokens, each within its cap.
            let mut prep = hub.prepare(listen(json!({"collection": format!("c{i}")}), None), &claims(&format!("t{i}")));
            assert!(matches!(hub.next_step(&mut prep, &reading, i as i64), Step::Stream { .. }));
            hub.finish(&prep);
            reading.collections.insert(format!("c{i}"));
        }
        let mut prep = hub.prepare(listen(json!({"collection": "new"}), None), &claims("late"));
        assert_eq!(
            hub.next_step(&mut prep, &reading, 1_000),
            Step::Refuse(HubRefusal::HubCollections { limit: MAX_HUB_COLLECTIONS })
        );
        hub.finish(&prep);
        reading.collections.remove("c7");
        reading.collections.remove("c5");
        let mut prep = hub.prepare(listen(json!({"collection": "new"}), None), &claims("late"));
        assert_eq!(
            hub.next_step(&mut prep, &reading, 1_001),
            Step::Stream { collection: "new".into(), ended: vec!["c5".into()] }
        );
        hub.finish(&prep);
        reading.collections.insert("new".into());
        assert_eq!(hub.collections().count(), MAX_HUB_COLLECTIONS);
        // A collection with a listen being prepared is not ended under it.
        let pin = hub.prepare(listen(json!({"collection": "c7"}), None), &claims("t7"));
        let mut prep = hub.prepare(listen(json!({"collection": "newer"}), None), &claims("late"));
        assert_eq!(
            hub.next_step(&mut prep, &reading, 1_002),
            Step::Refuse(HubRefusal::HubCollections { limit: MAX_HUB_COLLECTIONS })
        );
        hub.finish(&prep);
        hub.finish(&pin);
    }

    #[test]
    fn unread_documents_and_missing_ids_are_evicted_from_a_document_mirror() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        let mut reading = Reading::default();
        for i in 0..10 {
            feed.commit(&mut hub, &format!("projects/{i}"), json!({"i": i}));
        }
        // A listen/unlisten loop over many ids, some existing, most missing.
        let n = 3 * MIRROR_UNREAD_SLACK;
        for i in 0..n {
            let p = path(&format!("projects/{i}"));
            let (answer, loads) = drive(&mut hub, &mut feed, &listen(json!({"doc": p.as_str()}), None), "a", &reading);
            assert!(answer.is_ok() && loads <= 1);
            if i % 100 == 0 {
                reading.documents.insert(p); // still read
            }
            hub.evict_unread("projects", &reading);
            let m = hub.collection("projects").expect("mirror");
            let held = m.docs().count() + m.missing_len();
            assert!(held <= 2 * MIRROR_UNREAD_SLACK.max(reading.documents.len()) + 1, "{held} held after {i}");
        }
        // What is read stays (and answers without a load).
        for p in reading.documents.clone() {
            assert!(hub.collection("projects").is_some_and(|m| m.knows(&p)), "{p}");
            let (_, loads) = drive(&mut hub, &mut feed, &listen(json!({"doc": p.as_str()}), None), "a", &reading);
            assert_eq!(loads, 0);
        }
        // A full mirror keeps everything (queries read it whole).
        let _ = drive(&mut hub, &mut feed, &listen(json!({"collection": "projects"}), None), "a", &reading);
        assert_eq!(hub.evict_unread("projects", &Reading::default()), 0);
    }

    #[test]
    fn missing_ids_are_a_bounded_set_and_past_the_bound_unread_ones_go_before_anyone_is_refused() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        let mut reading = Reading::default();
        // Spread over collections so that no one mirror's eviction kicks in first.
        let per = MAX_MISSING_IDS / 50;
        for c in 0..50 {
            for i in 0..per {
                let p = path(&format!("c{c}/{i}"));
                let _ =
                    drive(&mut hub, &mut feed, &listen(json!({"doc": p.as_str()}), None), &format!("t{c}"), &reading);
                reading.documents.insert(p);
            }
        }
        assert_eq!(hub.missing_len(), MAX_MISSING_IDS);
        let (refused, loads) = drive(&mut hub, &mut feed, &listen(json!({"doc": "c0/new"}), None), "t0", &reading);
        assert_eq!((refused, loads), (Err(HubRefusal::MissingIds { limit: MAX_MISSING_IDS }), 0));
        // Ids nobody reads any more are evicted rather than refuse the next listen.
        reading.documents.retain(|p| p.collection() != "c1");
        let (answer, loads) = drive(&mut hub, &mut feed, &listen(json!({"doc": "c0/new"}), None), "t0", &reading);
        assert!(answer.is_ok() && loads == 1, "{answer:?}");
        assert_eq!(hub.missing_len(), MAX_MISSING_IDS - per + 1);
        // A missing id's lookup is a hash lookup (no linear scan): knowing one is cheap.
        assert!(hub.collection("c2").is_some_and(|m| m.knows(&path("c2/7"))));
    }

    #[test]
    fn a_document_listen_loads_only_its_document_and_its_first_event_is_kept() {
        let mut hub = HubMirror::default();
        let one = listen(json!({"doc": "projects/9"}), None);
        assert!(matches!(step(&mut hub, &one), Step::Stream { .. }));
        hub.streaming("projects", 4);
        assert_eq!(step(&mut hub, &one), Step::Load(MirrorNeed::Document(path("projects/9"))));
        assert_eq!(hub.load_document(&path("projects/9"), None, 4), None);
        assert_eq!(answer(&mut hub, &one), Some((Vec::new(), 4)));
        let created = hub.apply(path("projects/9"), 5, data(json!({"status": "created"}))).expect("news");
        assert_eq!(created.kind, ChangeKind::Added);
        assert_eq!(answer(&mut hub, &one).map(|(d, s)| (d.len(), s)), Some((1, 5)));
        // Another document of the collection is passed on but not kept.
        assert!(hub.apply(path("projects/10"), 6, data(json!({}))).is_some());
        assert_eq!(hub.collection("projects").map(|m| m.docs().count()), Some(1));
    }

    #[test]
    fn after_a_reconnect_a_reload_yields_exactly_what_changed_meanwhile() {
        let mut hub = HubMirror::default();
        hub.streaming("projects", 0);
        hub.load_collection(
            "projects",
            vec![doc("projects/1", json!({"p": 1}), 1), doc("projects/2", json!({"p": 2}), 2)],
            2,
        );
        hub.upstream_lost();
        assert_eq!(hub.apply(path("projects/1"), 3, data(json!({"p": 3}))), None, "nothing applies while lost");
        hub.streaming("projects", 6);
        // Stale until reloaded: a listen waits for the reload rather than be answered at
        // the old seq (changes older than the stream's would then reach it after newer ones).
        assert_eq!(
            step(&mut hub, &listen(json!({"collection": "projects"}), None)),
            Step::AwaitReload("projects".into())
        );
        assert_eq!(hub.reload("projects"), [MirrorNeed::Collection("projects".into())]);
        let early = hub.load_collection(
            "projects",
            vec![
                doc("projects/1", json!({"p": 3}), 5),
                doc("projects/2", json!({"p": 2}), 2),
                doc("projects/3", json!({"p": 0}), 6),
            ],
            6,
        );
        assert!(early.is_empty(), "a reload's load waits for the reload's end");
        let mut replay = hub.finish_reload("projects").expect("loaded");
        let changes: Vec<DocChange> = std::iter::from_fn(|| hub.replay_next(&mut replay)).collect();
        let got: Vec<_> = changes.iter().map(|c| (c.path.to_string(), c.kind, c.seq)).collect();
        assert_eq!(
            got,
            [("projects/1".into(), ChangeKind::Modified, 5), ("projects/3".into(), ChangeKind::Added, 6)],
            "changed and added, in seq order; the unchanged one is not repeated"
        );
        assert_eq!(hub.apply(path("projects/3"), 6, data(json!({"p": 0}))), None, "the stream starts after 6");
    }

    #[test]
    fn a_document_created_while_the_hub_was_away_is_news_to_its_listeners() {
        let mut hub = HubMirror::default();
        hub.streaming("projects", 0);
        hub.load_document(&path("projects/1"), None, 0);
        hub.upstream_lost();
        hub.streaming("projects", 4);
        assert_eq!(hub.reload("projects"), [MirrorNeed::Document(path("projects/1"))]);
        let early = hub.load_document(&path("projects/1"), Some(doc("projects/1", json!({"p": 1}), 3)), 4);
        assert_eq!(early, None, "a reload's load waits for the reload's end");
        let mut replay = hub.finish_reload("projects").expect("loaded");
        let change = hub.replay_next(&mut replay);
        assert_eq!(change.map(|c| (c.kind, c.seq)), Some((ChangeKind::Added, 3)));
        assert_eq!(hub.replay_next(&mut replay), None);
        assert_eq!(answer(&mut hub, &listen(json!({"doc": "projects/1"}), None)).map(|(_, s)| s), Some(4));
    }

    proptest! {
        /// Any history of events and listens (with any `since`, made-up ones among them):
        /// every listen costs the feed at most one load, is answered with what the feed
        /// itself answers (a full snapshot for a `since` ahead of it), and a resume at or
        /// before what the hub's socket delivered takes no load and no probe.
        #[test]
        fn every_listen_costs_at_most_one_load_and_answers_as_the_feed(
            ops in proptest::collection::vec((0u8..4, 0u8..3, 0u8..4, 0u8..6), 1..60)
        ) {
            let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
            for (op, collection, id, since) in ops {
                let c = ["projects", "users", "videos"][usize::from(collection)];
                if op == 0 {
                    feed.commit(&mut hub, &format!("{c}/{id}"), json!({"id": id, "at": feed.head}));
                    continue;
                }
                if op == 3 {
                    hub.upstream_lost();
                    for name in hub.collections().map(str::to_owned).collect::<Vec<_>>() {
                        hub.streaming(&name, feed.head);
                    }
                    continue;
                }
                let target = if op == 1 { json!({"collection": c}) } else { json!({"doc": format!("{c}/{id}")}) };
                let since = match since {
                    0 => None,
                    1 => Some(0),
                    2 => Some(feed.head / 2),
                    3 => Some(feed.head),
                    4 => Some(feed.head + 1),
                    _ => Some(LIVE_ONLY_SINCE),
                };
                let request = listen(target, since);
                let warm = hub.collection(c).is_some_and(|m| m.is_streaming() && !m.stale
                    && match &request.target { Target::Collection(_) => m.full, Target::Document(p) => m.knows(p) });
                let known = since.is_some_and(|s| s <= hub.stream_head());
                let probes = hub.probes_sent();
                let (answer, loads) = drive(&mut hub, &mut feed, &request, "a", &());
                prop_assert!(loads <= 1);
                if warm && known {
                    prop_assert_eq!((loads, hub.probes_sent()), (0, probes));
                }
                let Ok(ServerMessage::Snapshot { docs, since: got_since, removed, seq, .. }) = answer else {
                    return Err(TestCaseError::fail(format!("{answer:?}")));
                };
                let effective = ListenRequest { since: since.filter(|s| *s <= feed.head), ..request.clone() };
                let candidates = match &request.target {
                    Target::Document(p) => feed.docs.get(p).cloned().into_iter().collect(),
                    Target::Collection(_) => feed.collection(c),
                };
                let ServerMessage::Snapshot { docs: want, since: want_since, removed: want_removed, .. } =
                    snapshot(&effective, None, candidates, feed.head) else { unreachable!() };
                prop_assert!(seq <= feed.head);
                prop_assert_eq!(got_since, want_since);
                if got_since.is_some() {
                    // A stale mirror answers at its older seq: what changed after it comes
                    // as changes with the reload, so compare only what it reports.
                    let current: Vec<_> = want.iter().filter(|d| feed.docs.get(&d.path).is_some_and(|s| s.seq <= seq)).cloned().collect();
                    prop_assert_eq!(docs, current);
                    prop_assert_eq!(removed, want_removed);
                } else if seq == feed.head {
                    prop_assert_eq!(docs, want);
                }
            }
        }
    }

    #[test]
    fn the_hub_plan_names_tenants_a_default_and_refuses_what_cannot_work() {
        let plan = HubPlan::parse(r#"{"demo": 4, "*": 2, "small": 0}"#).expect("valid");
        assert_eq!((plan.hubs_for("demo"), plan.hubs_for("other"), plan.hubs_for("small")), (4, 2, 0));
        assert!(HubPlan::parse("").expect("unset").is_empty());
        assert_eq!(HubPlan::parse("{}").expect("none").hubs_for("demo"), 0);
        for bad in ["4", "[1]", r#"{"demo": -1}"#, r#"{"demo": 1000}"#, r#"{"demo": "4"}"#] {
            let err = HubPlan::parse(bad).expect_err(bad).to_string();
            assert!(err.contains("HOOKFEED_HUBS"), "{bad}: {err}");
        }
    }

    #[test]
    fn placement_spreads_sockets_over_every_hub() {
        let mut counts = [0u32; 4];
        for nonce in 0..4_000 {
            counts[place("203.0.113.7", nonce, 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1_200).contains(c)), "{counts:?}");
        assert_eq!(place("x", 1, 1), 0);
        assert_eq!(place("x", 1, 0), 0);
    }

    /// Attack review (issue 17): an owner-scoped user fills what a hub keeps with listens on
    /// made-up ids, then listens to another owner's project, then to one more id. Every
    /// answer, refusals included, is the same whether that project exists or not.
    #[test]
    fn another_owners_document_and_a_missing_one_cost_a_hub_alike() {
        let outcomes = |bob_exists: bool| {
            let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
            if bob_exists {
                feed.head += 1;
                let d = doc("projects/bob-7", json!({"user_id": "bob"}), feed.head);
                feed.docs.insert(d.path.clone(), d);
            }
            let mut reading = Reading::default();
            let alice = owner("alice");
            let mut answers = Vec::new();
            let listen_to = |hub: &mut HubMirror, feed: &mut Feed, reading: &mut Reading, p: &str| {
                let (answer, _) = drive_as(hub, feed, &listen(json!({"doc": p}), None), &alice, &*reading);
                reading.documents.insert(path(p));
                // What alice sees: the snapshot's documents (none: neither is hers), or the refusal.
                answer.map(|m| match m {
                    ServerMessage::Snapshot { docs, .. } => docs.len(),
                    _ => usize::MAX,
                })
            };
            // As many as would fill the hub's missing ids (they were one bound for everyone,
            // whose count grew only for what does not exist).
            for i in 0..MAX_MISSING_IDS - 1 {
                if listen_to(&mut hub, &mut feed, &mut reading, &format!("projects/guess-{i}")).is_err() {
                    break; // her own share is spent: nothing more to learn from more of the same
                }
            }
            answers.push(listen_to(&mut hub, &mut feed, &mut reading, "projects/bob-7"));
            answers.push(listen_to(&mut hub, &mut feed, &mut reading, "projects/one-more"));
            answers
        };
        let (exists, missing) = (outcomes(true), outcomes(false));
        assert_eq!(exists, missing, "bob's project exists: {exists:?}; it does not: {missing:?}");
        assert_eq!(missing[1], Err(HubRefusal::TokenDocuments { limit: MAX_GUARDED_DOCUMENTS_PER_TOKEN }));
    }

    /// Attack review (issue 17): one owner-scoped user holding as many document listens as
    /// it may does not keep another user's page from watching its not-yet-created project.
    #[test]
    fn one_token_cannot_take_every_document_slot_of_a_hub() {
        let (mut hub, mut feed) = (HubMirror::default(), Feed::default());
        let mut reading = Reading::default();
        let alice = owner("alice");
        for i in 0..MAX_MISSING_IDS {
            let p = format!("projects/guess-{i}");
            let (answer, _) =
                drive_as(&mut hub, &mut feed, &listen(json!({"doc": p.as_str()}), None), &alice, &reading);
            if answer.is_err() {
                break; // her share is spent
            }
            reading.documents.insert(path(&p));
        }
        let (bob, _) =
            drive_as(&mut hub, &mut feed, &listen(json!({"doc": "projects/bob-new"}), None), &owner("bob"), &reading);
        assert!(bob.is_ok(), "another user's listen on its not-yet-created project: {bob:?}");
        // And alice's slots free up as her listens end.
        reading.documents.retain(|p| !p.as_str().ends_with("-3"));
        let (again, _) =
            drive_as(&mut hub, &mut feed, &listen(json!({"doc": "projects/late"}), None), &alice, &reading);
        assert!(again.is_ok(), "{again:?}");
    }
}
