//! The last known documents of each listen, in IndexedDB, so a reload shows them at once
//! (as `fromCache`) before the socket is up: the database, the record stored, and its
//! bounds. Each record is keyed by its reader (`session::reader_key`: the feed's URL and
//! the token's tenant, subject and scopes) and its target, so no user reads another's.
//!
//! Bounded: at most [`MAX_VIEWS`] views and [`MAX_DOCS`] documents in all; past either,
//! the least recently written views go first. Writes are batched: a view changed many
//! times within [`FLUSH_MS`] is written once, with every other view changed meanwhile, in
//! one transaction. Optional: when IndexedDB cannot be opened (private modes, a throwing
//! or blocked `indexedDB.open`) the module keeps documents in memory only, with one
//! warning on the console.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use js_sys::{Array, Function, Object};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::doc::JsDoc;
use crate::js::{array, callback, clear_timer, console, get, set, set_timeout};

// The platform's IndexedDB calls (src/platform.js): smaller in JS than through web-sys.
#[wasm_bindgen(module = "/src/platform.js")]
extern "C" {
    /// A JWT's claims, or `undefined` when unreadable.
    #[wasm_bindgen(js_name = claimsOf)]
    pub fn claims_of(token: &str) -> JsValue;
    #[wasm_bindgen(js_name = idbOpen)]
    fn idb_open(done: &Function) -> JsValue;
    #[wasm_bindgen(js_name = idbGet)]
    fn idb_get(db: &JsValue, key: &JsValue, done: &Function);
    #[wasm_bindgen(js_name = idbWrite)]
    fn idb_write(db: &JsValue, puts: &Array, deletes: &Array);
    #[wasm_bindgen(js_name = idbClose)]
    fn idb_close(db: &JsValue);
    /// Deletes the database: a promise of its deletion (rejected with `internal`).
    #[wasm_bindgen(js_name = idbDelete)]
    pub fn delete() -> js_sys::Promise;
}

/// At most this many cached views.
pub const MAX_VIEWS: usize = 100;
/// At most this many cached documents, over all views.
pub const MAX_DOCS: f64 = 10_000.0;
/// Changes within this long are written together.
const FLUSH_MS: f64 = 300.0;

/// The IndexedDB cache of a page's feed, opened in the background.
pub struct Persist {
    /// platform.js's handle.
    db: JsValue,
    /// Open (writes go out), or not yet.
    open: Cell<bool>,
    /// Failed, closed or deleted: memory only.
    none: Cell<bool>,
    /// Records to write at the next flush: key, record, documents.
    dirty: RefCell<Vec<(JsValue, JsValue, f64)>>,
    /// What is stored: key, when written, documents (the `used` store, in memory).
    used: RefCell<Vec<(JsValue, f64, f64)>>,
    timer: RefCell<Option<JsValue>>,
}

impl Persist {
    /// Opens the database in the background.
    pub fn open() -> Rc<Self> {
        let slot: Rc<RefCell<Option<Rc<Self>>>> = Rc::new(RefCell::new(None));
        let later = slot.clone();
        let db = idb_open(&callback(move |used: JsValue| {
            if let Some(me) = later.borrow_mut().take() {
                me.opened(&used);
            }
        }));
        let this = Rc::new(Self {
            db,
            open: Cell::new(false),
            none: Cell::new(false),
            dirty: RefCell::new(Vec::new()),
            used: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
        });
        // Opening may have failed already (no IndexedDB, a throwing open): then at once.
        *slot.borrow_mut() = Some(this.clone());
        this
    }

    fn opened(&self, used: &JsValue) {
        if used.is_undefined() {
            console("warn", &"hookfeed: no IndexedDB, caching in memory only".into());
            self.none.set(true);
            self.dirty.borrow_mut().clear();
            return;
        }
        let mut known = self.used.borrow_mut();
        for entry in array(used).iter() {
            let entry = array(&entry);
            known.push((entry.get(0), entry.get(1).as_f64().unwrap_or(0.0), entry.get(2).as_f64().unwrap_or(0.0)));
        }
        drop(known);
        self.open.set(true);
        self.flush();
    }

    /// Calls `on_loaded` with the cached `{seq, docs}` under `key`, or `undefined`.
    pub fn load(&self, key: &JsValue, on_loaded: Function) {
        idb_get(&self.db, key, &on_loaded);
    }

