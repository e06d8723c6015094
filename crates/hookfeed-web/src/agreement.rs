//! The feed and the browser module must hold the same documents in the same order for
//! every query, `limit` included, while changes stream in; and `docChanges()` must rebuild
//! `snap.docs` by Firestore's splice pattern. Property tests: the feed's side is
//! hookfeed-core (its snapshots, change frames and limited-window deltas, as the Feed object
//! sends them), the browser's is [`View`].

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::collections::BTreeMap;

use hookfeed_core::fanout::{snapshot, window_delta, ChangeFrame, Listen, SocketState, StoredDoc, SubscriptionIndex};
use hookfeed_core::ledger::DocChange;
use hookfeed_core::protocol::{ListenRequest, ServerMessage, Target};
use hookfeed_core::token::TokenClaims;
use proptest::prelude::*;
use serde_json::{json, Map, Value as Json};

use crate::view::{ChangeKind, DocData, Order, Value, View, ViewChange};

/// Document data as the view reads it in these tests.
#[derive(Debug, Clone, PartialEq)]
struct Data(Map<String, Json>);

fn ordered(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(ordered).collect()),
        Json::Object(map) => Value::map(map.iter().map(|(k, v)| (k.clone(), ordered(v))).collect()),
    }
}

impl DocData for Data {
    fn field(&self, path: &str) -> Option<Value> {
        let mut parts = path.split('.');
        let first = self.0.get(parts.next()?)?;
        parts.try_fold(first, |v, k| v.get(k)).map(ordered)
    }

    fn same_as(&self, other: &Self) -> bool {
        self == other
    }
}

/// The values of `rank` the issue lists, and a missing field.
fn rank() -> impl Strategy<Value = Option<Json>> {
    prop::sample::select(alloc::vec![
        Some(json!(null)),
        Some(json!(false)),
        Some(json!(true)),
        Some(json!(-1)),
        Some(json!(0)),
        Some(json!(2.5)),
        Some(json!(10)),
        Some(json!("10")),
        Some(json!("B")),
        Some(json!("a")),
        Some(json!([1])),
        Some(json!([1, 0])),
        Some(json!({"x": 1})),
        None,
    ])
}

fn data() -> impl Strategy<Value = Map<String, Json>> {
    (rank(), 0..2u8).prop_map(|(rank, batch)| {
        let mut map = Map::new();
        if let Some(rank) = rank {
            map.insert("rank".into(), rank);
        }
        map.insert("batch".into(), json!(batch));
        map
    })
}

/// A query on collection `c`: maybe `where batch == 0`, maybe `orderBy rank`, maybe `limit`.
fn query() -> impl Strategy<Value = Json> {
    (any::<bool>(), prop::option::of(any::<bool>()), prop::option::of(1..5u32)).prop_map(|(filter, order, limit)| {
        let mut target = json!({"collection": "c"});
        if filter {
            target["where"] = json!([{"field": "batch", "op": "==", "value": 0}]);
        }
        if let Some(descending) = order {
            target["orderBy"] = json!([{"field": "rank", "direction": if descending { "desc" } else { "asc" }}]);
        }
        if let Some(limit) = limit {
            target["limit"] = json!(limit);
        }
        target
    })
}

/// The feed's documents and log head.
#[derive(Default)]
struct Feed {
    docs: BTreeMap<String, (Map<String, Json>, u64)>,
    seq: u64,
}

impl Feed {
    fn stored(&self) -> Vec<StoredDoc> {
        self.docs
            .iter()
            .map(|(path, (data, seq))| StoredDoc { path: path.parse().expect("path"), data: data.clone(), seq: *seq })
            .collect()
    }

    /// Writes a document as ingest would, returning the change to fan out.
    fn write(&mut self, id: u8, data: Map<String, Json>) -> Option<DocChange> {
        let path = alloc::format!("c/d{id}");
        let before = self.docs.get(&path).map(|(d, _)| d.clone());
        if before.as_ref() == Some(&data) {
            return None;
        }
        self.seq += 1;
        self.docs.insert(path.clone(), (data.clone(), self.seq));
        let kind = if before.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        Some(DocChange { path: path.parse().expect("path"), kind, seq: self.seq, before, data })
    }

    /// The paths a full snapshot of `request` holds, in order.
    fn result(&self, request: &ListenRequest) -> Vec<String> {
        match snapshot(request, None, self.stored(), self.seq) {
            ServerMessage::Snapshot { docs, .. } => docs.into_iter().map(|d| d.path.to_string()).collect(),
            other => panic!("not a snapshot: {other:?}"),
        }
    }
}

