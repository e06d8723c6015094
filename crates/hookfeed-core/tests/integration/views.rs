//! A token's view is the whole of what it learns: whatever the documents outside it do,
//! and whatever `since` a listen resumes from, no frame names a path outside the view,
//! and every frame is the same as if those documents did not exist. Run on the feed's
//! path (candidates read from its store) and on a hub's (the same documents through a
//! [`HubMirror`]).

use std::collections::BTreeMap;

use hookfeed_core::fanout::{snapshot, SocketAction, SocketState, StoredDoc, SubscriptionIndex};
use hookfeed_core::hub::HubMirror;
use hookfeed_core::ledger::{ChangeKind, DocChange, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{ListenRequest, ServerMessage, Target};
use hookfeed_core::query::Filter;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::UnixTime;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const OWNERS: [&str; 3] = ["alice", "bob", "carol"];
const IDS: usize = 6;

/// One write to a document of `projects`: its owner and a counter.
#[derive(Debug, Clone)]
struct Write {
    doc: usize,
    owner: usize,
    n: u8,
}

/// A listen of alice's owner-scoped token.
#[derive(Debug, Clone)]
enum Listened {
    /// `projects/p{i}`.
    Document(usize),
    /// `projects` where `user_id == alice` (ordered by `n`, or not).
    Query { ordered: bool },
}

fn path(i: usize) -> DocPath {
    format!("projects/p{i}").parse().expect("path")
}

fn data(owner: usize, n: u8) -> Map<String, Value> {
    json!({"user_id": OWNERS[owner], "n": n}).as_object().cloned().unwrap_or_default()
}

fn alice() -> TokenClaims {
    let mut claims = TokenClaims::new("demo", vec!["news/*".to_owned()], 10_000);
    claims.sub = Some("alice".to_owned());
    claims.owner.insert("projects".to_owned(), "user_id".to_owned());
    claims
}

fn frame(listened: &Listened, since: Seq) -> String {
    let target = match listened {
        Listened::Document(i) => json!({"doc": path(*i).as_str()}),
        Listened::Query { ordered } => {
            let mut q =
                json!({"collection": "projects", "where": [{"field": "user_id", "op": "==", "value": "alice"}]});
            if *ordered {
                q["orderBy"] = json!([{"field": "n", "direction": "desc"}]);
            }
            q
        }
    };
    json!({"type": "listen", "id": 1, "target": target, "since": since}).to_string()
}

/// The documents as stored after `writes`, each with the seq of its last change; other
/// collections' changes (`gaps`) move the seq on between them.
fn store(writes: &[Write], gaps: &[u8]) -> (BTreeMap<DocPath, StoredDoc>, Seq, Vec<DocChange>) {
    let mut docs: BTreeMap<DocPath, StoredDoc> = BTreeMap::new();
    let mut seq: Seq = 0;
    let mut changes = Vec::new();
    for (k, w) in writes.iter().enumerate() {
        seq += 1 + Seq::from(gaps.get(k).copied().unwrap_or(0));
        let p = path(w.doc);
        let before = docs.get(&p).map(|d| d.data.clone());
        let after = data(w.owner, w.n);
        let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        changes.push(DocChange { path: p.clone(), kind, seq, before, data: after.clone() });
        docs.insert(p.clone(), StoredDoc { path: p, data: after, seq });
    }
    (docs, seq, changes)
}

/// Whether alice may see a document with `data`.
fn in_view(data: &Map<String, Value>) -> bool {
    data.get("user_id") == Some(&json!("alice"))
}

/// The documents a feed holds, and its head seq.
#[derive(Clone, Copy)]
struct Stored<'a> {
    docs: &'a BTreeMap<DocPath, StoredDoc>,
    head: Seq,
}

/// What the feed answers: the candidates it reads (the document, or the collection's
/// documents changed after the resume point), then core's snapshot.
fn feed_answer(request: &ListenRequest, guard: Option<&Filter>, stored: Stored<'_>) -> ServerMessage {
    let Stored { docs, head } = stored;
    let candidates = match &request.target {
        Target::Document(p) => docs.get(p).cloned().into_iter().collect(),
        Target::Collection(_) => {
            docs.values().filter(|d| request.resume_since().is_none_or(|s| d.seq > s)).cloned().collect()
        }
    };
    snapshot(request, guard, candidates, head)
}

/// What a hub answers, from a mirror loaded with the same documents.
fn hub_answer(request: &ListenRequest, guard: Option<&Filter>, stored: Stored<'_>) -> ServerMessage {
    let Stored { docs, head } = stored;
    let mut mirror = HubMirror::default();
    mirror.streaming("projects", 0);
    match &request.target {
        Target::Document(p) => {
            mirror.load_document(p, docs.get(p).cloned(), head);
        }
        Target::Collection(_) => {
            mirror.load_collection("projects", docs.values().cloned().collect(), head);
        }
    }
    let at = mirror.collection("projects").map_or(head, |m| m.as_of());
    snapshot(request, guard, mirror.snapshot_docs(&request.target), at)
}

/// The paths a frame names.
fn named(message: &ServerMessage) -> Vec<DocPath> {
    match message {
        ServerMessage::Snapshot { docs, removed, .. } => {
            docs.iter().map(|d| d.path.clone()).chain(removed.iter().cloned()).collect()
        }
        ServerMessage::Change { path, .. } => vec![path.clone()],
        ServerMessage::Error { .. } => Vec::new(),
    }
}

