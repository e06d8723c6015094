//! One listener's view of its target: the documents it holds, merged from snapshots and
//! changes, in query order, with Firestore's `docChanges()`. Plain Rust over any document
//! type, tested natively; the browser uses it with JS values.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// A field value a query can order by.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, or a field that is an object or array.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

impl Scalar {
    /// Firestore's order across types: null < booleans < numbers < strings.
    fn rank(&self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Bool(_) => 1,
            Self::Number(_) => 2,
            Self::Text(_) => 3,
        }
    }

    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Number(a), Self::Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A document's data, as the view needs to read it.
pub trait DocData: Clone {
    /// The scalar at a dotted field path, if present.
    fn field(&self, path: &str) -> Option<Scalar>;
    /// Whether two versions hold the same data (to skip callbacks for no-op changes).
    fn same_as(&self, other: &Self) -> bool;
}

/// How a document changed in a listener's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    /// It entered the results.
    Added,
    /// Its data changed.
    Modified,
    /// It left the results.
    Removed,
}

impl ChangeType {
    /// Firestore's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }

    /// Parses the protocol's spelling.
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "added" => Some(Self::Added),
            "modified" => Some(Self::Modified),
            "removed" => Some(Self::Removed),
            _ => None,
        }
    }
}

/// One entry of `docChanges()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewChange<D> {
    /// How it changed.
    pub kind: ChangeType,
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

    fn compare(&self, a: &(String, D), b: &(String, D)) -> Ordering {
        for o in &self.order {
            let (x, y) = (a.1.field(&o.field), b.1.field(&o.field));
            let ord = match (x, y) {
                (Some(x), Some(y)) => x.compare(&y),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let ord = if o.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.0.cmp(&b.0)
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
        self.seq = self.seq.max(seq);
        self.synced = true;
        self.diff(&before)
    }

    /// Applies one change frame. Returns the visible changes.
    pub fn apply_change(&mut self, seq: u64, path: &str, kind: ChangeType, data: Option<D>) -> Vec<ViewChange<D>> {
        if seq <= self.seq && self.synced {
            // Already reflected (a resume delta can include what a change frame brings).
            return Vec::new();
        }
        let before: Vec<(String, D)> = self.docs().to_vec();
        match (kind, data) {
            (ChangeType::Removed, _) | (_, None) => self.docs.retain(|(p, _)| p != path),
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
        let entry = (path, data);
        let at = self.docs.partition_point(|d| self.compare(d, &entry) == Ordering::Less);
        self.docs.insert(at, entry);
    }

    /// Firestore's docChanges between the visible documents `before` and now: removals
    /// first (indexes shrinking), then additions and modifications in new order.
    fn diff(&self, before: &[(String, D)]) -> Vec<ViewChange<D>> {
        let after = self.docs();
        let mut changes = Vec::new();
        let mut shrinking: Vec<&str> = before.iter().map(|(p, _)| p.as_str()).collect();
        for (path, data) in before {
            if !after.iter().any(|(p, _)| p == path) {
                let old_index = shrinking.iter().position(|p| p == path).map_or(-1, |i| i as i32);
                shrinking.retain(|p| p != path);
                changes.push(ViewChange {
                    kind: ChangeType::Removed,
                    path: path.clone(),
                    data: data.clone(),
                    old_index,
                    new_index: -1,
                });
            }
        }
        for (new_index, (path, data)) in after.iter().enumerate() {
            let new_index = new_index as i32;
            let (kind, old_index) = match before.iter().find(|(p, _)| p == path) {
                None => (ChangeType::Added, -1),
                Some((_, old)) => {
                    let old_index = shrinking.iter().position(|p| p == path).map_or(-1, |i| i as i32);
                    if old.same_as(data) && old_index == new_index {
                        continue;
                    }
                    (ChangeType::Modified, old_index)
                }
            };
            changes.push(ViewChange { kind, path: path.clone(), data: data.clone(), old_index, new_index });
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Doc(Vec<(&'static str, Scalar)>);

    impl DocData for Doc {
        fn field(&self, path: &str) -> Option<Scalar> {
            self.0.iter().find(|(k, _)| *k == path).map(|(_, v)| v.clone())
        }
        fn same_as(&self, other: &Self) -> bool {
            self == other
        }
    }

    fn n(v: f64) -> Doc {
        Doc(vec![("n", Scalar::Number(v))])
    }

    fn kinds<D>(changes: &[ViewChange<D>]) -> Vec<(ChangeType, &str, i32, i32)> {
        changes.iter().map(|c| (c.kind, c.path.as_str(), c.old_index, c.new_index)).collect()
    }

    #[test]
    fn a_snapshot_then_changes_report_firestore_doc_changes() {
        let mut view = View::new(Vec::new(), None);
        let first = view.apply_snapshot(5, vec![("p/b".into(), n(2.0)), ("p/a".into(), n(1.0))], &[], false);
        assert_eq!(kinds(&first), [(ChangeType::Added, "p/a", -1, 0), (ChangeType::Added, "p/b", -1, 1)]);
        let modified = view.apply_change(6, "p/a", ChangeType::Modified, Some(n(3.0)));
        assert_eq!(kinds(&modified), [(ChangeType::Modified, "p/a", 0, 0)]);
        let removed = view.apply_change(7, "p/a", ChangeType::Removed, None);
        assert_eq!(kinds(&removed), [(ChangeType::Removed, "p/a", 0, -1)]);
        assert_eq!(view.seq, 7);
    }

    #[test]
    fn a_change_already_reflected_by_a_resume_is_ignored() {
        let mut view = View::new(Vec::new(), None);
        view.apply_snapshot(10, vec![("p/a".into(), n(1.0))], &[], false);
        assert!(view.apply_change(9, "p/a", ChangeType::Modified, Some(n(0.0))).is_empty());
        assert!(view.apply_change(10, "p/a", ChangeType::Modified, Some(n(0.0))).is_empty());
    }

    #[test]
    fn a_resume_delta_merges_and_removes() {
        let mut view = View::new(Vec::new(), None);
        view.apply_snapshot(3, vec![("p/a".into(), n(1.0)), ("p/b".into(), n(2.0))], &[], false);
        let changes =
            view.apply_snapshot(9, vec![("p/c".into(), n(3.0)), ("p/a".into(), n(1.0))], &["p/b".into()], true);
        assert_eq!(kinds(&changes), [(ChangeType::Removed, "p/b", 1, -1), (ChangeType::Added, "p/c", -1, 1)]);
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
        let changes = view.apply_change(2, "p/a", ChangeType::Modified, Some(n(9.0)));
        assert_eq!(
            kinds(&changes),
            [
                (ChangeType::Removed, "p/b", 1, -1),
                (ChangeType::Added, "p/a", -1, 0),
                (ChangeType::Modified, "p/c", 0, 1)
            ]
        );
    }

    #[test]
    fn cached_documents_show_before_the_feed_answers() {
        let mut view = View::new(Vec::new(), None);
        let cached = view.load_cached(4, vec![("p/a".into(), n(1.0))]);
        assert_eq!(cached.len(), 1);
        assert!(!view.synced);
        let fresh = view.apply_snapshot(6, vec![("p/a".into(), n(2.0))], &[], true);
        assert_eq!(kinds(&fresh), [(ChangeType::Modified, "p/a", 0, 0)]);
        assert!(view.synced);
    }
}
