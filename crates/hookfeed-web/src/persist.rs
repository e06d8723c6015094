//! The last known documents of each listen, in IndexedDB, so a reload shows them at once
//! (as `fromCache`) before the socket is up. Best effort: any IndexedDB failure just
//! means no cache.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::client::callback;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbOpenDbRequest, IdbTransactionMode};

const DB_NAME: &str = "hookfeed";
const STORE: &str = "views";

/// An IndexedDB database of cached views, opened lazily.
#[derive(Default)]
pub struct Persist {
    db: RefCell<Option<IdbDatabase>>,
    /// Loads asked for before the database was open.
    waiting: RefCell<Vec<(String, Function)>>,
    /// Saves made before the database was open: the latest per key.
    unsaved: RefCell<Vec<(String, JsValue)>>,
    opening: RefCell<bool>,
}

fn indexed_db() -> Option<web_sys::IdbFactory> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB")).ok()?.dyn_into().ok()
}

impl Persist {
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
            for (key, on_loaded) in waiting {
                this.load(&key, on_loaded);
            }
            let unsaved: Vec<_> = this.unsaved.borrow_mut().drain(..).collect();
            for (key, value) in unsaved {
                this.save(&key, &value);
            }
        });
        request.set_onsuccess(Some(&opened));
    }

    /// Calls `callback` with the cached `{seq, docs}` for `key`, or `undefined`.
    pub fn load(self: &Rc<Self>, key: &str, on_loaded: Function) {
        let Some(db) = self.db.borrow().clone() else {
            if *self.opening.borrow() {
                self.waiting.borrow_mut().push((key.to_owned(), on_loaded));
            }
            return;
        };
        let request = db
            .transaction_with_str(STORE)
            .and_then(|tx| tx.object_store(STORE))
            .and_then(|store| store.get(&JsValue::from_str(key)));
        let Ok(request) = request else { return };
        let req = request.clone();
        let done = crate::client::callback(move |_| {
            let _ = on_loaded.call1(&JsValue::NULL, &req.result().unwrap_or(JsValue::UNDEFINED));
        });
        request.set_onsuccess(Some(&done));
    }

    /// Stores `{seq, docs}` for `key`.
    pub fn save(&self, key: &str, value: &JsValue) {
        let Some(db) = self.db.borrow().clone() else {
            if *self.opening.borrow() {
                let mut unsaved = self.unsaved.borrow_mut();
                unsaved.retain(|(k, _)| k != key);
                unsaved.push((key.to_owned(), value.clone()));
            }
            return;
        };
        let _ = db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
            .and_then(|tx| tx.object_store(STORE))
            .and_then(|store| store.put_with_key(value, &JsValue::from_str(key)));
    }
}