fn write() -> impl Strategy<Value = Write> {
    (0..IDS, 0..OWNERS.len(), any::<u8>()).prop_map(|(doc, owner, n)| Write { doc, owner, n })
}

fn listened() -> impl Strategy<Value = Listened> {
    prop_oneof![(0..IDS).prop_map(Listened::Document), any::<bool>().prop_map(|ordered| Listened::Query { ordered })]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Snapshots and resumes, on the feed and on a hub: nothing outside alice's view is
    /// named, and the answer is byte for byte the one she would get if every document
    /// outside her view did not exist, whatever `since` she resumes from (ahead of the
    /// feed included).
    #[test]
    fn a_snapshot_or_resume_reveals_nothing_outside_the_tokens_view(
        writes in prop::collection::vec(write(), 0..24),
        gaps in prop::collection::vec(0u8..3, 24),
        listened in listened(),
        since_pick in 0u64..80,
    ) {
        let (docs, head, _) = store(&writes, &gaps);
        let since = since_pick.min(head + 3);
        let mut socket = SocketState::new(1, alice());
        let Ok(SocketAction::Listen(request, guard)) = socket.handle_frame(&frame(&listened, since), UnixTime(0)) else {
            panic!("alice may listen to {listened:?}")
        };
        // Her view alone: every document outside it gone.
        let visible: BTreeMap<DocPath, StoredDoc> =
            docs.iter().filter(|(_, d)| in_view(&d.data)).map(|(p, d)| (p.clone(), d.clone())).collect();
        for answer in [feed_answer, hub_answer] {
            let got = answer(&request, guard.as_ref(), Stored { docs: &docs, head });
            for p in named(&got) {
                prop_assert!(docs.get(&p).is_some_and(|d| in_view(&d.data)), "{p} named: {got:?}");
            }
            let alone = answer(&request, guard.as_ref(), Stored { docs: &visible, head });
            prop_assert_eq!(got.to_json(), alone.to_json(), "differs from her view alone");
        }
    }

    /// Changes after the listen: a frame reaches alice only for a document that is hers
    /// before or after the change, carries data only while it is hers, and the frames are
    /// the same as if the changes to documents outside her view had not happened.
    #[test]
    fn a_change_reaches_a_listen_only_inside_the_tokens_view(
        before in prop::collection::vec(write(), 0..12),
        after in prop::collection::vec(write(), 1..24),
        listened in listened(),
    ) {
        let writes: Vec<Write> = before.iter().chain(&after).cloned().collect();
        let (_, _, changes) = store(&writes, &[]);
        let mut socket = SocketState::new(1, alice());
        let Ok(SocketAction::Listen(_, _)) = socket.handle_frame(&frame(&listened, 0), UnixTime(0)) else {
            panic!("listen")
        };
        let mut index = SubscriptionIndex::default();
        index.add_socket(&socket);
        let mut frames = Vec::new();
        for change in &changes[before.len()..] {
            for r in index.recipients(change) {
                let shown = change.kind != ChangeKind::Removed && r.kind != ChangeKind::Removed;
                let was = change.before.as_ref().is_some_and(in_view);
                prop_assert!(was || in_view(&change.data), "{} reached alice: {change:?}", change.path);
                if shown {
                    prop_assert!(in_view(&change.data));
                } else {
                    prop_assert!(was, "a removal only of what she saw");
                }
                frames.push((change.seq, change.path.clone(), r.kind));
            }
        }
        // The same stream with every change she could not see dropped: a change from
        // outside her view to outside it is no change at all to her.
        let mut seen = Vec::new();
        for change in &changes[before.len()..] {
            let was = change.before.as_ref().is_some_and(in_view);
            let is = in_view(&change.data);
            let kind = match (was, is) {
                (false, false) => continue,
                (false, true) => ChangeKind::Added,
                (true, true) => ChangeKind::Modified,
                (true, false) => ChangeKind::Removed,
            };
            let reaches = match &listened {
                Listened::Document(i) => change.path == path(*i),
                Listened::Query { .. } => true,
            };
            if reaches {
                seen.push((change.seq, change.path.clone(), kind));
            }
        }
        prop_assert_eq!(frames, seen);
    }
}

#[test]
fn another_owners_document_and_a_missing_one_answer_alike_at_every_since() {
    // The example of the issue: bob's project exists and changed at seq 3.
    let (docs, head, _) = store(&[Write { doc: 0, owner: 1, n: 1 }, Write { doc: 0, owner: 1, n: 2 }], &[0, 1]);
    for since in 0..=head + 2 {
        let mut socket = SocketState::new(1, alice());
        for (id, listened) in [(1, Listened::Document(0)), (2, Listened::Document(5))] {
            let text = frame(&listened, since).replace("\"id\":1", &format!("\"id\":{id}"));
            let Ok(SocketAction::Listen(mut request, guard)) = socket.handle_frame(&text, UnixTime(0)) else {
                panic!("listen")
            };
            request.id = 0;
            assert_eq!(request.since, None, "an owner-guarded listen does not resume");
            let answer = feed_answer(&request, guard.as_ref(), Stored { docs: &docs, head });
            let ServerMessage::Snapshot { docs: got, removed, since: None, .. } = &answer else {
                panic!("a full snapshot: {answer:?}")
            };
            assert!(got.is_empty() && removed.is_empty(), "{answer:?}");
        }
    }
}
