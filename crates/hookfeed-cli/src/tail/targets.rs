//! What tail watches: the targets named on the command line, else what the token grants
//! or every built-in collection; and how a target reads in output and in a token's scopes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{CollectionQuery, Target};
use hookfeed_core::query::Filter;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::BuiltinScheme;

use crate::cli::TailArgs;

use super::render::show;

/// What to watch, and whether that is "everything" (nothing was named).
pub(super) fn targets(args: &TailArgs, token: Option<&str>) -> (Vec<Target>, bool) {
    let named: Vec<Target> = args
        .docs
        .iter()
        .cloned()
        .map(Target::Document)
        .chain(args.collections.iter().map(|collection| {
            Target::Collection(CollectionQuery {
                collection: collection.clone(),
                filters: args.filters.clone(),
                order_by: Vec::new(),
                limit: None,
            })
        }))
        .collect();
    if !named.is_empty() {
        return (named, false);
    }
    // A given token: what it grants (its claims are readable without the secret; the
    // server checks them). A token that grants `*`, or a minted one: every built-in collection.
    let granted = token.and_then(unverified_scopes).filter(|scopes| !scopes.iter().any(|s| s == "*"));
    let targets = match granted {
        Some(scopes) => scopes
            .iter()
            .filter_map(|scope| match scope.strip_suffix("/*") {
                Some(collection) => Some(collection_target(collection)),
                None => scope.parse::<DocPath>().ok().map(Target::Document),
            })
            .collect(),
        None => builtin_collections().iter().map(|c| collection_target(c)).collect(),
    };
    (targets, true)
}

fn collection_target(collection: &str) -> Target {
    Target::Collection(CollectionQuery {
        collection: collection.to_owned(),
        filters: Vec::new(),
        order_by: Vec::new(),
        limit: None,
    })
}

/// Every collection a built-in projection rule writes, in rule order, Twin.Actor's
/// (`projects` first, the demo's) before the others'.
fn builtin_collections() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for rule in [BuiltinScheme::TwinActor].into_iter().chain(BuiltinScheme::ALL).flat_map(BuiltinScheme::builtin_rules)
    {
        if !names.contains(&rule.collection) {
            names.push(rule.collection);
        }
    }
    names
}

/// A token's scopes, read without checking its signature.
fn unverified_scopes(token: &str) -> Option<Vec<String>> {
    let (_, _, claims, _) = hookfeed_wire::token::parts(token)?;
    let json = URL_SAFE_NO_PAD.decode(claims).ok()?;
    serde_json::from_slice::<TokenClaims>(&json).ok().map(|claims| claims.scopes)
}

/// The token scope that grants a target.
pub(super) fn scope_of(target: &Target) -> String {
    match target {
        Target::Document(path) => path.to_string(),
        Target::Collection(q) => format!("{}/*", q.collection),
    }
}

/// How a target reads in output: `projects/42`, `projects`, `projects where status==processing`.
pub(super) fn label(target: &Target) -> String {
    match target {
        Target::Document(path) => path.to_string(),
        Target::Collection(q) if q.filters.is_empty() => q.collection.clone(),
        Target::Collection(q) => {
            let filters: Vec<String> = q.filters.iter().map(describe_filter).collect();
            format!("{} where {}", q.collection, filters.join(" and "))
        }
    }
}

fn describe_filter(filter: &Filter) -> String {
    let op = serde_json::to_value(filter.op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let value = show(&filter.value);
    if op.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("{} {op} {value}", filter.field)
    } else {
        format!("{}{op}{value}", filter.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookfeed_core::token::mint_token;
    use hookfeed_core::Secret;

    #[test]
    fn labels_and_scopes_name_the_target() {
        let doc = Target::Document("projects/42".parse().expect("path"));
        assert_eq!(label(&doc), "projects/42");
        assert_eq!(scope_of(&doc), "projects/42");
        let filters = vec![
            crate::cli::parse_where("status==processing").expect("filter"),
            crate::cli::parse_where("status in a,b").expect("filter"),
        ];
        let query = Target::Collection(CollectionQuery {
            collection: "projects".into(),
            filters,
            order_by: Vec::new(),
            limit: None,
        });
        assert_eq!(label(&query), "projects where status==processing and status in [\"a\",\"b\"]");
        assert_eq!(scope_of(&query), "projects/*");
    }

    #[test]
    fn a_given_tokens_scopes_are_read_without_the_secret() {
        let claims = TokenClaims::new("demo", vec!["projects/*".into(), "users/u1".into()], 1);
        let token = mint_token(&claims, &Secret::from_bytes("whatever"));
        assert_eq!(unverified_scopes(&token), Some(claims.scopes));
        assert_eq!(unverified_scopes("nonsense"), None);
    }

    #[test]
    fn the_builtin_collections_start_with_projects() {
        let names = builtin_collections();
        assert_eq!(names.first().map(String::as_str), Some("projects"));
        assert!(names.contains(&"videos".to_owned()) && names.contains(&"users".to_owned()));
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
