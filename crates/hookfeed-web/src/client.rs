//! The shared connection: one WebSocket per feed for every listener of the page, with
//! reconnect (backoff and jitter), resume by `since`, `fromCache` while offline, token
//! refresh, and the registry of listeners, whose views it keeps in the IndexedDB cache.

use alloc::borrow::ToOwned;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use js_sys::{Array, Function, Promise, JSON};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

use crate::doc::JsDoc;
use crate::frames::{self, Kind, ServerFrame};
use crate::js::{callback, clear_timer, console_error, firestore_error, get, global_fn, set_timeout};
use crate::persist::{self, Persist};
use crate::view::{View, ViewChange};
use hookfeed_wire::backoff::Backoff;
use hookfeed_wire::{ErrorCode, SUBPROTOCOL};

/// Keep-alive interval: the feed's runtime answers "ping" without waking the object.
const PING_EVERY_MS: i32 = 30_000;

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

/// A Rust closure the socket or a timer calls, kept alive while it may be called.
type Handler = Closure<dyn FnMut(JsValue)>;

#[derive(Default)]
struct Handlers {
    _open: Option<Handler>,
    _message: Option<Handler>,
    _close: Option<Handler>,
}

/// The feed connection shared by a page's listeners.
pub struct Client {
    url: String,
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
    ping: RefCell<Option<Handler>>,
    me: RefCell<Weak<Client>>,
}

/// `http://host` → `://host`, `https://host` → `s://host`.
fn ws_tail(url: &str) -> &str {
    url.strip_prefix("http").unwrap_or(url)
}

/// The expiry (Unix seconds) a token claims, if readable.
fn token_expiry(token: &str) -> Option<f64> {
    let (_, _, claims, _) = hookfeed_wire::token::parts(token)?;
    // base64url → base64; atob decodes it without the padding (forgiving-base64).
    let b64 = claims.replace('-', "+").replace('_', "/");
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
        let mut base = url;
        while let Some(shorter) = base.strip_suffix('/') {
            base = shorter;
        }
        ws_url.push_str(ws_tail(base));
        ws_url.push_str("/feed");
        if let Some(t) = &tenant {
            ws_url.push_str("?tenant=");
            ws_url.push_str(&String::from(js_sys::encode_uri_component(t)));
        }
        let persist = persistence.then(|| {
            let p = Rc::new(Persist::new(tenant.as_deref()));
            p.open();
            p
        });
        let client = Rc::new(Self {
            url: ws_url,
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
        let target = listener.target.clone();
        self.listeners.borrow_mut().push((id, listener));
        if let Some(persist) = &self.persist {
            let callback = self.once(move |client, cached| client.on_cached(id, cached));
            persist.load(&target, callback);
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
            self.send(&frames::unlisten(id));
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
        let Some(frame) = self.with_listener(id, |l| frames::listen(id, &l.target, l.view.seq)) else {
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
                None => console_error(&error),
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
        let on_open = Handler::new(move |_| {
            if let Some(client) = me.upgrade() {
                client.on_open();
            }
        });
        let me = self.me();
        let on_message = Handler::new(move |event: JsValue| {
            if let (Some(client), Some(text)) = (me.upgrade(), get(&event, "data").as_string()) {
                client.on_message(&text);
            }
        });
        let me = self.me();
        let on_close = Handler::new(move |_| {
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
        let ping = Handler::new(move |_| {
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
        let changes = self.with_listener(id, |l| {
            if l.view.synced {
                return None;
            }
            let (seq, docs) = persist::read_record(&cached)?;
            l.from_cache = true;
            Some(l.view.load_cached(seq, docs))
        });
        if let Some(Some(changes)) = changes {
            self.emit(id, &changes);
        }
    }

    fn on_message(&self, text: &str) {
        let Some((id, kind, frame)) = frames::read(text) else { return };
        match kind {
            Kind::Snapshot => self.on_snapshot(id, &frame),
            Kind::Change => self.on_change(id, &frame),
            Kind::Error => self.on_error(id, &frame),
        }
    }

    fn on_snapshot(&self, id: u32, frame: &ServerFrame) {
        let changes = self.with_listener(id, |l| {
            let changes = l.view.apply_snapshot(frame.seq, frame.docs(), &frame.removed(), frame.is_delta());
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

    fn on_change(&self, id: u32, frame: &ServerFrame) {
        let changes = self.with_listener(id, |l| {
            let Some((path, kind, data)) = frame.change() else { return Vec::new() };
            l.view.apply_change(frame.seq, &path, kind, data)
        });
        if let Some(changes) = changes.filter(|c| !c.is_empty()) {
            self.save(id);
            self.emit(id, &changes);
        }
    }

    fn on_error(&self, id: u32, frame: &ServerFrame) {
        let code = frame.code();
        if code == ErrorCode::Unauthenticated.as_str() && self.get_token.is_some() {
            self.refresh_token();
            return;
        }
        // As in Firestore, a listener that errors is over.
        let Some(listener) = self.remove_listener(id) else { return };
        let error = firestore_error(&code, &frame.message());
        match &listener.on_error {
            Some(on_error) => drop(on_error.call1(&JsValue::NULL, &error)),
            None => console_error(&error),
        }
    }

    fn save(&self, id: u32) {
        let Some(persist) = &self.persist else { return };
        let Some((target, value)) =
            self.with_listener(id, |l| (l.target.clone(), persist::record(l.view.seq, l.view.docs())))
        else {
            return;
        };
        persist.save(&target, &value);
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
            console_error(&error);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Runs in headless Chromium (`wasm-bindgen-test`): what needs real JS values.
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn token_expiry_is_read_from_the_claims() {
        // {"tenant":"demo","scopes":["*"],"exp":1700000000}, base64url without padding.
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIiwic2NvcGVzIjpbIioiXSwiZXhwIjoxNzAwMDAwMDAwfQ.sig";
        assert_eq!(token_expiry(token), Some(1_700_000_000.0));
        assert_eq!(token_expiry("garbage"), None);
    }
}
