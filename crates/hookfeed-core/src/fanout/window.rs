//! Limited queries (`limit(n)`): which `n` documents such a query holds can change with
//! any document of its collection, so its listeners get the window's delta after a change
//! rather than a change frame.

use serde_json::{Map, Value};

use super::stored::StoredDoc;
use crate::ledger::DocChange;
use crate::path::DocPath;
use crate::protocol::{CollectionQuery, DocEntry, ServerMessage};

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

/// `docs`, a collection as committed after a run of changes, turned back into the
/// collection as it was before `later` (changes committed after the one a delta is
/// for, in commit order): each of them in `collection` is undone, last first. A feed
/// that commits several deliveries in one transaction (group commit) reads a collection
/// once, after all of them; each change's [`window_delta`] must see the collection as of
/// that change, as it would had the change been committed alone, or a listener would
/// keep a document that left its window. A document a change added is removed, one it
/// changed gets its data before; its `seq` is left as committed (deltas read data only).
pub fn rewind(docs: &mut Vec<StoredDoc>, collection: &str, later: &[DocChange]) {
    for change in later.iter().rev().filter(|c| c.path.collection() == collection) {
        let at = docs.iter().position(|d| d.path == change.path);
        match (&change.before, at) {
            (None, Some(i)) => {
                docs.remove(i);
            }
            (Some(before), Some(i)) => docs[i].data = before.clone(),
            (Some(before), None) => {
                docs.push(StoredDoc { path: change.path.clone(), data: before.clone(), seq: change.seq })
            }
            (None, None) => {}
        }
    }
}
