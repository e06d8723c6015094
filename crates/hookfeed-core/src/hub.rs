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

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::fanout::StoredDoc;
use crate::ledger::{ChangeKind, DocChange, Seq};
use crate::path::DocPath;
use crate::protocol::{ListenRequest, Target};

/// The `since` a hub's upstream listen asks with: no documents, only the seq the feed is
/// at, after which every change of the collection streams (a hub loads documents itself).
/// The largest integer JSON carries exactly.
pub const LIVE_ONLY_SINCE: Seq = (1 << 53) - 1;

/// Hubs a tenant may be spread over.
pub const MAX_HUBS: u32 = 256;

/// One collection as a hub knows it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CollectionMirror {
    docs: BTreeMap<DocPath, StoredDoc>,
    /// Documents loaded as missing (a document listen before the document's first event):
    /// their first change must be kept.
    missing: Vec<DocPath>,
    /// The feed's seq the upstream stream started after: every change after it reaches
    /// the hub. `None` until the upstream listen is live.
    streaming_after: Option<Seq>,
    /// Set once the whole collection is loaded (a query needs it).
    full: bool,
    /// The mirror reflects every change of its loaded documents up to this seq.
    as_of: Seq,
}

impl CollectionMirror {
    /// Whether the upstream listen is live.
    pub fn is_streaming(&self) -> bool {
        self.streaming_after.is_some()
    }

    /// Whether the whole collection is loaded.
    pub fn is_full(&self) -> bool {
        self.full
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

    fn merge(&mut self, doc: StoredDoc) -> Option<StoredDoc> {
        match self.docs.get(&doc.path) {
            Some(held) if held.seq >= doc.seq => None,
            _ => {
                self.missing.retain(|p| *p != doc.path);
                self.docs.insert(doc.path.clone(), doc)
            }
        }
    }
}

/// What a hub knows, by collection.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HubMirror {
    collections: HashMap<String, CollectionMirror>,
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

impl HubMirror {
    /// The collection's mirror, if the hub holds one.
    pub fn collection(&self, name: &str) -> Option<&CollectionMirror> {
        self.collections.get(name)
    }

    /// The collections the hub streams or is starting to.
    pub fn collections(&self) -> impl Iterator<Item = &str> {
        self.collections.keys().map(String::as_str)
    }

    /// What must happen before `request` can be answered: `None` when the mirror can
    /// answer it now. A resume after a seq the mirror is not yet at loads again, so a
    /// subscriber coming from another hub (or the feed) never goes back in time.
    pub fn need(&self, request: &ListenRequest) -> Option<MirrorNeed> {
        let collection = request.target.collection();
        let Some(mirror) = self.collections.get(collection).filter(|m| m.is_streaming()) else {
            return Some(MirrorNeed::Stream(collection.to_owned()));
        };
        let behind = request.since.is_some_and(|since| since > mirror.as_of);
        match &request.target {
            Target::Collection(_) if !mirror.full || behind => Some(MirrorNeed::Collection(collection.to_owned())),
            Target::Document(path) if !mirror.knows(path) || behind => Some(MirrorNeed::Document(path.clone())),
            _ => None,
        }
    }

    /// The upstream listen of `collection` is live: every change after `seq` will arrive.
    /// Documents loaded before it may have missed changes, so they are dropped and loaded
    /// again as listens need them (after a reconnect, [`HubMirror::reload`] tells what
    /// changed meanwhile).
    pub fn streaming(&mut self, collection: &str, seq: Seq) {
        let mirror = self.collections.entry(collection.to_owned()).or_default();
        mirror.streaming_after = Some(seq);
    }

    /// The upstream socket closed: no collection streams until it is listened to again.
    /// The documents stay, to compare with what is loaded after the reconnect.
    pub fn upstream_lost(&mut self) {
        for mirror in self.collections.values_mut() {
            mirror.streaming_after = None;
        }
    }

