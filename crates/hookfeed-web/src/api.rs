//! The JavaScript API: Firestore's listener functions and snapshot classes.
//!
//! Rust names inside, JavaScript names at the boundary (`on_snapshot` → `onSnapshot`).
//! References (`doc`, `collection`, `query`) are plain JS objects, as inspectable as
//! Firestore's; snapshots are classes with Firestore's methods.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use js_sys::{Array, Function, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::client::{Client, Listener, Shape};
use crate::doc::JsDoc;
use crate::js::{array, callback, firestore_error, get, set};
use crate::view::{ChangeKind, Order, View, ViewChange};
use hookfeed_wire::names as wire;

const FAILED_PRECONDITION: &str = "failed-precondition";

fn invalid(message: &str) -> JsValue {
    firestore_error(hookfeed_wire::ErrorCode::InvalidArgument.as_str(), message)
}

/// A connection to one hookfeed edge: what Firestore calls `db`. References carry it,
/// and listens reach their client through it.
#[wasm_bindgen]
pub struct Feed {
    client: Rc<Client>,
}

#[wasm_bindgen]
impl Feed {
    /// Always `"feed"`.
    #[wasm_bindgen(getter = type)]
    pub fn kind(&self) -> String {
        "feed".to_owned()
    }

    /// Internal: registers a listener on this feed (`onSnapshot`, `getDoc` and `getDocs`
    /// come here through the reference's `firestore`).
    #[wasm_bindgen(js_name = _listen)]
    pub fn listen(
        &self,
        reference: JsValue,
        include_metadata: bool,
        on_next: Function,
        on_error: Option<Function>,
        once: bool,
    ) -> Result<Function, JsValue> {
        if self.client.terminated.get() {
            return Err(firestore_error(FAILED_PRECONDITION, "The client has already been terminated."));
        }
        listen(&self.client, &reference, Observer { include_metadata, on_next, on_error, once })
    }

    /// Replaces the subscriber token (for example after your backend minted a fresh one)
    /// and reconnects with it.
    #[wasm_bindgen(js_name = updateToken)]
    pub fn update_token(&self, token: String) {
        self.client.update_token(token);
    }
}

/// `initializeFeed({ url, token, tenant?, getToken?, persistence? })`.
#[wasm_bindgen(js_name = initializeFeed)]
pub fn initialize_feed(options: JsValue) -> Result<JsValue, JsValue> {
    let url = get(&options, "url")
        .as_string()
        .ok_or_else(|| invalid("initializeFeed needs { url }: the edge's https:// URL"))?;
    let token = get(&options, "token").as_string().unwrap_or_default();
    let get_token = get(&options, "getToken").dyn_into::<Function>().ok();
    if token.is_empty() && get_token.is_none() {
        return Err(invalid("initializeFeed needs { token } (a subscriber token from your backend) or { getToken }"));
    }
    let tenant = get(&options, "tenant").as_string();
    let persistence = get(&options, "persistence").as_bool().unwrap_or(true);
    Ok(Feed { client: Client::new(&url, token, tenant, get_token, persistence) }.into())
}

fn reference(kind: &str, firestore: &JsValue, path: &str, id: &str) -> JsValue {
    let r: JsValue = Object::new().into();
    set(&r, "type", &kind.into());
    set(&r, "firestore", firestore);
    set(&r, "path", &path.into());
    set(&r, "id", &id.into());
    r
}

/// The feed's rules for a collection name (hookfeed-wire's), checked where the path is
/// written rather than later through a listener's error callback.
fn check_collection(name: &str) -> Result<(), JsValue> {
    if hookfeed_wire::path::is_collection(name) {
        Ok(())
    } else {
        Err(invalid("a collection name is 1-64 of A-Z a-z 0-9 _ -"))
    }
}

/// The feed's rules for a document id.
fn check_id(id: &str) -> Result<(), JsValue> {
    if hookfeed_wire::path::is_document_id(id) {
        Ok(())
    } else {
        Err(invalid("a document id is 1-256 bytes, not `.` or `..`, without `/` or control characters"))
    }
}

