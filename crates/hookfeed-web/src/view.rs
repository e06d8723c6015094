//! One listener's view of its target: the documents it holds, merged from snapshots and
//! changes, in query order, with Firestore's `docChanges()`. Plain Rust over any document
//! type, tested natively; the browser uses it with JS values.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

pub use hookfeed_wire::order::Value;
pub use hookfeed_wire::ChangeKind;

/// A document's data, as the view needs to read it.
pub trait DocData: Clone {
    /// The value at a dotted field path, if present.
    fn field(&self, path: &str) -> Option<Value>;
    /// Whether two versions hold the same data (to skip callbacks for no-op changes).
    fn same_as(&self, other: &Self) -> bool;
}

/// One entry of `docChanges()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewChange<D> {
    /// How it changed.
    pub kind: ChangeKind,
    /// The document's path.
    pub path: String,
    /// Its data (for removed: the last data held).
    pub data: D,
    /// Its index before, or -1 when added.
    pub old_index: i32,
    /// Its index after, or -1 when removed.
    pub new_index: i32,
}

/// An `orderBy` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Dotted field path.
    pub field: String,
    /// Descending when true.
    pub descending: bool,
}

/// One listener's documents.
#[derive(Debug, Clone)]
pub struct View<D> {
    order: Vec<Order>,
    limit: Option<usize>,
    /// Every document the feed reported for the target, in result order.
    docs: Vec<(String, D)>,
    /// The latest seq seen: resume from here.
    pub seq: u64,
    /// True once the feed (not only the local cache) has answered.
    pub synced: bool,
}

impl<D: DocData> View<D> {
    /// An empty view with a query's ordering and limit.
    pub fn new(order: Vec<Order>, limit: Option<usize>) -> Self {
        Self { order, limit, docs: Vec::new(), seq: 0, synced: false }
    }

    /// The documents in result order, limited.
    pub fn docs(&self) -> &[(String, D)] {
        let n = self.limit.map_or(self.docs.len(), |l| l.min(self.docs.len()));
        &self.docs[..n]
    }

    /// hookfeed-wire's order of documents, the feed's too: by the query's fields, then path
    /// in the direction of the last field's.
    fn compare(&self, a: &(String, D), b: &(String, D)) -> Ordering {
        for o in &self.order {
            let (x, y) = (a.1.field(&o.field), b.1.field(&o.field));
            let order = hookfeed_wire::order::compare_fields(x.as_ref(), y.as_ref(), o.descending);
            if order.is_ne() {
                return order;
            }
        }
        hookfeed_wire::order::compare_paths(&a.0, &b.0, self.order.last().is_some_and(|o| o.descending))
    }

    /// As in Firestore (and on the feed), an ordered query leaves out documents without
    /// one of its fields.
    fn has_order_fields(&self, data: &D) -> bool {
        self.order.iter().all(|o| data.field(&o.field).is_some())
    }

    /// Applies a full snapshot (`since == None`: replaces everything) or a resume delta
    /// (`since == Some`: merges `docs`, drops `removed`). Returns the visible changes.
    pub fn apply_snapshot(
        &mut self,
        seq: u64,
        docs: Vec<(String, D)>,
        removed: &[String],
        delta: bool,
    ) -> Vec<ViewChange<D>> {
        let before: Vec<(String, D)> = self.docs().to_vec();
        if !delta {
            self.docs.clear();
        }
        for path in removed {
            self.docs.retain(|(p, _)| p != path);
        }
        for (path, data) in docs {
            self.upsert(path, data);
        }
        // A whole snapshot is the feed's state at its seq, whatever this view held before.
        self.seq = if delta { self.seq.max(seq) } else { seq };
        self.synced = true;
        self.diff(&before)
    }

    /// The `since` a listen sends: the seq of what the feed itself answered this view, 0
    /// (a whole snapshot) for a view that holds only cached documents or none. A cache may
    /// hold what the token can no longer read, and a delta would never remove it.
    pub fn since(&self) -> u64 {
        if self.synced {
            self.seq
        } else {
            0
        }
    }

