//! JavaScript interop helpers: reading and writing properties, callbacks, arrays, timers,
//! the console, and Firestore-style errors. Every other module reaches JS through these.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// `target[key]`, or `undefined`.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `target[key] = value`, ignoring failure.
pub fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// A JS function calling `f`, freed when the JS side drops it. Every callback in the module
/// has this one signature, so wasm-bindgen emits its closure glue once.
pub fn callback(f: impl FnMut(JsValue) + 'static) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(f).into_js_value().unchecked_into()
}

/// `value` as an array; an empty one when it is not (Array.from would throw on undefined).
pub fn array(value: &JsValue) -> Array {
    if Array::is_array(value) {
        value.clone().unchecked_into()
    } else {
        Array::new()
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `globalThis`, which every browser and worker has (js-sys's `global()` also probes
    /// older names, in code every page would download).
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL_THIS: JsValue;
}

/// The global object (window, or a worker's global scope).
pub fn global() -> JsValue {
    GLOBAL_THIS.with(JsValue::clone)
}

/// The global function `name` (`setTimeout`, `atob`, …), if there is one.
pub fn global_fn(name: &str) -> Option<Function> {
    get(&global(), name).dyn_into().ok()
}

/// `setTimeout(f, ms)` on whatever global this runs in (window or worker).
pub fn set_timeout(f: &Function, ms: f64) -> JsValue {
    global_fn("setTimeout")
        .and_then(|st| st.call2(&JsValue::NULL, f, &JsValue::from_f64(ms)).ok())
        .unwrap_or(JsValue::NULL)
}

/// `setTimeout(f, ms)` for a watchdog (a deadline for an answer that may come first): in
/// Node, the timer is `unref`ed, so that a script whose work is done exits rather than wait
/// for a deadline nothing needs any more. Browsers' timers are numbers, left as they are.
pub fn set_watchdog(f: &Function, ms: f64) {
    let handle = set_timeout(f, ms);
    if let Ok(unref) = get(&handle, "unref").dyn_into::<Function>() {
        let _ = unref.call0(&handle);
    }
}

/// Calls the global `name` (`clearTimeout` or `clearInterval`) on a timer's handle.
pub fn clear_timer(name: &str, handle: &JsValue) {
    if let Some(f) = global_fn(name) {
        let _ = f.call1(&JsValue::NULL, handle);
    }
}

/// A Firestore-style error: an `Error` with `name = "FirebaseError"` and a `code`.
pub fn firestore_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("FirebaseError");
    set(&error, "code", &JsValue::from_str(code));
    error.into()
}

/// `console.error(value)`, where there is a console.
pub fn console_error(value: &JsValue) {
    console("error", value);
}

/// `console[method](value)`, where there is a console.
pub fn console(method: &str, value: &JsValue) {
    if let Some(console) = get(&global(), "console").dyn_ref::<Object>() {
        if let Ok(f) = get(console, method).dyn_into::<Function>() {
            let _ = f.call1(console, value);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): what needs real JS values. The
    //! crate's other browser tests use [`parse`] too.
    use super::*;
    use js_sys::JSON;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    /// A JS value from JSON text.
    pub(crate) fn parse(json: &str) -> JsValue {
        JSON::parse(json).unwrap_or(JsValue::UNDEFINED)
    }

    #[wasm_bindgen_test]
    fn errors_carry_firestore_codes() {
        let error = firestore_error("permission-denied", "no");
        assert_eq!(get(&error, "code").as_string().as_deref(), Some("permission-denied"));
        assert_eq!(get(&error, "name").as_string().as_deref(), Some("FirebaseError"));
        assert!(error.is_instance_of::<js_sys::Error>());
    }

    #[wasm_bindgen_test]
    fn non_arrays_read_as_empty_arrays() {
        assert_eq!(array(&JsValue::UNDEFINED).length(), 0);
        assert_eq!(array(&parse("[1,2]")).length(), 2);
        assert_eq!(array(&parse(r#"{"length": 3}"#)).length(), 0);
    }
}
