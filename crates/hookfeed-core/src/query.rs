//! Collection queries: Firestore's `where`, `orderBy` and `limit`, evaluated on documents.

use std::cmp::Ordering;

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

/// Sorts documents by `order` clauses; documents missing an ordered field are dropped, as
/// Firestore does. Ties fall back to the path so the order is total.
pub fn sort_documents<T>(docs: &mut Vec<(&str, T)>, order: &[OrderBy], data: impl Fn(&T) -> &Map<String, Value>) {
    docs.retain(|(_, d)| order.iter().all(|o| field(data(d), &o.field).is_some()));
    docs.sort_by(|(pa, a), (pb, b)| {
        for o in order {
            let (x, y) = (field(data(a), &o.field), field(data(b), &o.field));
            let ord = match (x, y) {
                (Some(x), Some(y)) => compare(x, y).unwrap_or(Ordering::Equal),
                _ => Ordering::Equal,
            };
            let ord = if o.direction == Direction::Desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        pa.cmp(pb)
    });
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
}