    /// Stores `record` (of `docs` documents) under `key` with the next batch.
    pub fn save(self: &Rc<Self>, key: JsValue, record: JsValue, docs: f64) {
        if self.none.get() {
            return;
        }
        let mut dirty = self.dirty.borrow_mut();
        dirty.retain(|(k, _, _)| *k != key);
        dirty.push((key, record, docs));
        if self.timer.borrow().is_none() {
            let me = self.clone();
            *self.timer.borrow_mut() = Some(set_timeout(&callback(move |_| me.flush()), FLUSH_MS));
        }
    }

    /// Writes the batch in one transaction, evicting past the bounds: the least recently
    /// written views first (the newest one stays).
    pub fn flush(&self) {
        if let Some(timer) = self.timer.borrow_mut().take() {
            clear_timer("clearTimeout", &timer);
        }
        if !self.open.get() {
            return;
        }
        let (puts, deletes) = (Array::new(), Array::new());
        let now = js_sys::Date::now();
        let mut used = self.used.borrow_mut();
        for (key, record, docs) in core::mem::take(&mut *self.dirty.borrow_mut()) {
            puts.push(&Array::of3(&key, &record, &docs.into()));
            used.retain(|(k, _, _)| *k != key);
            used.push((key, now, docs));
        }
        while used.len() > 1 && (used.len() > MAX_VIEWS || used.iter().map(|(_, _, n)| n).sum::<f64>() > MAX_DOCS) {
            let mut oldest = 0;
            for (i, (_, at, _)) in used.iter().enumerate() {
                if *at < used[oldest].1 {
                    oldest = i;
                }
            }
            deletes.push(&used.remove(oldest).0);
        }
        if puts.length() + deletes.length() > 0 {
            idb_write(&self.db, &puts, &deletes);
        }
    }

    /// Writes what is pending and closes the database (terminate).
    pub fn close(&self) {
        self.flush();
        self.open.set(false);
        self.none.set(true);
        idb_close(&self.db);
    }
}

/// The cached record of a view: `{seq, docs: [[path, data], …]}`.
pub fn record(seq: u64, docs: &[(String, JsDoc)]) -> JsValue {
    let list = Array::new();
    for (path, data) in docs {
        list.push(&Array::of2(&JsValue::from_str(path), &data.0));
    }
    let value = Object::new();
    set(&value, "seq", &JsValue::from_f64(seq as f64));
    set(&value, "docs", &list);
    value.into()
}

/// The seq and documents of a cached record; `None` when nothing was cached.
// Inlined into its one caller: as a call of its own it costs the download some 40 bytes.
#[inline(always)]
pub fn read_record(cached: &JsValue) -> Option<(u64, Vec<(String, JsDoc)>)> {
    if !cached.is_object() {
        return None;
    }
    let seq = get(cached, "seq").as_f64().unwrap_or(0.0) as u64;
    let docs = array(&get(cached, "docs"))
        .iter()
        .filter_map(|pair| Some((array(&pair).get(0).as_string()?, JsDoc(array(&pair).get(1)))))
        .collect();
    Some((seq, docs))
}

/// Blanks the claims that change with every token of one reader (its times): `undefined`
/// is left out of JSON.
pub fn without_times(claims: &JsValue) {
    for name in ["exp", "iat", "nbf", "jti", "auth_time"] {
        set(claims, name, &JsValue::UNDEFINED);
    }
}

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): records are JS values.
    use super::*;
    use alloc::borrow::ToOwned;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn a_record_reads_back_as_saved() {
        let docs = vec![("p/a".to_owned(), JsDoc(JsValue::from_f64(1.0))), ("p/b".to_owned(), JsDoc(JsValue::NULL))];
        let (seq, read) = read_record(&record(42, &docs)).expect("a record");
        assert_eq!(seq, 42);
        assert_eq!(read.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["p/a", "p/b"]);
        assert_eq!(read[0].1 .0.as_f64(), Some(1.0));
        assert!(read_record(&JsValue::UNDEFINED).is_none());
    }

    #[wasm_bindgen_test]
    fn times_are_not_part_of_a_reader() {
        let claims = crate::js::tests::parse(r#"{"sub":"a","exp":2,"iat":1,"scopes":["*"]}"#);
        without_times(&claims);
        assert_eq!(
            js_sys::JSON::stringify(&claims).ok().and_then(|s| s.as_string()).as_deref(),
            Some(r#"{"sub":"a","scopes":["*"]}"#)
        );
    }
}
