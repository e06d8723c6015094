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

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStoreParameters, IdbOpenDbRequest, IdbTransactionMode};

use crate::doc::JsDoc;
use crate::js::{array, callback, clear_timer, console, get, set, set_timeout};

/// The database. Version 2 keys records by reader; upgrading drops version 1's records,
/// which were keyed by tenant alone.
pub const DB_NAME: &str = "hookfeed";
const VERSION: u32 = 2;
/// key → `{seq, docs}`.
const VIEWS: &str = "views";
/// key → `[key, writtenAt, documents]`: what eviction reads, without the documents.
const USED: &str = "used";
/// At most this many cached views.
pub const MAX_VIEWS: usize = 100;
/// At most this many cached documents, over all views.
pub const MAX_DOCS: f64 = 10_000.0;
/// Changes within this long are written together.
const FLUSH_MS: f64 = 300.0;

const OPENING: u8 = 0;
const OPEN: u8 = 1;
/// Failed, closed or deleted: memory only.
const NONE: u8 = 2;

/// The IndexedDB cache of a page's feed, opened in the background.
pub struct Persist {
    db: RefCell<Option<IdbDatabase>>,
    state: Cell<u8>,
    /// Loads asked for before the database was open: key and callback.
    waiting: RefCell<Vec<(JsValue, Function)>>,
    /// Records to write at the next flush: key, record, documents.
    dirty: RefCell<Vec<(JsValue, JsValue, f64)>>,
    /// What is stored: key, when written, documents (the `USED` store, in memory).
    used: RefCell<Vec<(JsValue, f64, f64)>>,
    timer: RefCell<Option<JsValue>>,
}

/// `globalThis.indexedDB`, where there is one.
pub fn indexed_db() -> Option<IdbFactory> {
    get(&crate::js::global(), "indexedDB").dyn_into().ok()
}

impl Persist {
    /// Opens the database in the background.
    pub fn open() -> alloc::rc::Rc<Self> {
        let this = alloc::rc::Rc::new(Self {
            db: RefCell::new(None),
            state: Cell::new(OPENING),
            waiting: RefCell::new(Vec::new()),
            dirty: RefCell::new(Vec::new()),
            used: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
        });
        let Some(request) = indexed_db().and_then(|f| f.open_with_u32(DB_NAME, VERSION).ok()) else {
            this.fail(true);
            return this;
        };
        let req = request.clone();
        let upgrade = callback(move |_| {
            if let Some(db) = result_db(&req) {
                for name in [VIEWS, USED] {
                    let _ = db.delete_object_store(name);
                    let _ = db.create_object_store_with_optional_parameters(name, &IdbObjectStoreParameters::new());
                }
            }
        });
        request.set_onupgradeneeded(Some(&upgrade));
        let me = this.clone();
        let req: IdbOpenDbRequest = request.clone();
        let opened = callback(move |_| me.opened(result_db(&req)));
        request.set_onsuccess(Some(&opened));
        let me = this.clone();
        let failed = callback(move |_| me.fail(true));
        request.set_onerror(Some(&failed));
        request.set_onblocked(Some(&failed));
        this
    }

    fn opened(self: &alloc::rc::Rc<Self>, db: Option<IdbDatabase>) {
        let Some(db) = db else { return self.fail(true) };
        if self.state.get() != OPENING {
            // Closed (terminate) while opening.
            return db.close();
        }
        // Another page deletes or upgrades the database: let it, and go on in memory.
        let me = self.clone();
        db.set_onversionchange(Some(&callback(move |_| me.fail(false))));
        // What is stored, for eviction.
        if let Ok(request) = db.transaction_with_str(USED).and_then(|tx| tx.object_store(USED)).and_then(|s| s.get_all()) {
            let me = self.clone();
            let req = request.clone();
            request.set_onsuccess(Some(&callback(move |_| {
                let mut used = me.used.borrow_mut();
                for entry in array(&req.result().unwrap_or(JsValue::UNDEFINED)).iter() {
                    let entry = array(&entry);
                    let key = entry.get(0);
                    if !used.iter().any(|(k, _, _)| *k == key) {
                        used.push((key, entry.get(1).as_f64().unwrap_or(0.0), entry.get(2).as_f64().unwrap_or(0.0)));
                    }
                }
            })));
        }
        *self.db.borrow_mut() = Some(db);
        self.state.set(OPEN);
        for (key, on_loaded) in core::mem::take(&mut *self.waiting.borrow_mut()) {
            self.load(&key, on_loaded);
        }
        self.flush();
    }

