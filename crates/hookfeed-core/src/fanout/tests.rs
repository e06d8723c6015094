//! The fan-out rules together: sockets, the index, snapshots and frames, as a feed and a hub
//! use them.

use serde_json::{json, Map, Value};

use super::*;
use crate::ledger::{ChangeKind, DocChange, Seq};
use crate::path::DocPath;
use crate::protocol::{ErrorCode, ListenRequest, ServerMessage, Target};
use crate::time::UnixTime;
use crate::token::TokenClaims;

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
        (6, json!({"collection": "projects", "where": [{"field": "user_id", "op": "in", "value": ["alice", "bob"]}]})),
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
        assert!(matches!(elsewhere, ServerMessage::Snapshot { since: None, ref removed, .. } if removed.is_empty()));
    }
    // The socket drops the `since` of a listen its token reads only through the owner
    // scope, documents and queries alike; one it reads whole keeps it.
    let resume = |id: u32, target: Value| json!({"type": "listen", "id": id, "target": target, "since": 5}).to_string();
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
    let Ok(SocketAction::Listen(request, None)) = state.handle_frame(&resume(4, json!({"doc": "news/1"})), UnixTime(0))
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
    assert!(
        kinds(change("projects/7", Some(json!({"user_id": "bob"})), json!({"user_id": "bob", "n": 1}), 2)).is_empty()
    );
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
    let expired =
        state.handle_frame(&listen(4, r#"{"collection":"users"}"#), UnixTime::from_secs(1_000)).expect_err("expired");
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

mod batched_windows {
    //! Group commit: a feed commits several changes at once, reads each collection once
    //! after all of them, and [`rewind`]s it to each change before that change's delta.

    use proptest::prelude::*;

    use super::*;
    use crate::protocol::CollectionQuery;
    use crate::query::{Direction, OrderBy};

    /// The committed collection, in path order, after each change of `ops` in turn:
    /// `(doc index, Some(progress))` sets a document's `progress`, `None` removes it.
    fn apply(ops: &[(u8, Option<i64>)]) -> (Vec<DocChange>, Vec<Vec<StoredDoc>>) {
        let mut docs: Vec<StoredDoc> = Vec::new();
        let (mut changes, mut states) = (Vec::new(), Vec::new());
        for (i, (doc, progress)) in ops.iter().enumerate() {
            let seq = i as Seq + 1;
            let p = path(&format!("projects/{doc}"));
            let at = docs.iter().position(|d| d.path == p);
            let before = at.map(|i| docs[i].data.clone());
            let (kind, after) = match (progress, at) {
                (Some(v), _) => {
                    let after = data(json!({ "batch": "t", "progress": v }));
                    match at {
                        Some(i) => docs[i] = StoredDoc { path: p.clone(), data: after.clone(), seq },
                        None => docs.push(StoredDoc { path: p.clone(), data: after.clone(), seq }),
                    }
                    (if at.is_some() { ChangeKind::Modified } else { ChangeKind::Added }, after)
                }
                (None, Some(i)) => (ChangeKind::Removed, docs.remove(i).data),
                (None, None) => continue,
            };
            changes.push(DocChange { path: p, kind, seq, before, data: after });
            states.push(docs.clone());
        }
        (changes, states)
    }

    fn sorted(mut docs: Vec<StoredDoc>) -> Vec<(DocPath, Map<String, Value>)> {
        docs.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        docs.into_iter().map(|d| (d.path, d.data)).collect()
    }

    fn top(limit: u32) -> CollectionQuery {
        CollectionQuery {
            collection: "projects".to_owned(),
            filters: Vec::new(),
            order_by: vec![OrderBy { field: "progress".to_owned(), direction: Direction::Desc }],
            limit: Some(limit),
        }
    }

    /// The attack review's case: X(5) in a `limit(1)` window, then A(10) and B(20) in one
    /// batch. Read after the batch, A's delta saw B already there and never removed X.
    #[test]
    fn each_change_of_a_batch_moves_the_window_as_alone() {
        let (changes, states) = apply(&[(0, Some(5)), (1, Some(10)), (2, Some(20))]);
        let after_all = states[2].clone();
        let q = top(1);
        let mut as_of_a = after_all.clone();
        rewind(&mut as_of_a, "projects", &changes[2..]);
        let Some(ServerMessage::Snapshot { removed, docs, .. }) = window_delta(1, &q, &as_of_a, &changes[1]) else {
            panic!("A's change moves the window")
        };
        assert_eq!(removed, vec![path("projects/0")], "X left the window when A came");
        assert_eq!(docs.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(), ["projects/1"]);
        // Without the rewind, the bug: A's delta is computed as if B were already there.
        let unrewound = window_delta(1, &q, &after_all, &changes[1]);
        assert_ne!(unrewound, window_delta(1, &q, &as_of_a, &changes[1]));
    }

    proptest! {
        /// Whatever the changes (sets and removals, over a few documents), the collection
        /// rewound from after all of them to just after change `i` is the collection as
        /// committed then, so every change's delta is what it was alone.
        #[test]
        fn a_rewound_collection_is_the_collection_as_of_each_change(
            ops in proptest::collection::vec((0u8..5, proptest::option::weighted(0.8, -3i64..30)), 1..24),
            limit in 1u32..4,
        ) {
            let (changes, states) = apply(&ops);
            let Some(after_all) = states.last().cloned() else { return Ok(()) };
            let q = top(limit);
            for (i, change) in changes.iter().enumerate() {
                let mut rewound = after_all.clone();
                rewind(&mut rewound, "projects", &changes[i + 1..]);
                prop_assert_eq!(sorted(rewound.clone()), sorted(states[i].clone()));
                prop_assert_eq!(window_delta(1, &q, &rewound, change), window_delta(1, &q, &states[i], change));
            }
        }

        /// A change in another collection is not undone in this one.
        #[test]
        fn other_collections_changes_are_left_alone(v in 0i64..100) {
            let (changes, states) = apply(&[(0, Some(v))]);
            let mut docs = states[0].clone();
            let news = DocChange { path: path("news/1"), kind: ChangeKind::Added, seq: 9, before: None, data: data(json!({"v": v})) };
            rewind(&mut docs, "projects", &[news]);
            prop_assert_eq!(sorted(docs), sorted(states[0].clone()));
            prop_assert_eq!(changes.len(), 1);
        }
    }
}