    /// Merges a load of the whole collection, current at the feed's `seq` (which is at
    /// or after the stream's start, since loads happen once it is live). Returns the
    /// documents that changed compared with what the mirror held, as changes to fan out
    /// (after a reconnect, what happened while the hub was away).
    pub fn load_collection(&mut self, collection: &str, docs: Vec<StoredDoc>, seq: Seq) -> Vec<DocChange> {
        let mirror = self.collections.entry(collection.to_owned()).or_default();
        // Whole before: a query read it, so a document new to the hub is news to it.
        let was_full = mirror.full;
        let mut changes = Vec::new();
        for doc in docs {
            let (path, data, doc_seq) = (doc.path.clone(), doc.data.clone(), doc.seq);
            let held = mirror.docs.contains_key(&path);
            let Some(replaced) = mirror.merge(doc).map(Some).or_else(|| (!held).then_some(None)) else {
                continue; // the mirror holds this version or a newer one
            };
            let before = replaced.map(|old| old.data);
            let news = match &before {
                Some(old) => *old != data,
                None => was_full,
            };
            if news {
                let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
                changes.push(DocChange { path, kind, seq: doc_seq, before, data });
            }
        }
        mirror.full = true;
        mirror.as_of = mirror.as_of.max(seq);
        changes.sort_by_key(|c| c.seq);
        changes
    }

    /// Merges a load of one document (or its absence), current at the feed's `seq`.
    /// Returns its change if the mirror held an older version.
    pub fn load_document(&mut self, path: &DocPath, doc: Option<StoredDoc>, seq: Seq) -> Option<DocChange> {
        let mirror = self.collections.entry(path.collection().to_owned()).or_default();
        mirror.as_of = mirror.as_of.max(seq);
        let Some(doc) = doc else {
            if !mirror.docs.contains_key(path) && !mirror.missing.contains(path) {
                mirror.missing.push(path.clone());
            }
            return None;
        };
        let (data, doc_seq) = (doc.data.clone(), doc.seq);
        let known_before = mirror.docs.contains_key(path);
        let before = mirror.merge(doc)?;
        (known_before && before.data != data).then(|| DocChange {
            path: path.clone(),
            kind: ChangeKind::Modified,
            seq: doc_seq,
            before: Some(before.data),
            data,
        })
    }

