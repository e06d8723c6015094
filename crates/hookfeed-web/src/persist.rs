//! The last known documents of each listen, in IndexedDB, so a reload shows them at once
//! (as `fromCache`) before the socket is up: the database, the key a view is cached under
//! (its tenant and target), and the record stored. Best effort: any IndexedDB failure just
//! means no cache.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbOpenDbRequest, IdbTransactionMode};

use crate::doc::JsDoc;
use crate::js::{array, callback, get, set};

const DB_NAME: &str = "hookfeed";
const STORE: &str = "views";

/// An IndexedDB database of one tenant's cached views, opened lazily.
pub struct Persist {
    /// What every key starts with: the tenant (empty for none) and `|`. The target follows.
    prefix: String,
    db: RefCell<Option<IdbDatabase>>,
    /// Loads asked for before the database was open, by target.
    waiting: RefCell<Vec<(String, Function)>>,
    /// Saves made before the database was open: the latest per target.
    unsaved: RefCell<Vec<(String, JsValue)>>,
    opening: RefCell<bool>,
}

fn indexed_db() -> Option<web_sys::IdbFactory> {
    Reflect::get(&crate::js::global(), &JsValue::from_str("indexedDB")).ok()?.dyn_into().ok()
}

impl Persist {
    /// The cache of `tenant`'s views (`None`: the feed's default), not yet open.
    pub fn new(tenant: Option<&str>) -> Self {
        let mut prefix = String::from(tenant.unwrap_or(""));
        prefix.push('|');
        Self {
            prefix,
            db: RefCell::new(None),
            waiting: RefCell::new(Vec::new()),
            unsaved: RefCell::new(Vec::new()),
            opening: RefCell::new(false),
        }
    }

    /// The key `target`'s view is cached under: `tenant|target`.
    fn key(&self, target: &str) -> JsValue {
        let mut key = self.prefix.clone();
        key.push_str(target);
        JsValue::from_str(&key)
    }

    /// Opens the database in the background.
    pub fn open(self: &Rc<Self>) {
        if self.db.borrow().is_some() || self.opening.replace(true) {
            return;
        }
        let Some(request) = indexed_db().and_then(|f| f.open_with_u32(DB_NAME, 1).ok()) else { return };
        let req = request.clone();
        let upgrade = callback(move |_| {
            if let Some(db) = req.result().ok().and_then(|r| r.dyn_into::<IdbDatabase>().ok()) {
                let _ = db.create_object_store_with_optional_parameters(STORE, &IdbObjectStoreParameters::new());
            }
        });
        request.set_onupgradeneeded(Some(&upgrade));
        let this = self.clone();
        let req: IdbOpenDbRequest = request.clone();
        let opened = callback(move |_| {
            let db = req.result().ok().and_then(|r| r.dyn_into::<IdbDatabase>().ok());
            *this.db.borrow_mut() = db;
            let waiting: Vec<_> = this.waiting.borrow_mut().drain(..).collect();
            for (target, on_loaded) in waiting {
                this.load(&target, on_loaded);
            }
            let unsaved: Vec<_> = this.unsaved.borrow_mut().drain(..).collect();
            for (target, value) in unsaved {
                this.save(&target, &value);
            }
        });
        request.set_onsuccess(Some(&opened));
    }

    /// Calls `on_loaded` with the cached `{seq, docs}` for `target` (a listen's wire
    /// target, as JSON text), or `undefined`.
    pub fn load(self: &Rc<Self>, target: &str, on_loaded: Function) {
        let Some(db) = self.db.borrow().clone() else {
            if *self.opening.borrow() {
                self.waiting.borrow_mut().push((target.to_owned(), on_loaded));
            }
            return;
        };
        let request = db
            .transaction_with_str(STORE)
            .and_then(|tx| tx.object_store(STORE))
            .and_then(|store| store.get(&self.key(target)));
        let Ok(request) = request else { return };
        let req = request.clone();
        let done = callback(move |_| {
            let _ = on_loaded.call1(&JsValue::NULL, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        request.set_onsuccess(Some(&done));
    }

    /// Stores `{seq, docs}` (a [`record`]) for `target`.
    pub fn save(&self, target: &str, value: &JsValue) {
        let Some(db) = self.db.borrow().clone() else {
            if *self.opening.borrow() {
                let mut unsaved = self.unsaved.borrow_mut();
                unsaved.retain(|(t, _)| t != target);
                unsaved.push((target.to_owned(), value.clone()));
            }
            return;
        };
        let _ = db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
            .and_then(|tx| tx.object_store(STORE))
            .and_then(|store| store.put_with_key(value, &self.key(target)));
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

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): records are JS values.
    use super::*;
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
        assert_eq!(Persist::new(Some("acme")).key(r#""p/a""#).as_string().as_deref(), Some(r#"acme|"p/a""#));
        assert_eq!(Persist::new(None).key("t").as_string().as_deref(), Some("|t"));
    }
}