    /// Every visible document as added (a one-shot read's `docChanges()`).
    pub fn all_added(&self) -> Vec<ViewChange<D>> {
        self.diff(&[])
    }

    /// Drops every document (the reader changed: another user's, or other scopes').
    /// Returns the removals.
    pub fn forget(&mut self) -> Vec<ViewChange<D>> {
        self.synced = false;
        self.load_cached(0, Vec::new())
    }

    /// Applies one change frame. Returns the visible changes.
    pub fn apply_change(&mut self, seq: u64, path: &str, kind: ChangeKind, data: Option<D>) -> Vec<ViewChange<D>> {
        if seq <= self.seq && self.synced {
            // Already reflected (a resume delta can include what a change frame brings).
            return Vec::new();
        }
        let before: Vec<(String, D)> = self.docs().to_vec();
        match (kind, data) {
            (ChangeKind::Removed, _) | (_, None) => self.docs.retain(|(p, _)| p != path),
            (_, Some(data)) => self.upsert(path.to_owned(), data),
        }
        self.seq = self.seq.max(seq);
        self.diff(&before)
    }

    /// Replaces the view with cached documents, before the feed answers.
    pub fn load_cached(&mut self, seq: u64, docs: Vec<(String, D)>) -> Vec<ViewChange<D>> {
        let before: Vec<(String, D)> = self.docs().to_vec();
        self.docs.clear();
        for (path, data) in docs {
            self.upsert(path, data);
        }
        self.seq = seq;
        self.diff(&before)
    }

    fn upsert(&mut self, path: String, data: D) {
        self.docs.retain(|(p, _)| *p != path);
        if !self.has_order_fields(&data) {
            return;
        }
        let entry = (path, data);
        let at = self.docs.partition_point(|d| self.compare(d, &entry) == Ordering::Less);
        self.docs.insert(at, entry);
    }

    /// Firestore's `docChanges()` between the visible documents `before` and now: removals
    /// (in the old order), then additions, then modifications (in the new order). Each
    /// index holds "supposing that all prior changes have been applied", so that
    /// splicing each change into the old list rebuilds the new one; a document whose data
    /// did not change is not listed, even if others moved it.
    fn diff(&self, before: &[(String, D)]) -> Vec<ViewChange<D>> {
        let after = self.docs();
        let held = |list: &[(String, D)], path: &str| list.iter().position(|(p, _)| p == path);
        // The old list, changed one change at a time, always in order.
        let mut tracker: Vec<(String, D)> = before.to_vec();
        let mut changes = Vec::new();
        for (path, data) in before {
            if held(after, path).is_none() {
                let old_index = held(&tracker, path).map_or(-1, |i| i as i32);
                tracker.retain(|(p, _)| p != path);
                changes.push(ViewChange {
                    kind: ChangeKind::Removed,
                    path: path.clone(),
                    data: data.clone(),
                    old_index,
                    new_index: -1,
                });
            }
        }
        for (path, data) in after {
            if held(before, path).is_none() {
                let new_index = self.insert_sorted(&mut tracker, (path.clone(), data.clone()));
                changes.push(ViewChange {
                    kind: ChangeKind::Added,
                    path: path.clone(),
                    data: data.clone(),
                    old_index: -1,
                    new_index,
                });
            }
        }
        for (path, data) in after {
            let Some(old) = before.iter().find(|(p, _)| p == path) else { continue };
            if old.1.same_as(data) {
                continue;
            }
            let old_index = held(&tracker, path).map_or(-1, |i| i as i32);
            tracker.retain(|(p, _)| p != path);
            let new_index = self.insert_sorted(&mut tracker, (path.clone(), data.clone()));
            changes.push(ViewChange {
                kind: ChangeKind::Modified,
                path: path.clone(),
                data: data.clone(),
                old_index,
                new_index,
            });
        }
        changes
    }