    /// The reload needs after a reconnect: every collection the hub held, whole if it was
    /// whole, else each loaded document.
    pub fn reload(&self, collection: &str) -> Vec<MirrorNeed> {
        let Some(mirror) = self.collections.get(collection) else { return Vec::new() };
        if mirror.full {
            return vec![MirrorNeed::Collection(collection.to_owned())];
        }
        mirror.docs.keys().chain(&mirror.missing).map(|p| MirrorNeed::Document(p.clone())).collect()
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
        mirror.as_of = mirror.as_of.max(seq);
        let kept = mirror.knows(&path);
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

    /// The seq a listen's snapshot would be current at, once [`HubMirror::need`] says
    /// nothing: cheap, so that a snapshot already built for it can be reused without
    /// copying the documents ([`HubMirror::snapshot_docs`]).
    pub fn head_for(&self, request: &ListenRequest) -> Option<Seq> {
        if self.need(request).is_some() {
            return None;
        }
        self.collections.get(request.target.collection()).map(|m| m.as_of)
    }

    /// The documents a listen's snapshot is computed from ([`fanout::snapshot`](crate::fanout::snapshot))
    /// and the seq it is current at; `None` until [`HubMirror::need`] says nothing.
    pub fn snapshot_docs(&self, request: &ListenRequest) -> Option<(Vec<StoredDoc>, Seq)> {
        if self.need(request).is_some() {
            return None;
        }
        let mirror = self.collections.get(request.target.collection())?;
        let docs = match &request.target {
            Target::Document(path) => mirror.docs.get(path).cloned().into_iter().collect(),
            Target::Collection(_) => mirror.docs.values().cloned().collect(),
        };
        Some((docs, mirror.as_of))
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
    use serde_json::json;

    use super::*;
    use crate::fanout::snapshot;

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

    #[test]
    fn a_query_is_answered_once_the_collection_streams_and_is_loaded() {
        let mut hub = HubMirror::default();
        let query = listen(json!({"collection": "projects"}), None);
        assert_eq!(hub.need(&query), Some(MirrorNeed::Stream("projects".into())));
        hub.streaming("projects", 10);
        assert_eq!(hub.need(&query), Some(MirrorNeed::Collection("projects".into())));
        // A change streams in before the load returns; the load (at seq 12) holds it too.
        let early = hub.apply(path("projects/1"), 11, data(json!({"progress": 50})));
        assert!(early.is_some(), "a change of a collection being loaded is still news");
        let changes = hub.load_collection(
            "projects",
            vec![doc("projects/1", json!({"progress": 50}), 11), doc("projects/2", json!({"progress": 5}), 12)],
            12,
        );
        assert!(changes.is_empty(), "a first load is a snapshot, not changes");
        assert_eq!(hub.need(&query), None);
        let (docs, seq) = hub.snapshot_docs(&query).expect("answerable");
        assert_eq!((docs.len(), seq), (2, 12));
        // The stream catches up with what the load held: nothing is sent twice.
        assert_eq!(hub.apply(path("projects/2"), 12, data(json!({"progress": 5}))), None);
        let next = hub.apply(path("projects/2"), 13, data(json!({"progress": 9}))).expect("news");
        assert_eq!((next.kind, next.before), (ChangeKind::Modified, Some(data(json!({"progress": 5})))));
    }

    #[test]
    fn a_resume_is_the_mirrors_documents_changed_after_since_as_the_feed_computes_it() {
        let mut hub = HubMirror::default();
        hub.streaming("projects", 0);
        hub.load_collection(
            "projects",
            vec![doc("projects/1", json!({"s": "a"}), 3), doc("projects/2", json!({"s": "b"}), 7)],
            7,
        );
        let q = json!({"collection": "projects", "where": [{"field": "s", "op": "==", "value": "a"}]});
        let resume = listen(q.clone(), Some(5));
        let (docs, seq) = hub.snapshot_docs(&resume).expect("answerable");
        let from_hub = snapshot(&resume, None, docs.clone(), seq);
        // The feed, holding the same documents, answers the same.
        let from_feed = snapshot(&resume, None, docs, 7);
        assert_eq!(from_hub, from_feed);
        // A subscriber that saw seq 9 elsewhere: this hub is behind, so it loads first.
        assert_eq!(hub.need(&listen(q, Some(9))), Some(MirrorNeed::Collection("projects".into())));
    }

    #[test]
    fn a_document_listen_loads_only_its_document_and_its_first_event_is_kept() {
        let mut hub = HubMirror::default();
        hub.streaming("projects", 4);
        let one = listen(json!({"doc": "projects/9"}), None);
        assert_eq!(hub.need(&one), Some(MirrorNeed::Document(path("projects/9"))));
        assert_eq!(hub.load_document(&path("projects/9"), None, 4), None);
        assert_eq!(hub.snapshot_docs(&one), Some((Vec::new(), 4)));
        let created = hub.apply(path("projects/9"), 5, data(json!({"status": "created"}))).expect("news");
        assert_eq!(created.kind, ChangeKind::Added);
        assert_eq!(hub.snapshot_docs(&one).map(|(d, s)| (d.len(), s)), Some((1, 5)));
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
        assert_eq!(hub.reload("projects"), [MirrorNeed::Collection("projects".into())]);
        let changes = hub.load_collection(
            "projects",
            vec![
                doc("projects/1", json!({"p": 3}), 5),
                doc("projects/2", json!({"p": 2}), 2),
                doc("projects/3", json!({"p": 0}), 6),
            ],
            6,
        );
        let got: Vec<_> = changes.iter().map(|c| (c.path.to_string(), c.kind, c.seq)).collect();
        assert_eq!(
            got,
            [("projects/1".into(), ChangeKind::Modified, 5), ("projects/3".into(), ChangeKind::Added, 6)],
            "changed and added, in seq order; the unchanged one is not repeated"
        );
        assert_eq!(hub.apply(path("projects/3"), 6, data(json!({"p": 0}))), None, "the stream starts after 6");
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
}
