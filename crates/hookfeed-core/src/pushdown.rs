//! What a read of stored documents lets the feed's SQLite narrow itself, so that an owner's
//! read costs the owner's documents, not the whole collection's.
//!
//! An owner-scoped `GET /docs/{collection}` (its guard, `user_id == sub`) and an owner's
//! query (`where("user_id", "==", sub)`, which [`TokenClaims::access`] requires of it) both
//! hold an equality on a top-level string field. The feed runs it in SQL over an
//! expression index on that field ([`FieldEquals::index_name`]), created on first use, at
//! most [`MAX_FIELD_INDEXES`] per feed. The documents SQL returns are then filtered in
//! memory as before: narrowing only ever leaves out documents the filter would refuse.

use serde_json::Value;

use crate::protocol::Target;
use crate::query::{Filter, FilterOp};
use crate::token::TokenClaims;

/// Most field indexes a feed creates: one per distinct owner field read (`user_id`,
/// `userId`, …), shared by every collection. A field past the bound is still narrowed in
/// SQL, by a scan of the collection rather than an index.
pub const MAX_FIELD_INDEXES: usize = 8;

/// Longest field name narrowed in SQL.
pub const MAX_FIELD_LEN: usize = 64;

/// The prefix of every field index's name.
pub const INDEX_PREFIX: &str = "documents_by_field_";

/// An equality on a top-level field of a document whose value is a string
/// (`user_id == "alice"`): what the feed's SQL can test, over an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEquals {
    field: String,
    value: String,
}

impl FieldEquals {
    /// The equality `filter` states, if SQL can test it exactly: `==` on a top-level field
    /// named with ASCII letters, digits, `_` and `-` only (at most [`MAX_FIELD_LEN`]
    /// bytes), against a string. Field names come from tokens, so any other is left to the
    /// in-memory filter rather than quoted into SQL.
    pub fn from_filter(filter: &Filter) -> Option<Self> {
        let Value::String(value) = &filter.value else { return None };
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let field_ok =
            !filter.field.is_empty() && filter.field.len() <= MAX_FIELD_LEN && filter.field.chars().all(plain);
        (filter.op == FilterOp::Eq && field_ok).then(|| Self { field: filter.field.clone(), value: value.clone() })
    }

    /// The field.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The string it must equal.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The SQL expression reading the field from a document's JSON, the same text in the
    /// index and in every query that uses it: `json_extract(data, '$."user_id"')`. Safe to
    /// splice into SQL: the field holds no quote, backslash or dot ([`Self::from_filter`]).
    pub fn expression(&self) -> String {
        format!("json_extract(data, '$.\"{}\"')", self.field)
    }

    /// The name of the index on the field: [`INDEX_PREFIX`] and the field's bytes in hex,
    /// so that two fields never share one (SQLite's names ignore case; fields do not).
    pub fn index_name(&self) -> String {
        format!("{INDEX_PREFIX}{}", hex::encode(self.field.as_bytes()))
    }
}

/// Whether a feed holding `existing` field indexes may create one more.
pub fn may_create_index(existing: usize) -> bool {
    existing < MAX_FIELD_INDEXES
}

/// What the snapshot of a listen of `target` under `claims` lets SQL narrow: the
/// listen's owner guard (a document of an owner-scoped collection), or, for a query of an
/// owner-scoped collection, the owner filter the query holds. `None`: the read is not an
/// owner's, and reads what the target names.
pub fn for_listen(claims: &TokenClaims, target: &Target, guard: Option<&Filter>) -> Option<FieldEquals> {
    if let Some(guard) = guard {
        return FieldEquals::from_filter(guard);
    }
    let Target::Collection(query) = target else { return None };
    let owner = claims.owner_guard(&query.collection)?;
    query.filters.contains(&owner).then(|| FieldEquals::from_filter(&owner)).flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::CollectionQuery;

    fn eq(field: &str, value: Value) -> Filter {
        Filter { field: field.into(), op: FilterOp::Eq, value }
    }

    fn alice() -> TokenClaims {
        let mut claims = TokenClaims::new("demo", vec!["news/*".into()], 2_000);
        claims.sub = Some("alice".into());
        claims.owner.insert("projects".into(), "user_id".into());
        claims
    }

    fn query(collection: &str, filters: Vec<Filter>) -> Target {
        Target::Collection(CollectionQuery {
            collection: collection.into(),
            filters,
            order_by: Vec::new(),
            limit: None,
        })
    }

    #[test]
    fn only_an_equality_on_a_plain_top_level_field_against_a_string_is_narrowed() {
        let narrowed = FieldEquals::from_filter(&eq("user_id", json!("alice"))).expect("narrowed");
        assert_eq!((narrowed.field(), narrowed.value()), ("user_id", "alice"));
        assert_eq!(narrowed.expression(), r#"json_extract(data, '$."user_id"')"#);
        assert_eq!(narrowed.index_name(), "documents_by_field_757365725f6964");
        assert!(FieldEquals::from_filter(&eq("owner-id", json!("a"))).is_some());
        for field in ["", "error.code", "a'b", "a\"b", "a\\b", "a b", "$", "[0]", "é", &"x".repeat(65)] {
            assert_eq!(FieldEquals::from_filter(&eq(field, json!("a"))), None, "{field:?}");
        }
        for value in [json!(42), json!(null), json!(["a"]), json!({"a": 1}), json!(true)] {
            assert_eq!(FieldEquals::from_filter(&eq("user_id", value.clone())), None, "{value}");
        }
        let ne = Filter { field: "user_id".into(), op: FilterOp::Ne, value: json!("alice") };
        assert_eq!(FieldEquals::from_filter(&ne), None);
    }

    #[test]
    fn fields_differing_in_case_get_indexes_of_their_own() {
        let name = |f: &str| FieldEquals::from_filter(&eq(f, json!("a"))).expect("narrowed").index_name();
        assert_ne!(name("userId"), name("userid"));
    }

    #[test]
    fn an_owners_reads_are_narrowed_to_the_owner_and_nothing_else_is() {
        let claims = alice();
        let own = eq("user_id", json!("alice"));
        let narrowed = Some(FieldEquals::from_filter(&own).expect("narrowed"));
        // GET /docs and document listens under the owner guard.
        let doc = Target::Document("projects/1".parse().expect("path"));
        assert_eq!(for_listen(&claims, &doc, Some(&own)), narrowed);
        // The owner's query, however narrower it is.
        let status = eq("status", json!("processing"));
        assert_eq!(for_listen(&claims, &query("projects", vec![status.clone(), own.clone()]), None), narrowed);
        // A query of a collection the token reads whole, or that is no owner's.
        assert_eq!(for_listen(&claims, &query("news", vec![status.clone()]), None), None);
        assert_eq!(for_listen(&claims, &query("projects", vec![status]), None), None);
        assert_eq!(for_listen(&claims, &query("projects", vec![eq("user_id", json!("bob"))]), None), None);
        let mut anonymous = claims.clone();
        anonymous.sub = None;
        assert_eq!(for_listen(&anonymous, &query("projects", vec![own]), None), None);
    }

    #[test]
    fn a_feed_creates_at_most_the_stated_number_of_field_indexes() {
        assert!(may_create_index(0));
        assert!(may_create_index(MAX_FIELD_INDEXES - 1));
        assert!(!may_create_index(MAX_FIELD_INDEXES));
    }
}