/// `doc(db, "projects", id)`, `doc(db, "projects/42")` or `doc(collectionRef, id)`.
#[wasm_bindgen]
pub fn doc(parent: JsValue, segments: Array) -> Result<JsValue, JsValue> {
    let (firestore, mut parts) = match get(&parent, "type").as_string().as_deref() {
        Some("feed") => (parent.clone(), Vec::new()),
        Some("collection") => (get(&parent, "firestore"), vec![get(&parent, "path").as_string().unwrap_or_default()]),
        _ => return Err(invalid("doc() takes the feed or a collection reference first")),
    };
    for segment in segments.iter() {
        let segment = segment.as_string().ok_or_else(|| invalid("path segments are strings"))?;
        parts.extend(segment.split('/').map(str::to_owned));
    }
    let [collection, id] = parts.as_slice() else {
        return Err(invalid("a document path has two segments, like doc(db, \"projects\", \"42\")"));
    };
    check_collection(collection)?;
    check_id(id)?;
    let mut path = collection.clone();
    path.push('/');
    path.push_str(id);
    let r = reference("document", &firestore, &path, id);
    set(&r, "parent", &reference("collection", &firestore, collection, collection));
    Ok(r)
}

/// `collection(db, "projects")`.
#[wasm_bindgen]
pub fn collection(parent: JsValue, segments: Array) -> Result<JsValue, JsValue> {
    if get(&parent, "type").as_string().as_deref() != Some("feed") {
        return Err(invalid("collection() takes the feed first"));
    }
    if segments.length() != 1 {
        return Err(invalid("collection() takes one collection name, like collection(db, \"projects\")"));
    }
    let path = segments.get(0).as_string().unwrap_or_default();
    check_collection(&path)?;
    Ok(reference("collection", &parent, &path, &path))
}

/// `where(field, op, value)`.
#[wasm_bindgen(js_name = where)]
pub fn where_(field: String, op: String, value: JsValue) -> Result<JsValue, JsValue> {
    if !wire::FILTER_OPS.contains(&op.as_str()) {
        return Err(invalid(
            "invalid where() operator: use ==, !=, <, <=, >, >=, in, not-in, array-contains or array-contains-any",
        ));
    }
    let c: JsValue = Object::new().into();
    set(&c, "type", &"where".into());
    set(&c, wire::FIELD, &field.into());
    set(&c, wire::OP, &op.into());
    set(&c, wire::VALUE, &value);
    Ok(c)
}

/// `orderBy(field, "asc" | "desc")`.
#[wasm_bindgen(js_name = orderBy)]
pub fn order_by(field: String, direction: Option<String>) -> Result<JsValue, JsValue> {
    let direction = direction.unwrap_or_else(|| "asc".to_owned());
    if direction != "asc" && direction != wire::DESC {
        return Err(invalid("orderBy() direction is \"asc\" or \"desc\""));
    }
    let c: JsValue = Object::new().into();
    set(&c, "type", &"orderBy".into());
    set(&c, wire::FIELD, &field.into());
    set(&c, wire::DIRECTION, &direction.into());
    Ok(c)
}

/// `limit(n)`.
#[wasm_bindgen]
pub fn limit(n: u32) -> JsValue {
    let c: JsValue = Object::new().into();
    set(&c, "type", &"limit".into());
    set(&c, wire::LIMIT, &n.into());
    c
}

/// `query(collectionRef, ...constraints)`.
#[wasm_bindgen]
pub fn query(base: JsValue, constraints: Array) -> Result<JsValue, JsValue> {
    let kind = get(&base, "type").as_string();
    if kind.as_deref() != Some("collection") && kind.as_deref() != Some("query") {
        return Err(invalid("query() takes a collection reference or a query first"));
    }
    let q: JsValue = Object::new().into();
    set(&q, "type", &"query".into());
    set(&q, "firestore", &get(&base, "firestore"));
    set(&q, "path", &get(&base, "path"));
    let copy = |name: &str| -> Array {
        let existing = get(&base, name);
        array(&existing).slice(0, u32::MAX)
    };
    let (filters, orders) = (copy(wire::WHERE), copy(wire::ORDER_BY));
    let mut limit = get(&base, wire::LIMIT);
    for c in constraints.iter() {
        match get(&c, "type").as_string().as_deref() {
            Some("where") => drop(filters.push(&c)),
            Some("orderBy") => drop(orders.push(&c)),
            Some("limit") => limit = get(&c, wire::LIMIT),
            _ => return Err(invalid("query() constraints come from where(), orderBy() and limit()")),
        }
    }
    set(&q, wire::WHERE, &filters);
    set(&q, wire::ORDER_BY, &orders);
    set(&q, wire::LIMIT, &limit);
    Ok(q)
}

