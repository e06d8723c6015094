//! Collection queries: Firestore's `where`, `orderBy` and `limit`, evaluated on documents.

use std::cmp::Ordering;

use hookfeed_wire::order::{Kind, Ordered};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A `where` operator, spelled as in Firestore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `in`: the field equals one of a list.
    #[serde(rename = "in")]
    In,
    /// `not-in`: the field equals none of a list.
    #[serde(rename = "not-in")]
    NotIn,
    /// `array-contains`: the field is an array holding the value.
    #[serde(rename = "array-contains")]
    ArrayContains,
    /// `array-contains-any`: the field is an array holding one of a list.
    #[serde(rename = "array-contains-any")]
    ArrayContainsAny,
}

/// One `where(field, op, value)` clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Dotted field path (`error.code`).
    pub field: String,
    /// The operator.
    pub op: FilterOp,
    /// The operand.
    pub value: Value,
}

/// Sort direction of an `orderBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Ascending (the default).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// One `orderBy(field, direction)` clause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    /// Dotted field path.
    pub field: String,
    /// Direction.
    #[serde(default)]
    pub direction: Direction,
}

/// The field at a dotted path of a document.
pub fn field<'v>(data: &'v Map<String, Value>, dotted: &str) -> Option<&'v Value> {
    let mut parts = dotted.split('.');
    let first = data.get(parts.next()?)?;
    parts.try_fold(first, |value, key| value.get(key))
}

/// Orders two values of the same kind; values of different kinds do not compare.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// A JSON value as hookfeed-wire's value order reads it: the one order the feed and the
/// browser module share.
#[derive(Debug, Clone, Copy)]
pub struct Json<'a>(pub &'a Value);

