//! The shared connection: one WebSocket per feed for every listener of the page, with
//! reconnect (backoff and jitter), resume by `since`, `fromCache` while offline, token
//! refresh, and the IndexedDB cache.

use alloc::borrow::ToOwned;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

use crate::persist::Persist;
use crate::view::{ChangeKind, DocData, Value, View, ViewChange};
use hookfeed_wire::backoff::Backoff;
use hookfeed_wire::names as wire;
use hookfeed_wire::{ErrorCode, SUBPROTOCOL};
/// Keep-alive interval: the feed's runtime answers "ping" without waking the object.
const PING_EVERY_MS: i32 = 30_000;

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// A JS function calling `f`, freed when the JS side drops it. Every callback in the module
/// has this one signature, so wasm-bindgen emits its closure glue once.
pub fn callback(f: impl FnMut(JsValue) + 'static) -> Function {
    Closure::<dyn FnMut(JsValue)>::new(f).into_js_value().unchecked_into()
}

/// Appends `n` in decimal (without pulling in `core::fmt` for it).
pub fn push_number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| d as char));
}

/// Appends `,"name":` to a frame being built.
fn push_key(frame: &mut String, name: &str) {
    frame.push_str(",\"");
    frame.push_str(name);
    frame.push_str("\":");
}

/// The start of a client frame: `{"type":"<kind>","id":<id>` (the caller closes it).
fn frame_of(kind: &str, id: u32) -> String {
    let mut frame = String::from("{\"");
    frame.push_str(wire::TYPE);
    frame.push_str("\":\"");
    frame.push_str(kind);
    frame.push('"');
    push_key(&mut frame, wire::ID);
    push_number(&mut frame, u64::from(id));
    frame
}

/// `value` as an array; an empty one when it is not (Array.from would throw on undefined).
pub fn array(value: &JsValue) -> Array {
    if Array::is_array(value) {
        value.clone().unchecked_into()
    } else {
        Array::new()
    }
}

fn global_fn(name: &str) -> Option<Function> {
    get(&js_sys::global(), name).dyn_into().ok()
}

/// `setTimeout(f, ms)` on whatever global this runs in (window or worker).
pub fn set_timeout(f: &Function, ms: f64) -> JsValue {
    global_fn("setTimeout")
        .and_then(|st| st.call2(&JsValue::NULL, f, &JsValue::from_f64(ms)).ok())
        .unwrap_or(JsValue::NULL)
}

