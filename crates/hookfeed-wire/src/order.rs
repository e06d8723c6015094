//! The order of field values in a query, as Firestore defines it, for the feed and the
//! browser module alike (they must pick the same documents for a `limit`).
//!
//! A document without an ordered field is left out of an ordered query. Values of
//! different types order by type: null, booleans, numbers, strings, arrays, maps (JSON has
//! no timestamps, bytes, references or geopoints). Within a type: `false < true`; numbers by
//! value, NaN first, `-0 == 0`; strings by their UTF-8 bytes; arrays element by element,
//! a prefix first; maps entry by entry in key order, by key then by value, a prefix first.
//! Ties between documents are broken by their path, in the direction of the last `orderBy`.

use core::cmp::Ordering;

/// The type of a value, in the order types sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// A map (a JSON object).
    Map,
}

/// A borrowed value the order can read: JSON on the feed, a value read from JavaScript in
/// the browser module. Each accessor is asked only of a value of its [`Kind`].
pub trait Ordered<'a>: Copy + 'a {
    /// The value's type.
    fn kind(self) -> Kind;
    /// A boolean's value.
    fn boolean(self) -> bool;
    /// A number's value.
    fn number(self) -> f64;
    /// A string's text.
    fn text(self) -> &'a str;
    /// A map's entries, in key order (by the keys' UTF-8 bytes); an array's items, in
    /// order, each under the empty key (so that arrays compare item by item).
    fn entries(self) -> impl Iterator<Item = (&'a str, Self)> + 'a;
}

/// Firestore's order of two values: a total order over every value.
pub fn compare<'a, V: Ordered<'a>>(a: V, b: V) -> Ordering {
    let kind = a.kind();
    kind.cmp(&b.kind()).then_with(|| match kind {
        Kind::Null => Ordering::Equal,
        Kind::Bool => a.boolean().cmp(&b.boolean()),
        Kind::Number => compare_numbers(a.number(), b.number()),
        Kind::String => a.text().as_bytes().cmp(b.text().as_bytes()),
        // Entry by entry, a prefix first: arrays by item (their keys are all empty), maps
        // by key, then value.
        Kind::Array | Kind::Map => {
            let (mut x, mut y) = (a.entries(), b.entries());
            loop {
                match (x.next(), y.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some((kx, vx)), Some((ky, vy))) => {
                        let order = kx.as_bytes().cmp(ky.as_bytes()).then_with(|| compare(vx, vy));
                        if order.is_ne() {
                            return order;
                        }
                    }
                }
            }
        }
    })
}