/// The wire target of a reference or query, and its shape.
fn target_of(reference: &JsValue) -> Result<(String, Shape, Vec<Order>, Option<usize>), JsValue> {
    let path = get(reference, "path").as_string().unwrap_or_default();
    let target: JsValue = Object::new().into();
    let strip = |c: &JsValue, keys: &[&str]| -> JsValue {
        let o: JsValue = Object::new().into();
        for k in keys {
            set(&o, k, &get(c, k));
        }
        o
    };
    let (shape, order, limit) = match get(reference, "type").as_string().as_deref() {
        Some("document") => {
            set(&target, wire::DOC, &path.clone().into());
            (Shape::Document { path }, Vec::new(), None)
        }
        Some("collection") => {
            set(&target, wire::COLLECTION, &path.into());
            (Shape::Query, Vec::new(), None)
        }
        Some("query") => {
            set(&target, wire::COLLECTION, &path.into());
            let filters: Array = array(&get(reference, wire::WHERE))
                .iter()
                .map(|c| strip(&c, &[wire::FIELD, wire::OP, wire::VALUE]))
                .collect();
            let orders = array(&get(reference, wire::ORDER_BY));
            let order: Vec<Order> = orders
                .iter()
                .map(|o| Order {
                    field: get(&o, wire::FIELD).as_string().unwrap_or_default(),
                    descending: get(&o, wire::DIRECTION).as_string().as_deref() == Some(wire::DESC),
                })
                .collect();
            let limit = get(reference, wire::LIMIT).as_f64().map(|l| l as usize);
            if filters.length() > 0 {
                set(&target, wire::WHERE, &filters);
            }
            if orders.length() > 0 {
                let wire_orders: Array = orders.iter().map(|o| strip(&o, &[wire::FIELD, wire::DIRECTION])).collect();
                set(&target, wire::ORDER_BY, &wire_orders);
            }
            if let Some(l) = limit {
                set(&target, wire::LIMIT, &JsValue::from_f64(l as f64));
            }
            (Shape::Query, order, limit)
        }
        _ => return Err(invalid("onSnapshot() takes a reference from doc(), collection() or query()")),
    };
    let text = JSON::stringify(&target)?.as_string().unwrap_or_default();
    Ok((text, shape, order, limit))
}

/// A deep copy of JSON data (documents are JSON: the copy is exact).
fn copy(value: &JsValue) -> JsValue {
    if !value.is_object() {
        return value.clone();
    }
    JSON::stringify(value).and_then(|text| JSON::parse(&String::from(text))).unwrap_or(JsValue::UNDEFINED)
}

/// `snapshot.metadata`.
fn metadata(from_cache: bool) -> JsValue {
    let m: JsValue = Object::new().into();
    set(&m, "fromCache", &from_cache.into());
    set(&m, "hasPendingWrites", &false.into());
    m
}

/// A document as of a snapshot: Firestore's DocumentSnapshot (and QueryDocumentSnapshot).
#[wasm_bindgen]
pub struct DocumentSnapshot {
    id: String,
    data: JsValue,
    reference: JsValue,
    from_cache: bool,
}

#[wasm_bindgen]
impl DocumentSnapshot {
    /// The document's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// Its reference.
    #[wasm_bindgen(getter = ref)]
    pub fn reference(&self) -> JsValue {
        self.reference.clone()
    }

    /// Whether the document exists.
    pub fn exists(&self) -> bool {
        !self.data.is_undefined()
    }

    /// Its fields, or `undefined` when it does not exist: a copy of its own, as Firestore's.
    pub fn data(&self) -> JsValue {
        copy(&self.data)
    }

    /// One field, by dotted path (a copy).
    pub fn get(&self, field: &str) -> JsValue {
        copy(
            &field
                .split('.')
                .fold(self.data.clone(), |v, k| if v.is_object() { get(&v, k) } else { JsValue::UNDEFINED }),
        )
    }

    /// `{ fromCache, hasPendingWrites }`.
    #[wasm_bindgen(getter)]
    pub fn metadata(&self) -> JsValue {
        metadata(self.from_cache)
    }
}

/// One entry of `docChanges()`.
#[wasm_bindgen]
pub struct DocumentChange {
    kind: ChangeKind,
    doc: JsValue,
    old_index: i32,
    new_index: i32,
}

#[wasm_bindgen]
impl DocumentChange {
    /// `"added"`, `"modified"` or `"removed"`.
    #[wasm_bindgen(getter = type)]
    pub fn kind(&self) -> String {
        self.kind.as_str().to_owned()
    }

    /// The document.
    #[wasm_bindgen(getter)]
    pub fn doc(&self) -> JsValue {
        self.doc.clone()
    }