impl<'a> Ordered<'a> for Json<'a> {
    fn kind(self) -> Kind {
        match self.0 {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Map,
        }
    }

    fn boolean(self) -> bool {
        self.0.as_bool().unwrap_or(false)
    }

    fn number(self) -> f64 {
        self.0.as_f64().unwrap_or(f64::NAN)
    }

    fn text(self) -> &'a str {
        self.0.as_str().unwrap_or("")
    }

    fn entries(self) -> impl Iterator<Item = (&'a str, Self)> + 'a {
        let items = self.0.as_array().map(Vec::as_slice).unwrap_or_default();
        // serde_json's map keeps keys sorted (a BTreeMap), by their bytes: the order wants that.
        let entries = self.0.as_object().into_iter().flat_map(|map| map.iter().map(|(k, v)| (k.as_str(), Json(v))));
        items.iter().map(|v| ("", Json(v))).chain(entries)
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Some(Ordering::Equal) || a == b
}

impl Filter {
    /// Whether a document's data satisfies the clause. As in Firestore, a document
    /// without the field matches no clause, not even `!=`.
    pub fn matches(&self, data: &Map<String, Value>) -> bool {
        let Some(actual) = field(data, &self.field) else {
            return false;
        };
        let list = || self.value.as_array().map(Vec::as_slice).unwrap_or_default();
        match self.op {
            FilterOp::Eq => equal(actual, &self.value),
            FilterOp::Ne => !equal(actual, &self.value) && !actual.is_null(),
            FilterOp::Lt => compare(actual, &self.value) == Some(Ordering::Less),
            FilterOp::Le => matches!(compare(actual, &self.value), Some(Ordering::Less | Ordering::Equal)),
            FilterOp::Gt => compare(actual, &self.value) == Some(Ordering::Greater),
            FilterOp::Ge => matches!(compare(actual, &self.value), Some(Ordering::Greater | Ordering::Equal)),
            FilterOp::In => list().iter().any(|v| equal(actual, v)),
            FilterOp::NotIn => !actual.is_null() && !list().iter().any(|v| equal(actual, v)),
            FilterOp::ArrayContains => {
                actual.as_array().is_some_and(|items| items.iter().any(|v| equal(v, &self.value)))
            }
            FilterOp::ArrayContainsAny => {
                actual.as_array().is_some_and(|items| items.iter().any(|item| list().iter().any(|v| equal(item, v))))
            }
        }
    }
}

/// Whether a document has every field `order` sorts by: as in Firestore, an ordered query
/// leaves out the documents that lack one.
pub fn has_order_fields(data: &Map<String, Value>, order: &[OrderBy]) -> bool {
    order.iter().all(|o| field(data, &o.field).is_some())
}

/// Orders two documents by `order` clauses in hookfeed-wire's value order, then by path.
pub fn compare_documents(
    order: &[OrderBy],
    (path_a, a): (&str, &Map<String, Value>),
    (path_b, b): (&str, &Map<String, Value>),
) -> Ordering {
    let clauses = order
        .iter()
        .map(|o| (o.direction == Direction::Desc, field(a, &o.field).map(Json), field(b, &o.field).map(Json)));
    hookfeed_wire::order::compare_documents(clauses, path_a, path_b)
}

/// Sorts documents by `order` clauses, leaving out those missing an ordered field, as
/// Firestore does: hookfeed-wire's value order, ties by path.
pub fn sort_documents<T>(docs: &mut Vec<(&str, T)>, order: &[OrderBy], data: impl Fn(&T) -> &Map<String, Value>) {
    docs.retain(|(_, d)| has_order_fields(data(d), order));
    docs.sort_by(|(pa, a), (pb, b)| compare_documents(order, (pa, data(a)), (pb, data(b))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn filter(field: &str, op: &str, value: Value) -> Filter {
        serde_json::from_value(json!({"field": field, "op": op, "value": value})).expect("valid filter")
    }

    #[test]
    fn every_operator_matches_as_in_firestore() {
        let d = doc(json!({"status": "processing", "progress": 40, "tags": ["a", "b"], "error": {"code": "x"}}));
        let cases = [
            ("status", "==", json!("processing"), true),
            ("status", "!=", json!("completed"), true),
            ("progress", "<", json!(50), true),
            ("progress", "<=", json!(40), true),
            ("progress", ">", json!(40), false),
            ("progress", ">=", json!(40.0), true),
            ("status", "in", json!(["created", "processing"]), true),
            ("status", "not-in", json!(["completed", "failed"]), true),
            ("tags", "array-contains", json!("b"), true),
            ("tags", "array-contains-any", json!(["z", "a"]), true),
            ("error.code", "==", json!("x"), true),
            ("progress", "<", json!("50"), false),
            ("missing", "!=", json!(1), false),
        ];
        for (field, op, value, expected) in cases {
            assert_eq!(filter(field, op, value.clone()).matches(&d), expected, "{field} {op} {value}");
        }
    }

    #[test]
    fn documents_sort_by_fields_then_path() {
        let a = doc(json!({"n": 2}));
        let b = doc(json!({"n": 1}));
        let c = doc(json!({}));
        let mut docs = vec![("x/a", &a), ("x/b", &b), ("x/c", &c)];
        sort_documents(&mut docs, &[OrderBy { field: "n".into(), direction: Direction::Desc }], |d| d);
        let paths: Vec<_> = docs.iter().map(|(p, _)| *p).collect();
        assert_eq!(paths, ["x/a", "x/b"]);
    }

    #[test]
    fn an_ordered_field_of_mixed_types_sorts_by_type_not_a_panic() {
        // Values of different kinds used to compare as equal, which is no total order:
        // `1 = "a" = 0` but `1 > 0`. Rust's sort panics on that once there are enough
        // documents, and any sender can put mixed kinds in a field a subscriber orders by.
        let values = [json!(3), json!("b"), json!(true), json!(null), json!(1), json!("a"), json!(false), json!([1])];
        // An arrangement of 32 that the standard sort detected and panicked on.
        let data: Vec<Map<String, Value>> =
            (0..32).map(|i| doc(json!({"n": values[(i * 4 + i / 2) % values.len()]}))).collect();
        let paths: Vec<String> = (0..data.len()).map(|i| format!("x/{i:02}")).collect();
        let mut docs: Vec<(&str, &Map<String, Value>)> = paths.iter().map(String::as_str).zip(&data).collect();
        sort_documents(&mut docs, &[OrderBy { field: "n".into(), direction: Direction::Asc }], |d| d);
        let mut kinds: Vec<&str> = docs
            .iter()
            .map(|(_, d)| match &d["n"] {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "map",
            })
            .collect();
        kinds.dedup();
        assert_eq!(kinds, ["null", "bool", "number", "string", "array"], "Firestore's order across types");
    }
}