/// Numbers by value, NaN before every other number, `-0 == 0`.
fn compare_numbers(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// One `orderBy` clause's order of two documents by their values of its field (`None`:
/// absent, which sorts first so the order stays total; such documents are left out of an
/// ordered query before sorting anyway).
pub fn compare_fields<'a, V: Ordered<'a>>(x: Option<V>, y: Option<V>, descending: bool) -> Ordering {
    let order = match (x, y) {
        (Some(x), Some(y)) => compare(x, y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    if descending {
        order.reverse()
    } else {
        order
    }
}

/// Orders two documents by `clauses` (each reads one field of each document, `None` when
/// absent) and then by path, in the direction of the last clause (Firestore's implicit
/// `orderBy(__name__)` takes the last explicit direction: equal values in a descending
/// query list the higher path first). Documents missing an ordered field must have been
/// left out before: here an absent field sorts first, so the order stays total.
pub fn compare_documents<'a, V: Ordered<'a>>(
    clauses: impl IntoIterator<Item = (bool, Option<V>, Option<V>)>,
    path_a: &str,
    path_b: &str,
) -> Ordering {
    let mut last_descending = false;
    for (descending, x, y) in clauses {
        let order = compare_fields(x, y, descending);
        if order.is_ne() {
            return order;
        }
        last_descending = descending;
    }
    compare_paths(path_a, path_b, last_descending)
}

/// The tiebreak of documents whose ordered fields are equal: by path, in the direction of
/// the query's last `orderBy` (`last_descending`), as Firestore's implicit
/// `orderBy(__name__)`.
pub fn compare_paths(path_a: &str, path_b: &str, last_descending: bool) -> Ordering {
    let by_path = path_a.cmp(path_b);
    if last_descending {
        by_path.reverse()
    } else {
        by_path
    }
}

/// A value read into memory, for callers whose values are not already [`Ordered`] (the
/// browser module reads fields out of JavaScript objects into this).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(alloc::string::String),
    /// An array.
    Array(alloc::vec::Vec<Value>),
    /// A map's entries; [`Value::map`] sorts them by key.
    Map(alloc::vec::Vec<(alloc::string::String, Value)>),
}

impl Value {
    /// A map of `entries`, sorted by key as the order reads them.
    pub fn map(mut entries: alloc::vec::Vec<(alloc::string::String, Value)>) -> Self {
        // An insertion sort: maps are small, and the browser module downloads this code
        // (the standard sorts are kilobytes of wasm).
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && entries[j - 1].0.as_bytes() > entries[j].0.as_bytes() {
                entries.swap(j - 1, j);
                j -= 1;
            }
        }
        Self::Map(entries)
    }
}

impl<'a> Ordered<'a> for &'a Value {
    fn kind(self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Map(_) => Kind::Map,
        }
    }

    fn boolean(self) -> bool {
        matches!(self, Value::Bool(true))
    }

    fn number(self) -> f64 {
        match self {
            Value::Number(n) => *n,
            _ => f64::NAN,
        }
    }

    fn text(self) -> &'a str {
        match self {
            Value::String(s) => s,
            _ => "",
        }
    }

    fn entries(self) -> impl Iterator<Item = (&'a str, Self)> + 'a {
        let (items, entries): (&'a [Value], &'a [(alloc::string::String, Value)]) = match self {
            Value::Array(items) => (items, &[]),
            Value::Map(entries) => (&[], entries),
            _ => (&[], &[]),
        };
        items.iter().map(|v| ("", v)).chain(entries.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    fn s(text: &str) -> Value {
        Value::String(text.to_string())
    }

    #[test]
    fn values_order_by_type_then_within_the_type_as_firestore_does() {
        // The example: null (twice), false, true, -1, 0, 2.5, 10 (twice), "10", "B",
        // "a", [1], {"x":1}.
        let sorted = vec![
            Value::Null,
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Number(-1.0),
            Value::Number(0.0),
            Value::Number(2.5),
            Value::Number(10.0),
            Value::Number(10.0),
            s("10"),
            s("B"),
            s("a"),
            Value::Array(vec![Value::Number(1.0)]),
            Value::map(vec![("x".to_string(), Value::Number(1.0))]),
        ];
        let mut shuffled: Vec<Value> = sorted.iter().rev().cloned().collect();
        shuffled.swap(0, 7);
        shuffled.sort_by(|a, b| compare(a, b));
        assert_eq!(shuffled, sorted);
    }

    #[test]
    fn arrays_and_maps_compare_element_by_element_a_prefix_first() {
        let a = |items: Vec<f64>| Value::Array(items.into_iter().map(Value::Number).collect());
        assert_eq!(compare(&a(vec![1.0]), &a(vec![1.0, 0.0])), Ordering::Less);
        assert_eq!(compare(&a(vec![2.0]), &a(vec![1.0, 9.0])), Ordering::Greater);
        let m = |entries: Vec<(&str, f64)>| {
            Value::map(entries.into_iter().map(|(k, v)| (k.to_string(), Value::Number(v))).collect())
        };
        assert_eq!(compare(&m(vec![("b", 1.0), ("a", 1.0)]), &m(vec![("a", 1.0), ("b", 1.0)])), Ordering::Equal);
        assert_eq!(compare(&m(vec![("a", 1.0)]), &m(vec![("a", 1.0), ("b", 0.0)])), Ordering::Less);
        assert_eq!(compare(&m(vec![("a", 2.0)]), &m(vec![("b", 0.0)])), Ordering::Less, "key first");
        assert_eq!(compare(&Value::Number(-0.0), &Value::Number(0.0)), Ordering::Equal);
        assert_eq!(compare(&Value::Number(f64::NAN), &Value::Number(f64::NEG_INFINITY)), Ordering::Less);
    }

    #[test]
    fn documents_order_by_clauses_then_path() {
        let (one, two) = (Value::Number(1.0), Value::Number(2.0));
        assert_eq!(compare_documents([(false, Some(&one), Some(&two))], "c/z", "c/a"), Ordering::Less);
        assert_eq!(compare_documents([(true, Some(&one), Some(&two))], "c/z", "c/a"), Ordering::Greater);
        assert_eq!(compare_documents([(false, Some(&one), Some(&one))], "c/a", "c/b"), Ordering::Less);
        assert_eq!(compare_documents::<&Value>([], "c/b", "c/a"), Ordering::Greater);
    }

    #[test]
    fn ties_go_by_path_in_the_direction_of_the_last_order_by() {
        let one = Value::Number(1.0);
        // Firestore: orderBy("n", "desc") lists equal n by document name descending.
        assert_eq!(compare_documents([(true, Some(&one), Some(&one))], "c/a", "c/b"), Ordering::Greater);
        assert_eq!(compare_documents([(false, Some(&one), Some(&one))], "c/a", "c/b"), Ordering::Less);
        // The last clause decides, not the first.
        assert_eq!(
            compare_documents([(true, Some(&one), Some(&one)), (false, Some(&one), Some(&one))], "c/a", "c/b"),
            Ordering::Less
        );
        assert_eq!(
            compare_documents([(false, Some(&one), Some(&one)), (true, Some(&one), Some(&one))], "c/a", "c/b"),
            Ordering::Greater
        );
    }
}