    /// Its index before the change, or -1.
    #[wasm_bindgen(getter = oldIndex)]
    pub fn old_index(&self) -> i32 {
        self.old_index
    }

    /// Its index after the change, or -1.
    #[wasm_bindgen(getter = newIndex)]
    pub fn new_index(&self) -> i32 {
        self.new_index
    }
}

/// The results of a query: Firestore's QuerySnapshot.
#[wasm_bindgen]
pub struct QuerySnapshot {
    docs: Array,
    changes: Array,
    query: JsValue,
    from_cache: bool,
}

#[wasm_bindgen]
impl QuerySnapshot {
    /// The documents, in query order.
    #[wasm_bindgen(getter)]
    pub fn docs(&self) -> Array {
        self.docs.slice(0, u32::MAX)
    }

    /// How many documents.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.docs.length()
    }

    /// Whether there are none.
    #[wasm_bindgen(getter)]
    pub fn empty(&self) -> bool {
        self.docs.length() == 0
    }

    /// The query.
    #[wasm_bindgen(getter)]
    pub fn query(&self) -> JsValue {
        self.query.clone()
    }

    /// `{ fromCache, hasPendingWrites }`.
    #[wasm_bindgen(getter)]
    pub fn metadata(&self) -> JsValue {
        metadata(self.from_cache)
    }

    /// Calls `callback` with each document.
    #[wasm_bindgen(js_name = forEach)]
    pub fn for_each(&self, callback: &Function) -> Result<(), JsValue> {
        for doc in self.docs.iter() {
            callback.call1(&JsValue::NULL, &doc)?;
        }
        Ok(())
    }

    /// What changed since the previous snapshot (everything, the first time).
    #[wasm_bindgen(js_name = docChanges)]
    pub fn doc_changes(&self) -> Array {
        self.changes.slice(0, u32::MAX)
    }
}

/// A document path's collection and id (`collection/id`: ids have no `/`).
fn split_path(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or(("", path))
}

fn doc_ref(query: &JsValue, path: &str) -> JsValue {
    let (collection, id) = split_path(path);
    let firestore = get(query, "firestore");
    let r = reference("document", &firestore, path, id);
    set(&r, "parent", &reference("collection", &firestore, collection, collection));
    r
}

fn build_document(l: &Listener, _changes: &[ViewChange<JsDoc>]) -> JsValue {
    let path = match &l.shape {
        Shape::Document { path } => path.as_str(),
        Shape::Query => "",
    };
    let data = l.view.docs().iter().find(|(p, _)| p == path).map_or(JsValue::UNDEFINED, |(_, d)| d.0.clone());
    DocumentSnapshot {
        id: split_path(path).1.to_owned(),
        data,
        reference: l.reference.clone(),
        from_cache: l.from_cache,
    }
    .into()
}

fn build_query(l: &Listener, changes: &[ViewChange<JsDoc>]) -> JsValue {
    let snapshot = |path: &str, data: &JsValue| -> JsValue {
        DocumentSnapshot {
            id: split_path(path).1.to_owned(),
            data: data.clone(),
            reference: doc_ref(&l.reference, path),
            from_cache: l.from_cache,
        }
        .into()
    };
    let docs: Array = l.view.docs().iter().map(|(p, d)| snapshot(p, &d.0)).collect();
    let changes: Array = changes
        .iter()
        .map(|c| -> JsValue {
            DocumentChange {
                kind: c.kind,
                doc: snapshot(&c.path, &c.data.0),
                old_index: c.old_index,
                new_index: c.new_index,
            }
            .into()
        })
        .collect();
    QuerySnapshot { docs, changes, query: l.reference.clone(), from_cache: l.from_cache }.into()
}

/// Who a listener calls and how: what `onSnapshot`, `getDoc` and `getDocs` ask of
/// [`Feed::listen`].
struct Observer {
    /// Also call `on_next` when only the snapshot's metadata changed.
    include_metadata: bool,
    on_next: Function,
    on_error: Option<Function>,
    /// Call once, then unsubscribe (`getDoc`, `getDocs`).
    once: bool,
}

/// Registers a listener with the feed of `reference` (through its `_listen`, as the
/// reference holds the feed only as a JavaScript object); returns its unsubscribe function.
fn subscribe(reference: &JsValue, observer: Observer) -> Result<Function, JsValue> {
    let feed = get(reference, "firestore");
    let listen = get(&feed, "_listen")
        .dyn_into::<Function>()
        .map_err(|_| invalid("expected a reference made by doc(), collection() or query() of an initialized feed"))?;
    let Observer { include_metadata, on_next, on_error, once } = observer;
    let on_error = on_error.map_or(JsValue::UNDEFINED, JsValue::from);
    let args = Array::of5(reference, &include_metadata.into(), &on_next, &on_error, &once.into());
    listen.apply(&feed, &args)?.dyn_into()
}