    /// Inserts `entry` where the order puts it; returns its index.
    fn insert_sorted(&self, list: &mut Vec<(String, D)>, entry: (String, D)) -> i32 {
        let at = list.partition_point(|d| self.compare(d, &entry) == Ordering::Less);
        list.insert(at, entry);
        at as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Doc(Vec<(&'static str, Value)>);

    impl DocData for Doc {
        fn field(&self, path: &str) -> Option<Value> {
            self.0.iter().find(|(k, _)| *k == path).map(|(_, v)| v.clone())
        }
        fn same_as(&self, other: &Self) -> bool {
            self == other
        }
    }

    fn n(v: f64) -> Doc {
        Doc(vec![("n", Value::Number(v))])
    }

    fn kinds<D>(changes: &[ViewChange<D>]) -> Vec<(ChangeKind, &str, i32, i32)> {
        changes.iter().map(|c| (c.kind, c.path.as_str(), c.old_index, c.new_index)).collect()
    }

    #[test]
    fn a_snapshot_then_changes_report_firestore_doc_changes() {
        let mut view = View::new(Vec::new(), None);
        let first = view.apply_snapshot(5, vec![("p/b".into(), n(2.0)), ("p/a".into(), n(1.0))], &[], false);
        assert_eq!(kinds(&first), [(ChangeKind::Added, "p/a", -1, 0), (ChangeKind::Added, "p/b", -1, 1)]);
        let modified = view.apply_change(6, "p/a", ChangeKind::Modified, Some(n(3.0)));
        assert_eq!(kinds(&modified), [(ChangeKind::Modified, "p/a", 0, 0)]);
        let removed = view.apply_change(7, "p/a", ChangeKind::Removed, None);
        assert_eq!(kinds(&removed), [(ChangeKind::Removed, "p/a", 0, -1)]);
        assert_eq!(view.seq, 7);
    }

    #[test]
    fn a_change_already_reflected_by_a_resume_is_ignored() {
        let mut view = View::new(Vec::new(), None);
        view.apply_snapshot(10, vec![("p/a".into(), n(1.0))], &[], false);
        assert!(view.apply_change(9, "p/a", ChangeKind::Modified, Some(n(0.0))).is_empty());
        assert!(view.apply_change(10, "p/a", ChangeKind::Modified, Some(n(0.0))).is_empty());
    }

    #[test]
    fn a_resume_delta_merges_and_removes() {
        let mut view = View::new(Vec::new(), None);
        view.apply_snapshot(3, vec![("p/a".into(), n(1.0)), ("p/b".into(), n(2.0))], &[], false);
        let changes =
            view.apply_snapshot(9, vec![("p/c".into(), n(3.0)), ("p/a".into(), n(1.0))], &["p/b".into()], true);
        assert_eq!(kinds(&changes), [(ChangeKind::Removed, "p/b", 1, -1), (ChangeKind::Added, "p/c", -1, 1)]);
        assert_eq!(view.docs().len(), 2);
    }

    #[test]
    fn order_by_and_limit_shape_the_visible_results() {
        let order = vec![Order { field: "n".into(), descending: true }];
        let mut view = View::new(order, Some(2));
        view.apply_snapshot(
            1,
            vec![("p/a".into(), n(1.0)), ("p/b".into(), n(2.0)), ("p/c".into(), n(3.0))],
            &[],
            false,
        );
        let paths: Vec<&str> = view.docs().iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["p/c", "p/b"]);
        let changes = view.apply_change(2, "p/a", ChangeKind::Modified, Some(n(9.0)));
        // p/c moved from 0 to 1 but its data did not change: Firestore does not list it.
        assert_eq!(kinds(&changes), [(ChangeKind::Removed, "p/b", 1, -1), (ChangeKind::Added, "p/a", -1, 0)]);
    }

    #[test]
    fn cached_documents_show_before_the_feed_answers() {
        let mut view = View::new(Vec::new(), None);
        let cached = view.load_cached(4, vec![("p/a".into(), n(1.0))]);
        assert_eq!(cached.len(), 1);
        assert!(!view.synced);
        let fresh = view.apply_snapshot(6, vec![("p/a".into(), n(2.0))], &[], true);
        assert_eq!(kinds(&fresh), [(ChangeKind::Modified, "p/a", 0, 0)]);
        assert!(view.synced);
    }
}
