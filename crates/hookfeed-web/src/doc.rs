//! Document data as a JS value, read by the view for ordering and for change detection.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, JSON};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::get;
use crate::view::{DocData, Value};

/// Document data as a JS value, read by the view for ordering.
#[derive(Clone, Debug)]
pub struct JsDoc(pub JsValue);

impl DocData for JsDoc {
    fn field(&self, path: &str) -> Option<Value> {
        let mut value = self.0.clone();
        for key in path.split('.') {
            if !value.is_object() {
                return None;
            }
            value = get(&value, key);
        }
        (!value.is_undefined()).then(|| ordered_value(&value))
    }

    fn same_as(&self, other: &Self) -> bool {
        let text = |v: &JsValue| JSON::stringify(v).ok().and_then(|s| s.as_string());
        text(&self.0) == text(&other.0)
    }
}

/// A JSON value read out of JavaScript for hookfeed-wire's value order.
fn ordered_value(value: &JsValue) -> Value {
    if let Some(n) = value.as_f64() {
        return Value::Number(n);
    }
    if let Some(s) = value.as_string() {
        return Value::String(s);
    }
    if let Some(b) = value.as_bool() {
        return Value::Bool(b);
    }
    if !value.is_object() {
        return Value::Null;
    }
    // One walk for arrays and maps: `Object.entries` lists an array's items as ["0", item].
    let entries: Vec<(String, Value)> = Object::entries(value.unchecked_ref::<Object>())
        .iter()
        .map(|entry| (get(&entry, "0").as_string().unwrap_or_default(), ordered_value(&get(&entry, "1"))))
        .collect();
    if Array::is_array(value) {
        Value::Array(entries.into_iter().map(|(_, item)| item).collect())
    } else {
        Value::map(entries)
    }
}

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): what needs real JS values.
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::js::tests::parse;
    use crate::view::{ChangeKind, View};

    #[wasm_bindgen_test]
    fn js_documents_expose_fields_for_ordering() {
        let doc = JsDoc(parse(r#"{"n": 2, "s": "x", "b": true, "z": null, "o": {"deep": 5}}"#));
        assert_eq!(doc.field("n"), Some(Value::Number(2.0)));
        assert_eq!(doc.field("s"), Some(Value::String("x".into())));
        assert_eq!(doc.field("b"), Some(Value::Bool(true)));
        assert_eq!(doc.field("z"), Some(Value::Null));
        assert_eq!(doc.field("o.deep"), Some(Value::Number(5.0)));
        assert_eq!(doc.field("o"), Some(Value::map(vec![("deep".into(), Value::Number(5.0))])));
        assert_eq!(doc.field("missing"), None);
        assert_eq!(doc.field("n.below"), None);
        assert!(doc.same_as(&JsDoc(parse(r#"{"n": 2, "s": "x", "b": true, "z": null, "o": {"deep": 5}}"#))));
        assert!(!doc.same_as(&JsDoc(parse(r#"{"n": 3}"#))));
    }

    #[wasm_bindgen_test]
    fn a_view_of_js_documents_merges_frames_in_query_order() {
        let mut view = View::new(vec![crate::view::Order { field: "n".into(), descending: false }], None);
        view.apply_snapshot(
            1,
            vec![("p/b".into(), JsDoc(parse(r#"{"n":2}"#))), ("p/a".into(), JsDoc(parse(r#"{"n":1}"#)))],
            &[],
            false,
        );
        let changes = view.apply_change(2, "p/a", ChangeKind::Modified, Some(JsDoc(parse(r#"{"n":3}"#))));
        // Only p/a changed (from 0 to 1); p/b moved without changing and is not listed.
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!((changes[0].path.as_str(), changes[0].old_index, changes[0].new_index), ("p/a", 0, 1));
        let order: Vec<&str> = view.docs().iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(order, ["p/b", "p/a"]);
    }
}