/// Registers a listener with `client`; returns its unsubscribe function.
fn listen(client: &Rc<Client>, reference: &JsValue, observer: Observer) -> Result<Function, JsValue> {
    let Observer { include_metadata, on_next, on_error, once } = observer;
    let (target, shape, order, limit) = target_of(reference)?;
    let build = match shape {
        Shape::Document { .. } => build_document as fn(&Listener, &[ViewChange<JsDoc>]) -> JsValue,
        Shape::Query => build_query,
    };
    let id = client.listen(Listener {
        target,
        shape,
        reference: reference.clone(),
        view: View::new(order, limit),
        include_metadata,
        from_cache: false,
        emitted: false,
        on_next,
        on_error,
        build,
        once,
        loaded: false,
        cached: false,
        offline: false,
    });
    let weak = Rc::downgrade(client);
    Ok(callback(move |_| {
        if let Some(client) = weak.upgrade() {
            client.unlisten(id);
        }
    }))
}

/// `onSnapshot(ref, [options], onNext | observer, [onError], [onCompletion])`.
#[wasm_bindgen(js_name = onSnapshot)]
pub fn on_snapshot(args: Array) -> Result<Function, JsValue> {
    let reference = args.get(0);
    let mut rest: Vec<JsValue> = args.iter().skip(1).collect();
    let mut include_metadata = false;
    if rest.first().is_some_and(|o| o.is_object() && !o.is_function() && get(o, "next").is_undefined()) {
        include_metadata = get(&rest.remove(0), "includeMetadataChanges").as_bool().unwrap_or(false);
    }
    let first = rest.first().cloned().unwrap_or(JsValue::UNDEFINED);
    let (on_next, on_error) = if let Ok(next) = first.clone().dyn_into::<Function>() {
        (next, rest.get(1).and_then(|e| e.clone().dyn_into::<Function>().ok()))
    } else if first.is_object() {
        // An observer: { next, error, complete }.
        let next = get(&first, "next").dyn_into::<Function>().map_err(|_| invalid("the observer has no next()"))?;
        let error = get(&first, "error").dyn_into::<Function>().ok();
        let this = first.clone();
        let bind = |f: Function| f.bind0(&this);
        (bind(next), error.map(bind))
    } else {
        return Err(invalid("onSnapshot() needs a callback or an observer"));
    };
    subscribe(&reference, Observer { include_metadata, on_next, on_error, once: false })
}

/// Resolves with the feed's snapshot; without the feed (offline, or no answer within
/// 10 s), with the cache's, or rejects with `unavailable` (a document never cached), as
/// Firestore's `getDoc` and `getDocs` do.
fn get_once(reference: JsValue) -> Promise {
    Promise::new(&mut |resolve: Function, reject: Function| {
        let observer =
            Observer { include_metadata: false, on_next: resolve, on_error: Some(reject.clone()), once: true };
        if let Err(e) = subscribe(&reference, observer) {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
    })
}

/// `getDoc(docRef)`: the document's current snapshot.
#[wasm_bindgen(js_name = getDoc)]
pub fn get_doc(reference: JsValue) -> Promise {
    get_once(reference)
}

/// `getDocs(query)`: the query's current results.
#[wasm_bindgen(js_name = getDocs)]
pub fn get_docs(query: JsValue) -> Promise {
    get_once(query)
}

/// `terminate(db)`: closes the socket, ends every listener without a callback, writes
/// pending cache records and closes the database. The feed is unusable afterwards.
#[wasm_bindgen]
pub fn terminate(db: &Feed) -> Promise {
    db.client.terminate();
    Promise::resolve(&JsValue::UNDEFINED)
}

/// `clearIndexedDbPersistence(db)`: deletes the module's IndexedDB cache, every user's.
/// As in Firestore, only before the feed is used or after `terminate(db)`
/// (`failed-precondition` otherwise).
#[wasm_bindgen(js_name = clearIndexedDbPersistence)]
pub fn clear_indexed_db_persistence(db: &Feed) -> Promise {
    if db.client.started.get() && !db.client.terminated.get() {
        let e = firestore_error(FAILED_PRECONDITION, "call terminate(db) before clearIndexedDbPersistence(db)");
        return Promise::reject(&e);
    }
    crate::persist::delete()
}