    /// No database from now on: loads answer `undefined`, writes are dropped.
    fn fail(&self, warn: bool) {
        if warn && self.state.get() == OPENING {
            console("warn", &"hookfeed: IndexedDB is unavailable; documents are kept in memory only".into());
        }
        self.state.set(NONE);
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        self.dirty.borrow_mut().clear();
        for (_, on_loaded) in core::mem::take(&mut *self.waiting.borrow_mut()) {
            let _ = on_loaded.call0(&JsValue::NULL);
        }
    }

    /// Calls `on_loaded` with the cached `{seq, docs}` under `key`, or `undefined`.
    pub fn load(&self, key: &JsValue, on_loaded: Function) {
        match self.state.get() {
            OPENING => return self.waiting.borrow_mut().push((key.clone(), on_loaded)),
            NONE => return drop(on_loaded.call0(&JsValue::NULL)),
            _ => {}
        }
        let request = self
            .db
            .borrow()
            .as_ref()
            .ok_or(JsValue::NULL)
            .and_then(|db| db.transaction_with_str(VIEWS))
            .and_then(|tx| tx.object_store(VIEWS))
            .and_then(|store| store.get(key));
        let Ok(request) = request else { return drop(on_loaded.call0(&JsValue::NULL)) };
        let req = request.clone();
        let done = callback(move |_| {
            let _ = on_loaded.call1(&JsValue::NULL, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        request.set_onsuccess(Some(&done));
        request.set_onerror(Some(&done));
    }

    /// Stores `record` (of `docs` documents) under `key` with the next batch.
    pub fn save(self: &alloc::rc::Rc<Self>, key: JsValue, record: JsValue, docs: f64) {
        if self.state.get() == NONE {
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

    /// Writes the batch in one transaction, then evicts past the bounds.
    pub fn flush(&self) {
        if let Some(timer) = self.timer.borrow_mut().take() {
            clear_timer("clearTimeout", &timer);
        }
        let Some(db) = self.db.borrow().clone() else { return };
        let dirty = core::mem::take(&mut *self.dirty.borrow_mut());
        if dirty.is_empty() {
            return;
        }
        let stores = Array::of2(&VIEWS.into(), &USED.into());
        let Ok(tx) = db.transaction_with_str_sequence_and_mode(&stores, IdbTransactionMode::Readwrite) else { return };
        let (Ok(views), Ok(used_store)) = (tx.object_store(VIEWS), tx.object_store(USED)) else { return };
        let now = js_sys::Date::now();
        let mut used = self.used.borrow_mut();
        for (key, record, docs) in dirty {
            let _ = views.put_with_key(&record, &key);
            let _ = used_store.put_with_key(&Array::of3(&key, &now.into(), &docs.into()), &key);
            used.retain(|(k, _, _)| *k != key);
            used.push((key, now, docs));
        }
        // Least recently written first, until within both bounds (the newest view stays).
        while used.len() > 1
            && (used.len() > MAX_VIEWS || used.iter().map(|(_, _, n)| n).sum::<f64>() > MAX_DOCS)
        {
            let mut oldest = 0;
            for (i, (_, at, _)) in used.iter().enumerate() {
                if *at < used[oldest].1 {
                    oldest = i;
                }
            }
            let (key, _, _) = used.remove(oldest);
            let _ = views.delete(&key);
            let _ = used_store.delete(&key);
        }
    }

    /// Writes what is pending and closes the database (terminate).
    pub fn close(&self) {
        self.flush();
        self.fail(false);
    }
}

fn result_db(request: &IdbOpenDbRequest) -> Option<IdbDatabase> {
    request.result().ok()?.dyn_into().ok()
}

/// Deletes the database (clearIndexedDbPersistence): calls `done` with the request's
/// event type, `"success"` or `"error"` (nothing without IndexedDB: nothing to delete).
pub fn delete(done: Function) {
    let Some(request) = indexed_db().and_then(|f| f.delete_database(DB_NAME).ok()) else {
        return drop(done.call0(&JsValue::NULL));
    };
    let finished = callback(move |event| {
        let _ = done.call1(&JsValue::NULL, &get(&event, "type"));
    });
    request.set_onsuccess(Some(&finished));
    request.set_onerror(Some(&finished));
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

/// Removes the claims that change with every token of one reader (its times).
pub fn without_times(claims: &JsValue) {
    for name in ["exp", "iat", "nbf", "jti", "auth_time"] {
        let _ = Reflect::delete_property(claims.unchecked_ref::<Object>(), &name.into());
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
        assert_eq!(js_sys::JSON::stringify(&claims).ok().and_then(|s| s.as_string()).as_deref(), Some(r#"{"sub":"a","scopes":["*"]}"#));
    }
}
