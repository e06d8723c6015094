//! Document paths, `collection/id`, as Firestore spells them: the rules, checked alike by
//! the feed (hookfeed-core's `DocPath`) and the browser module (at `doc()` and
//! `collection()`, so a bad path fails where it is written, not later through a listener).

/// Longest collection name.
pub const MAX_COLLECTION_LEN: usize = 64;
/// Longest document id.
pub const MAX_ID_LEN: usize = 256;

/// Whether `name` is a collection name: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn is_collection(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_COLLECTION_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `id` is a document id: 1 to 256 bytes, not `.` or `..`, without `/` or control
/// characters.
pub fn is_document_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id.chars().all(|c| c != '/' && !c.is_control())
}

/// Splits `collection/id`, if both parts follow the rules.
pub fn split_document(path: &str) -> Option<(&str, &str)> {
    let (collection, id) = path.split_once('/')?;
    (is_collection(collection) && is_document_id(id)).then_some((collection, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_accept_firestore_paths_and_refuse_hostile_ones() {
        assert_eq!(split_document("projects/42"), Some(("projects", "42")));
        assert_eq!(split_document("users/user_abc123"), Some(("users", "user_abc123")));
        for bad in ["projects", "projects/", "/42", "projects/a/b", "projects/..", "pro jects/1", "projects/a\u{0}b"] {
            assert_eq!(split_document(bad), None, "{bad}");
        }
        assert!(!is_collection(&"c".repeat(65)));
        assert!(!is_document_id(&"i".repeat(257)));
        assert!(is_document_id("ünïcode id"));
    }
}