/// The browser's side of one frame from the feed.
fn apply(view: &mut View<Data>, frame: &str) -> Vec<ViewChange<Data>> {
    let frame: Json = serde_json::from_str(frame).expect("frame json");
    let seq = frame["seq"].as_u64().expect("seq");
    let data = |v: &Json| Data(v.as_object().cloned().unwrap_or_default());
    match frame["type"].as_str() {
        Some("change") => {
            let kind = ChangeKind::parse(frame["kind"].as_str().expect("kind")).expect("a kind");
            let doc = frame.get("data").map(data);
            view.apply_change(seq, frame["path"].as_str().expect("path"), kind, doc)
        }
        Some("snapshot") => {
            let docs = frame["docs"]
                .as_array()
                .expect("docs")
                .iter()
                .map(|d| (d["path"].as_str().expect("path").to_string(), data(&d["data"])))
                .collect();
            let removed: Vec<String> = frame
                .get("removed")
                .and_then(Json::as_array)
                .map(|r| r.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            view.apply_snapshot(seq, docs, &removed, frame.get("since").is_some())
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

/// Firestore's documented use of `docChanges()`: splice each change into the old list.
fn splice(mut docs: Vec<(String, Data)>, changes: &[ViewChange<Data>]) -> Vec<(String, Data)> {
    for c in changes {
        if c.old_index >= 0 {
            docs.remove(c.old_index as usize);
        }
        if c.new_index >= 0 {
            docs.insert(c.new_index as usize, (c.path.clone(), c.data.clone()));
        }
    }
    docs
}

fn view_for(target: &Json) -> View<Data> {
    let order = target["orderBy"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| Order {
            field: o["field"].as_str().unwrap_or_default().to_string(),
            descending: o["direction"] == "desc",
        })
        .collect();
    View::new(order, target["limit"].as_u64().map(|l| l as usize))
}

fn paths(view: &View<Data>) -> Vec<String> {
    view.docs().iter().map(|(p, _)| p.clone()).collect()
}

/// Checks one batch of `docChanges()` against the view it produced.
fn check_changes(
    before: Vec<(String, Data)>,
    changes: &[ViewChange<Data>],
    view: &View<Data>,
) -> Result<(), TestCaseError> {
    for c in changes {
        if c.kind == ChangeKind::Modified {
            let old = before.iter().find(|(p, _)| *p == c.path).map(|(_, d)| d);
            prop_assert!(old != Some(&c.data), "{} listed as modified with unchanged data", c.path);
        }
    }
    prop_assert_eq!(splice(before, changes), view.docs().to_vec(), "splicing docChanges() rebuilds snap.docs");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_feed_and_the_browser_hold_the_same_documents_in_the_same_order_while_changes_stream_in(
        initial in prop::collection::vec((0..8u8, data()), 0..10),
        stream in prop::collection::vec((0..8u8, data()), 0..16),
        target in query(),
    ) {
        let mut feed = Feed::default();
        for (id, data) in initial {
            feed.write(id, data);
        }
        let request: ListenRequest = serde_json::from_value(json!({"id": 1, "target": target})).expect("listen");
        let mut view = view_for(&target);
        let first = snapshot(&request, None, feed.stored(), feed.seq);
        let changes = apply(&mut view, &first.to_json());
        check_changes(Vec::new(), &changes, &view)?;
        prop_assert_eq!(paths(&view), feed.result(&request), "first snapshot");

        let claims = TokenClaims::new("t", alloc::vec!["*".into()], i64::MAX);
        let mut index = SubscriptionIndex::default();
        index.add_socket(&SocketState::new(1, claims));
        index.add(1, &Listen { id: 1, target: request.target.clone(), guard: None });
        let Target::Collection(q) = &request.target else { unreachable!("a collection") };
        for (id, data) in stream {
            let Some(change) = feed.write(id, data) else { continue };
            let mut frames: Vec<String> = index.recipients(&change).iter().map(|r| ChangeFrame::new(&change).for_recipient(r)).collect();
            if !index.limited_recipients(&change).is_empty() {
                frames.extend(window_delta(1, q, &feed.stored(), &change).map(|m| m.to_json()));
            }
            for frame in frames {
                let before = view.docs().to_vec();
                let changes = apply(&mut view, &frame);
                check_changes(before, &changes, &view)?;
            }
            prop_assert_eq!(paths(&view), feed.result(&request), "after {}", change.path);
        }
    }
}

#[test]
fn three_projects_created_at_once_are_listed_once_each_at_their_place() {
    // The case: under where("batch", "==", …), 242 and 243 arrive, then 241 sorts
    // ahead of both. Firestore lists only the addition, at 0; 242 and 243 moved without
    // changing and are not listed.
    let mut view: View<Data> = View::new(Vec::new(), None);
    let d = |n: u32| Data(json!({"batch": 7, "n": n}).as_object().cloned().unwrap_or_default());
    view.apply_snapshot(1, Vec::new(), &[], false);
    let mut docs: Vec<(String, Data)> = Vec::new();
    for (seq, id) in [(2, "242"), (3, "243"), (4, "241")] {
        let before = view.docs().to_vec();
        let changes = view.apply_change(seq, &alloc::format!("projects/{id}"), ChangeKind::Added, Some(d(seq as u32)));
        assert_eq!(changes.len(), 1, "{changes:?}");
        docs = splice(before, &changes);
        assert_eq!(docs, view.docs().to_vec());
    }
    let order: Vec<&str> = docs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(order, ["projects/241", "projects/242", "projects/243"]);
}