fn clear_timer(name: &str, handle: &JsValue) {
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

/// What a listener watches, and how its snapshots look.
pub enum Shape {
    /// One document: callbacks get a DocumentSnapshot.
    Document {
        /// `collection/id`.
        path: String,
    },
    /// A query: callbacks get a QuerySnapshot.
    Query,
}

/// One `onSnapshot` registration.
pub struct Listener {
    /// The wire target, as JSON text.
    pub target: String,
    /// Document or query.
    pub shape: Shape,
    /// The reference or query the user passed, for `snapshot.ref` / `snapshot.query`.
    pub reference: JsValue,
    /// Merged documents.
    pub view: View<JsDoc>,
    /// `includeMetadataChanges`.
    pub include_metadata: bool,
    /// Whether the last emitted snapshot was from cache.
    pub from_cache: bool,
    /// Whether a snapshot was emitted yet.
    pub emitted: bool,
    /// `next` callback.
    pub on_next: Function,
    /// `error` callback.
    pub on_error: Option<Function>,
    /// Builds the JS snapshot object from the listener and its changes.
    pub build: fn(&Listener, &[ViewChange<JsDoc>]) -> JsValue,
}

#[derive(Default)]
struct Handlers {
    _open: Option<Closure<dyn FnMut(JsValue)>>,
    _message: Option<Closure<dyn FnMut(JsValue)>>,
    _close: Option<Closure<dyn FnMut(JsValue)>>,
}

/// The feed connection shared by a page's listeners.
pub struct Client {
    url: String,
    tenant: Option<String>,
    token: RefCell<String>,
    get_token: Option<Function>,
    persist: Option<Rc<Persist>>,
    ws: RefCell<Option<WebSocket>>,
    open: Cell<bool>,
    refreshing: Cell<bool>,
    retry_timer: RefCell<Option<JsValue>>,
    ping_timer: RefCell<Option<JsValue>>,
    backoff: RefCell<Backoff>,
    /// By id, in registration order (a Vec: pages hold a handful, and it is smaller than a map).
    listeners: RefCell<Vec<(u32, Listener)>>,
    next_id: Cell<u32>,
    handlers: RefCell<Handlers>,
    /// The keep-alive interval's callback, owned while the interval runs.
    ping: RefCell<Option<Closure<dyn FnMut(JsValue)>>>,
    me: RefCell<Weak<Client>>,
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

/// `http://host` → `://host`, `https://host` → `s://host`.
fn ws_tail(url: &str) -> &str {
    url.strip_prefix("http").unwrap_or(url)
}

/// The expiry (Unix seconds) a token claims, if readable.
fn token_expiry(token: &str) -> Option<f64> {
    let (_, claims, _) = hookfeed_wire::token::parts(token)?;
    let mut b64: String = claims
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while b64.len() % 4 != 0 {
        b64.push('=');
    }
    let json = global_fn("atob")?.call1(&JsValue::NULL, &JsValue::from_str(&b64)).ok()?;
    get(&JSON::parse(&json.as_string()?).ok()?, "exp").as_f64()
}

impl Client {
    /// A client for `url` (`http(s)://host`), not yet connected.
    pub fn new(
        url: &str,
        token: String,
        tenant: Option<String>,
        get_token: Option<Function>,
        persistence: bool,
    ) -> Rc<Self> {
        // http://host → ws://host, https://host → wss://host.
        let mut ws_url = String::from("ws");
        ws_url.push_str(ws_tail(url.trim_end_matches('/')));
        ws_url.push_str("/feed");
        if let Some(t) = &tenant {
            ws_url.push_str("?tenant=");
            ws_url.push_str(&String::from(js_sys::encode_uri_component(t)));
        }
        let persist = persistence.then(|| {
            let p = Rc::new(Persist::default());
            p.open();
            p
        });
        let client = Rc::new(Self {
            url: ws_url,
            tenant,
            token: RefCell::new(token),
            get_token,
            persist,
            ws: RefCell::new(None),
            open: Cell::new(false),
            refreshing: Cell::new(false),
            retry_timer: RefCell::new(None),
            ping_timer: RefCell::new(None),
            backoff: RefCell::new(Backoff::default()),
            listeners: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
            handlers: RefCell::new(Handlers::default()),
            ping: RefCell::new(None),
            me: RefCell::new(Weak::new()),
        });
        *client.me.borrow_mut() = Rc::downgrade(&client);
        client
    }

    fn me(&self) -> Weak<Client> {
        self.me.borrow().clone()
    }

    /// A one-shot JS callback calling `f` on the client while it lives. It frees itself
    /// when called (timers, IndexedDB reads, token promises).
    fn once(&self, f: impl FnOnce(&Rc<Client>, JsValue) + 'static) -> Function {
        let me = self.me();
        let mut f = Some(f);
        callback(move |value: JsValue| {
            if let (Some(f), Some(client)) = (f.take(), me.upgrade()) {
                f(&client, value);
            }
        })
    }

    fn cache_key(&self, target: &str) -> String {
        let mut key = String::from(self.tenant.as_deref().unwrap_or(""));
        key.push('|');
        key.push_str(target);
        key
    }

    /// Runs `f` on listener `id`, if it is still registered.
    fn with_listener<R>(&self, id: u32, f: impl FnOnce(&mut Listener) -> R) -> Option<R> {
        let mut listeners = self.listeners.borrow_mut();
        listeners.iter_mut().find(|(i, _)| *i == id).map(|(_, l)| f(l))
    }

    fn remove_listener(&self, id: u32) -> Option<Listener> {
        let mut listeners = self.listeners.borrow_mut();
        let at = listeners.iter().position(|(i, _)| *i == id)?;
        Some(listeners.remove(at).1)
    }

    fn listener_ids(&self) -> Vec<u32> {
        self.listeners.borrow().iter().map(|(id, _)| *id).collect()
    }

    /// Registers a listener; returns its id.
    pub fn listen(&self, listener: Listener) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let key = self.cache_key(&listener.target);
        self.listeners.borrow_mut().push((id, listener));
        if let Some(persist) = &self.persist {
            let callback = self.once(move |client, cached| client.on_cached(id, cached));
            persist.load(&key, callback);
        }
        if self.open.get() {
            self.send_listen(id);
        } else {
            self.connect();
        }
        id
    }

    /// Drops a listener and its callbacks; nothing fires for it afterwards.
    pub fn unlisten(&self, id: u32) {
        if self.remove_listener(id).is_none() {
            return;
        }
        if self.open.get() {
            let mut frame = frame_of(wire::UNLISTEN, id);
            frame.push('}');
            self.send(&frame);
        }
        if self.listeners.borrow().is_empty() {
            self.disconnect();
        }
    }

    /// Replaces the token (after a refresh) and reconnects with it.
    pub fn update_token(&self, token: String) {
        *self.token.borrow_mut() = token;
        self.disconnect();
        if !self.listeners.borrow().is_empty() {
            self.connect();
        }
    }

    fn send(&self, text: &str) {
        if let Some(ws) = self.ws.borrow().as_ref() {
            let _ = ws.send_with_str(text);
        }
    }

    fn send_listen(&self, id: u32) {
        let Some(frame) = self.with_listener(id, |l| {
            let mut frame = frame_of(wire::LISTEN, id);
            push_key(&mut frame, wire::TARGET);
            frame.push_str(&l.target);
            if l.view.seq > 0 {
                push_key(&mut frame, wire::SINCE);
                push_number(&mut frame, l.view.seq);
            }
            frame.push('}');
            frame
        }) else {
            return;
        };
        self.send(&frame);
    }

    fn token_expired(&self) -> bool {
        token_expiry(&self.token.borrow()).is_some_and(|exp| exp * 1000.0 <= js_sys::Date::now())
    }

    /// Asks `getToken` for a fresh token, or fails every listener with `unauthenticated`.
    fn refresh_token(&self) {
        let Some(get_token) = &self.get_token else {
            self.fail_all(
                ErrorCode::Unauthenticated.as_str(),
                "the subscriber token has expired: pass a fresh one to updateToken() or set getToken",
            );
            return;
        };
        if self.refreshing.replace(true) {
            return;
        }
        let on_token = self.once(|client, token| {
            client.refreshing.set(false);
            match token.as_string() {
                Some(token) => client.update_token(token),
                None => client.fail_all(ErrorCode::Unauthenticated.as_str(), "getToken() did not return a token"),
            }
        });
        let on_error = self.once(|client, error| {
            client.refreshing.set(false);
            let message = get(&error, "message").as_string().unwrap_or_else(|| "getToken() failed".to_owned());
            client.fail_all(ErrorCode::Unauthenticated.as_str(), &message);
        });
        match get_token.call0(&JsValue::NULL) {
            Ok(token) => {
                let promise = Promise::resolve(&token);
                if let Ok(then) = get(&promise, "then").dyn_into::<Function>() {
                    let _ = then.call2(&promise, &on_token, &on_error);
                }
            }
            Err(error) => drop(on_error.call1(&JsValue::NULL, &error)),
        }
    }

    fn fail_all(&self, code: &str, message: &str) {
        let failed: Vec<Listener> =
            core::mem::take(&mut *self.listeners.borrow_mut()).into_iter().map(|(_, l)| l).collect();
        self.disconnect();
        let error = firestore_error(code, message);
        for listener in failed {
            match &listener.on_error {
                Some(on_error) => drop(on_error.call1(&JsValue::NULL, &error)),
                None => web_sys_console_error(&error),
            }
        }
    }

    fn connect(&self) {
        if self.ws.borrow().is_some() || self.retry_timer.borrow().is_some() || self.refreshing.get() {
            return;
        }
        if self.token_expired() {
            self.refresh_token();
            return;
        }
        let protocols = Array::of2(&JsValue::from_str(SUBPROTOCOL), &JsValue::from_str(&self.token.borrow()));
        let Ok(ws) = WebSocket::new_with_str_sequence(&self.url, &protocols) else {
            self.schedule_reconnect();
            return;
        };
        let me = self.me();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(client) = me.upgrade() {
                client.on_open();
            }
        });
        let me = self.me();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let (Some(client), Some(text)) = (me.upgrade(), get(&event, "data").as_string()) {
                client.on_message(&text);
            }
        });
        let me = self.me();
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(client) = me.upgrade() {
                client.on_close();
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.handlers.borrow_mut() =
            Handlers { _open: Some(on_open), _message: Some(on_message), _close: Some(on_close) };
        *self.ws.borrow_mut() = Some(ws);
    }

    fn disconnect(&self) {
        if let Some(timer) = self.retry_timer.borrow_mut().take() {
            clear_timer("clearTimeout", &timer);
        }
        if let Some(timer) = self.ping_timer.borrow_mut().take() {
            clear_timer("clearInterval", &timer);
        }
        if let Some(ws) = self.ws.borrow_mut().take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            let _ = ws.close_with_code_and_reason(1000, "unsubscribed");
        }
        self.open.set(false);
    }

    fn on_open(&self) {
        self.open.set(true);
        self.backoff.borrow_mut().reset();
        let me = self.me();
        let ping = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(client) = me.upgrade() {
                client.send("ping");
            }
        });
        if let Some(set_interval) = global_fn("setInterval") {
            let handle = set_interval
                .call2(&JsValue::NULL, ping.as_ref(), &JsValue::from(PING_EVERY_MS))
                .unwrap_or(JsValue::NULL);
            *self.ping_timer.borrow_mut() = Some(handle);
        }
        *self.ping.borrow_mut() = Some(ping);
        for id in self.listener_ids() {
            self.send_listen(id);
        }
    }

    fn on_close(&self) {
        *self.ws.borrow_mut() = None;
        if let Some(timer) = self.ping_timer.borrow_mut().take() {
            clear_timer("clearInterval", &timer);
        }
        self.open.set(false);
        for id in self.listener_ids() {
            self.mark_from_cache(id);
        }
        if self.listeners.borrow().is_empty() {
            return;
        }
        if self.token_expired() {
            self.refresh_token();
        } else {
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(&self) {
        let delay = self.backoff.borrow_mut().next_delay_ms(js_sys::Math::random());
        let retry = self.once(|client, _| {
            client.retry_timer.borrow_mut().take();
            client.connect();
        });
        *self.retry_timer.borrow_mut() = Some(set_timeout(&retry, delay));
    }

    /// Offline: snapshots now come from cache. Reported only with includeMetadataChanges.
    fn mark_from_cache(&self, id: u32) {
        let emit = self.with_listener(id, |l| {
            if l.from_cache || !l.emitted {
                return false;
            }
            l.from_cache = true;
            l.include_metadata
        });
        if emit == Some(true) {
            self.emit(id, &[]);
        }
    }

    fn on_cached(&self, id: u32, cached: JsValue) {
        if !cached.is_object() {
            return;
        }
        let changes = self.with_listener(id, |l| {
            if l.view.synced {
                return None;
            }
            let seq = get(&cached, "seq").as_f64().unwrap_or(0.0) as u64;
            let docs = array(&get(&cached, "docs"))
                .iter()
                .filter_map(|pair| Some((array(&pair).get(0).as_string()?, JsDoc(array(&pair).get(1)))))
                .collect();
            l.from_cache = true;
            Some(l.view.load_cached(seq, docs))
        });
        if let Some(Some(changes)) = changes {
            self.emit(id, &changes);
        }
    }

    fn on_message(&self, text: &str) {
        let Ok(frame) = JSON::parse(text) else { return }; // "pong"
        let Some(id) = get(&frame, wire::ID).as_f64().map(|id| id as u32) else {
            web_sys_console_error(&frame);
            return;
        };
        match get(&frame, wire::TYPE).as_string().as_deref() {
            Some(wire::SNAPSHOT) => self.on_snapshot(id, &frame),
            Some(wire::CHANGE) => self.on_change(id, &frame),
            Some(wire::ERROR) => self.on_error(id, &frame),
            _ => {}
        }
    }

    fn on_snapshot(&self, id: u32, frame: &JsValue) {
        let changes = self.with_listener(id, |l| {
            let seq = get(frame, wire::SEQ).as_f64().unwrap_or(0.0) as u64;
            let docs = array(&get(frame, wire::DOCS))
                .iter()
                .filter_map(|d| Some((get(&d, wire::PATH).as_string()?, JsDoc(get(&d, wire::DATA)))))
                .collect();
            let removed: Vec<String> = array(&get(frame, wire::REMOVED)).iter().filter_map(|p| p.as_string()).collect();
            let delta = !get(frame, wire::SINCE).is_undefined();
            let changes = l.view.apply_snapshot(seq, docs, &removed, delta);
            let flipped = core::mem::replace(&mut l.from_cache, false);
            if changes.is_empty() && l.emitted && !(flipped && l.include_metadata) {
                None
            } else {
                Some(changes)
            }
        });
        self.save(id);
        if let Some(Some(changes)) = changes {
            self.emit(id, &changes);
        }
    }

    fn on_change(&self, id: u32, frame: &JsValue) {
        let changes = self.with_listener(id, |l| {
            let seq = get(frame, wire::SEQ).as_f64().unwrap_or(0.0) as u64;
            let (Some(path), Some(kind)) = (
                get(frame, wire::PATH).as_string(),
                get(frame, wire::KIND).as_string().as_deref().and_then(ChangeKind::parse),
            ) else {
                return Vec::new();
            };
            let data = get(frame, wire::DATA);
            l.view.apply_change(seq, &path, kind, (!data.is_undefined()).then_some(JsDoc(data)))
        });
        if let Some(changes) = changes.filter(|c| !c.is_empty()) {
            self.save(id);
            self.emit(id, &changes);
        }
    }

    fn on_error(&self, id: u32, frame: &JsValue) {
        let code = get(frame, wire::CODE).as_string().unwrap_or_else(|| "unknown".to_owned());
        if code == ErrorCode::Unauthenticated.as_str() && self.get_token.is_some() {
            self.refresh_token();
            return;
        }
        // As in Firestore, a listener that errors is over.
        let Some(listener) = self.remove_listener(id) else { return };
        let message = get(frame, wire::MESSAGE).as_string().unwrap_or_default();
        let error = firestore_error(&code, &message);
        match &listener.on_error {
            Some(on_error) => drop(on_error.call1(&JsValue::NULL, &error)),
            None => web_sys_console_error(&error),
        }
    }

    fn save(&self, id: u32) {
        let Some(persist) = &self.persist else { return };
        let Some((key, value)) = self.with_listener(id, |l| {
            let docs = Array::new();
            for (path, data) in l.view.docs() {
                docs.push(&Array::of2(&JsValue::from_str(path), &data.0));
            }
            let value = Object::new();
            set(&value, "seq", &JsValue::from_f64(l.view.seq as f64));
            set(&value, "docs", &docs);
            (l.target.clone(), value)
        }) else {
            return;
        };
        persist.save(&self.cache_key(&key), &value);
    }

    fn emit(&self, id: u32, changes: &[ViewChange<JsDoc>]) {
        let Some((snapshot, callback)) = self.with_listener(id, |l| {
            l.emitted = true;
            ((l.build)(l, changes), l.on_next.clone())
        }) else {
            return;
        };
        // Called with no borrow held: the callback may unsubscribe or listen again.
        if let Err(error) = callback.call1(&JsValue::NULL, &snapshot) {
            web_sys_console_error(&error);
        }
    }
}

fn web_sys_console_error(value: &JsValue) {
    if let Some(console) = get(&js_sys::global(), "console").dyn_ref::<Object>() {
        if let Ok(error) = get(console, "error").dyn_into::<Function>() {
            let _ = error.call1(console, value);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): what needs real JS values.
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    fn parse(json: &str) -> JsValue {
        JSON::parse(json).unwrap_or(JsValue::UNDEFINED)
    }

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
    fn errors_carry_firestore_codes() {
        let error = firestore_error("permission-denied", "no");
        assert_eq!(get(&error, "code").as_string().as_deref(), Some("permission-denied"));
        assert_eq!(get(&error, "name").as_string().as_deref(), Some("FirebaseError"));
        assert!(error.is_instance_of::<js_sys::Error>());
    }

    #[wasm_bindgen_test]
    fn token_expiry_is_read_from_the_claims() {
        // {"tenant":"demo","scopes":["*"],"exp":1700000000}, base64url without padding.
        let token = "hf1.eyJ0ZW5hbnQiOiJkZW1vIiwic2NvcGVzIjpbIioiXSwiZXhwIjoxNzAwMDAwMDAwfQ.sig";
        assert_eq!(token_expiry(token), Some(1_700_000_000.0));
        assert_eq!(token_expiry("garbage"), None);
    }

    #[wasm_bindgen_test]
    fn non_arrays_read_as_empty_arrays() {
        assert_eq!(array(&JsValue::UNDEFINED).length(), 0);
        assert_eq!(array(&parse("[1,2]")).length(), 2);
        assert_eq!(array(&parse(r#"{"length": 3}"#)).length(), 0);
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
