//! The shared connection: one WebSocket per feed for every listener of the page, with
//! reconnect (backoff and jitter), resume by `since`, `fromCache` while offline, token
//! refresh that heals, dead sockets noticed, one-shot reads (`getDoc`, `getDocs`) that
//! always settle, and the registry of listeners, whose views it keeps in the IndexedDB
//! cache of their reader.
//!
//! What ends a listener: a final error from the feed (`permission-denied`,
//! `invalid-argument`, …), or `unauthenticated` once [`MAX_TOKEN_TRIES`] tries of
//! `getToken` in a row have failed (rejected, not settled within [`TOKEN_WITHIN_MS`], or
//! answered an empty, unreadable or expired token). Everything else is transient: a closed
//! or dead socket, a hub's `unavailable`; the listener shows `fromCache` and listens again
//! with backoff.

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
use crate::js::{
    callback, clear_timer, console_error, firestore_error, get, global, global_fn, set_timeout, set_watchdog,
};
use crate::persist::{self, Persist};
use crate::session;
use crate::view::{View, ViewChange};
use hookfeed_wire::backoff::Backoff;
use hookfeed_wire::{ErrorCode, BATCH_SUBPROTOCOL, SUBPROTOCOL};

/// Keep-alive interval: each tick pings (the feed's runtime answers "pong" without waking
/// the object) and expects a frame back within [`PONG_WITHIN_MS`]. A silently dead socket
/// is noticed within their sum (28 s); after an `online` event or the page becoming
/// visible again, within [`PONG_WITHIN_MS`].
const PING_EVERY_MS: f64 = 20_000.0;
/// How long a ping may go unanswered.
const PONG_WITHIN_MS: f64 = 8_000.0;
/// How long `getToken` may take.
const TOKEN_WITHIN_MS: f64 = 10_000.0;
/// Tries of `getToken` in a row (with backoff between them) before listeners end.
const MAX_TOKEN_TRIES: u32 = 5;
/// How long `getDoc`/`getDocs` wait for the feed before answering from the cache (as
/// Firestore's online-state timeout).
const GET_WITHIN_MS: f64 = 10_000.0;

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

/// One `onSnapshot` registration, or one `getDoc`/`getDocs`.
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
    /// `getDoc`/`getDocs`: one snapshot, the feed's, or offline the cache's.
    pub once: bool,
    /// The cache was read (or there is none to read), and whether it held a record.
    pub loaded: bool,
    pub cached: bool,
    /// A one-shot that found the feed unreachable: it settles from the cache.
    pub offline: bool,
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
    /// `ws(s)://host/feed[?tenant=…]`.
    url: String,
    token: RefCell<String>,
    /// Who the token reads as (`session::reader_key`); empty before a readable token.
    reader: RefCell<String>,
    get_token: Option<Function>,
    persist: Option<Rc<Persist>>,
    ws: RefCell<Option<WebSocket>>,
    open: Cell<bool>,
    /// Counts sockets: a timer of an older one does nothing.
    socket: Cell<u32>,
    /// When the socket last brought a frame (`Date.now()`).
    heard: Cell<f64>,
    /// The current token is known bad (refused, or the feed said `unauthenticated`).
    need_token: Cell<bool>,
    /// A `getToken` call is pending: its number (0: none).
    asking: Cell<u32>,
    asks: Cell<u32>,
    /// Tries of `getToken` since the feed last took a token, and why the last one failed.
    token_tries: Cell<u32>,
    cause: RefCell<String>,
    /// `getToken` was asked after a refused upgrade since the last open socket.
    asked_after_refusal: Cell<bool>,
    /// Something was listened to; terminate() was called.
    pub started: Cell<bool>,
    pub terminated: Cell<bool>,
    retry_timer: RefCell<Option<JsValue>>,
    ping_timer: RefCell<Option<JsValue>>,
    backoff: RefCell<Backoff>,
    /// By id, in registration order (a Vec: pages hold a handful, and it is smaller than a map).
    listeners: RefCell<Vec<(u32, Listener)>>,
    next_id: Cell<u32>,
    handlers: RefCell<Handlers>,
    /// The `online`/`offline`/`visibilitychange` listener.
    events: RefCell<Option<Function>>,
    me: RefCell<Weak<Client>>,
}

/// A token's claims, if readable.
fn claims(token: &str) -> Option<JsValue> {
    Some(persist::claims_of(token)).filter(|c| !c.is_undefined())
}

/// Whether a token cannot be used: empty, unreadable, or past its expiry.
fn unusable(token: &str) -> bool {
    claims(token).is_none_or(|c| get(&c, "exp").as_f64().is_some_and(|exp| exp * 1000.0 <= js_sys::Date::now()))
}

/// The events that say a socket may be dead, or may work again.
const EVENTS: [&str; 3] = ["online", "offline", "visibilitychange"];

/// Adds (or removes) `f` as the listener of [`EVENTS`] on the global object (the
/// document's `visibilitychange` bubbles up to the window).
fn watch(f: &Function, add: bool) {
    let g = global();
    if let Ok(m) = get(&g, if add { "addEventListener" } else { "removeEventListener" }).dyn_into::<Function>() {
        for name in EVENTS {
            let _ = m.call2(&g, &name.into(), f);
        }
    }
}

impl Client {
    /// A client for `url` (`http(s)://` or `ws(s)://host`), not yet connected.
    pub fn new(
        url: &str,
        token: String,
        tenant: Option<String>,
        get_token: Option<Function>,
        persistence: bool,
    ) -> Rc<Self> {
        let mut ws_url = session::feed_url(url);
        if let Some(t) = &tenant {
            ws_url.push_str("?tenant=");
            ws_url.push_str(&String::from(js_sys::encode_uri_component(t)));
        }
        let client = Rc::new(Self {
            url: ws_url,
            token: RefCell::new(String::new()),
            reader: RefCell::new(String::new()),
            get_token,
            persist: persistence.then(Persist::open),
            ws: RefCell::new(None),
            open: Cell::new(false),
            socket: Cell::new(0),
            heard: Cell::new(0.0),
            need_token: Cell::new(false),
            asking: Cell::new(0),
            asks: Cell::new(0),
            token_tries: Cell::new(0),
            cause: RefCell::new(String::new()),
            asked_after_refusal: Cell::new(false),
            started: Cell::new(false),
            terminated: Cell::new(false),
            retry_timer: RefCell::new(None),
            ping_timer: RefCell::new(None),
            backoff: RefCell::new(Backoff::default()),
            listeners: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
            handlers: RefCell::new(Handlers::default()),
            events: RefCell::new(None),
            me: RefCell::new(Weak::new()),
        });
        *client.me.borrow_mut() = Rc::downgrade(&client);
        client.adopt(token);
        let events = client.once_each(|client, event| client.on_event(&get(&event, "type")));
        watch(&events, true);
        *client.events.borrow_mut() = Some(events);
        client
    }

    fn me(&self) -> Weak<Client> {
        self.me.borrow().clone()
    }

    /// A JS callback calling `f` on the client while it lives.
    fn once_each(&self, mut f: impl FnMut(&Rc<Client>, JsValue) + 'static) -> Function {
        let me = self.me();
        callback(move |value: JsValue| {
            if let Some(client) = me.upgrade() {
                f(&client, value);
            }
        })
    }

    /// A one-shot JS callback calling `f` on the client while it lives (timers, IndexedDB
    /// reads, token promises).
    fn once(&self, f: impl FnOnce(&Rc<Client>, JsValue) + 'static) -> Function {
        let mut f = Some(f);
        self.once_each(move |client, value| {
            if let Some(f) = f.take() {
                f(client, value);
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
        let once = listener.once;
        self.started.set(true);
        self.listeners.borrow_mut().push((id, listener));
        self.load(id);
        if once {
            // Offline (as the browser knows) or not answered in time: from the cache.
            let online = get(&get(&global(), "navigator"), "onLine").as_bool() != Some(false);
            if online {
                set_watchdog(&self.once(move |client, _| client.settle_offline(id)), GET_WITHIN_MS);
            } else {
                self.settle_offline(id);
            }
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

    /// Replaces the token (updateToken, or a refresh) and reconnects with it.
    pub fn update_token(&self, token: String) {
        self.token_tries.set(0);
        self.use_token(token, true);
    }

    fn use_token(&self, token: String, now: bool) {
        self.need_token.set(false);
        self.adopt(token);
        self.disconnect();
        if self.listeners.borrow().is_empty() {
            return;
        }
        if now {
            self.connect();
        } else {
            self.schedule_reconnect();
        }
    }

    /// Takes `token`. A token of another reader (subject, scopes, tenant) drops every
    /// view at once (listeners see the documents go, `fromCache`) and reads that reader's
    /// cache; the next listens ask for whole snapshots.
    fn adopt(&self, token: String) {
        let reader = claims(&token).and_then(|c| {
            persist::without_times(&c);
            Some(session::reader_key(&self.url, &JSON::stringify(&c).ok()?.as_string()?))
        });
        *self.token.borrow_mut() = token;
        // An unreadable token is never used (it counts as expired), so it changes no reader.
        let Some(reader) = reader else { return };
        if *self.reader.borrow() == reader {
            return;
        }
        *self.reader.borrow_mut() = reader;
        for id in self.listener_ids() {
            let changes = self.with_listener(id, |l| {
                l.from_cache = true;
                l.loaded = false;
                l.cached = false;
                l.view.forget()
            });
            if let Some(changes) = changes.filter(|c| !c.is_empty()) {
                self.emit(id, &changes);
            }
            self.load(id);
        }
    }

    /// Reads listener `id`'s cached view, under the current reader.
    fn load(&self, id: u32) {
        let reader = self.reader.borrow().clone();
        match (&self.persist, self.cache_key(id)) {
            (Some(persist), Some(key)) => {
                persist.load(&key, self.once(move |client, cached| client.on_cached(id, &reader, &cached)));
            }
            _ => self.on_cached(id, &reader, &JsValue::UNDEFINED),
        }
    }

    /// Where listener `id`'s view is cached: `<reader>|<target>`; none before a reader.
    fn cache_key(&self, id: u32) -> Option<JsValue> {
        let reader = self.reader.borrow();
        if reader.is_empty() {
            return None;
        }
        self.with_listener(id, |l| {
            let mut key = reader.clone();
            key.push('|');
            key.push_str(&l.target);
            JsValue::from(key)
        })
    }

    fn send(&self, text: &str) {
        if let Some(ws) = self.ws.borrow().as_ref() {
            let _ = ws.send_with_str(text);
        }
    }

    fn send_listen(&self, id: u32) {
        let Some(frame) = self.with_listener(id, |l| frames::listen(id, &l.target, l.view.since())) else {
            return;
        };
        self.send(&frame);
    }

    /// Asks `getToken` for a fresh token; after [`MAX_TOKEN_TRIES`] failed tries in a
    /// row (or without `getToken`), fails every listener with `unauthenticated`.
    fn refresh(&self, why: &str) {
        if self.token_tries.get() == 0 {
            *self.cause.borrow_mut() = why.into();
        }
        let Some(get_token) = &self.get_token else {
            let mut message = String::from(why);
            message.push_str(": pass a fresh token to updateToken() or set getToken");
            return self.fail_all(ErrorCode::Unauthenticated.as_str(), &message);
        };
        if self.asking.get() != 0 {
            return;
        }
        let tries = self.token_tries.get() + 1;
        if tries > MAX_TOKEN_TRIES {
            let mut message = String::from("getToken() gave no usable subscriber token in 5 tries: ");
            message.push_str(&self.cause.borrow());
            self.token_tries.set(0);
            return self.fail_all(ErrorCode::Unauthenticated.as_str(), &message);
        }
        self.token_tries.set(tries);
        let ask = self.asks.get() + 1;
        self.asks.set(ask);
        self.asking.set(ask);
        // One callback for the three outcomes (a token, an error, the timeout): the first wins.
        let settled = self.once(move |client, outcome| client.on_token(ask, &outcome));
        set_watchdog(&settled, TOKEN_WITHIN_MS);
        match get_token.call0(&JsValue::NULL) {
            Ok(token) => {
                let promise = Promise::resolve(&token);
                if let Ok(then) = get(&promise, "then").dyn_into::<Function>() {
                    let _ = then.call2(&promise, &settled, &settled);
                }
            }
            Err(error) => drop(settled.call1(&JsValue::NULL, &error)),
        }
    }

    /// The outcome of `getToken` call `ask`: a token (a string), an error, or nothing
    /// (the timeout, or an answer of nothing).
    fn on_token(&self, ask: u32, outcome: &JsValue) {
        if self.asking.get() != ask {
            return; // settled already (or timed out)
        }
        self.asking.set(0);
        match outcome.as_string() {
            // A second try in a row waits its turn: the feed may refuse this one too.
            Some(token) if !unusable(&token) => self.use_token(token, self.token_tries.get() <= 1),
            token => {
                *self.cause.borrow_mut() = match get(outcome, "message").as_string() {
                    Some(message) => message,
                    None if token.is_some() => "getToken() answered an unreadable or expired token".into(),
                    None => "getToken() answered no token within 10 s".into(),
                };
                self.schedule_reconnect();
            }
        }
    }

    fn fail_all(&self, code: &str, message: &str) {
        for id in self.listener_ids() {
            self.fail(id, code, message);
        }
        self.disconnect();
    }

    /// Ends listener `id` with an error.
    fn fail(&self, id: u32, code: &str, message: &str) {
        let Some(listener) = self.remove_listener(id) else { return };
        if self.listeners.borrow().is_empty() {
            self.disconnect();
        }
        let error = firestore_error(code, message);
        match &listener.on_error {
            Some(on_error) => drop(on_error.call1(&JsValue::NULL, &error)),
            None => console_error(&error),
        }
    }

    fn connect(&self) {
        if self.terminated.get()
            || self.ws.borrow().is_some()
            || self.retry_timer.borrow().is_some()
            || self.asking.get() != 0
            || self.listeners.borrow().is_empty()
        {
            return;
        }
        if self.need_token.get() || unusable(&self.token.borrow()) {
            return self.refresh("the subscriber token is missing, expired or refused");
        }
        // Batched frames first: the feed then sends a turn's changes in one frame.
        let protocols = Array::of3(
            &JsValue::from_str(BATCH_SUBPROTOCOL),
            &JsValue::from_str(SUBPROTOCOL),
            &JsValue::from_str(&self.token.borrow()),
        );
        let Ok(ws) = WebSocket::new_with_str_sequence(&self.url, &protocols) else {
            self.schedule_reconnect();
            return;
        };
        self.socket.set(self.socket.get() + 1);
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
                client.lost();
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.handlers.borrow_mut() =
            Handlers { _open: Some(on_open), _message: Some(on_message), _close: Some(on_close) };
        *self.ws.borrow_mut() = Some(ws);
    }

    /// Closes the socket, if any, and forgets it; nothing it sends arrives any more.
    fn stop_socket(&self) {
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

    fn disconnect(&self) {
        if let Some(timer) = self.retry_timer.borrow_mut().take() {
            clear_timer("clearTimeout", &timer);
        }
        self.stop_socket();
    }

    /// Ends the client (terminate): no callback fires any more, pending cache writes are
    /// made, the database is closed.
    pub fn terminate(&self) {
        self.terminated.set(true);
        self.listeners.borrow_mut().clear();
        self.disconnect();
        if let Some(events) = self.events.borrow_mut().take() {
            watch(&events, false);
        }
        if let Some(persist) = &self.persist {
            persist.close();
        }
    }

    fn on_open(&self) {
        self.open.set(true);
        self.heard.set(js_sys::Date::now());
        self.backoff.borrow_mut().reset();
        self.asked_after_refusal.set(false);
        let ping = self.once_each(|client, _| client.probe());
        let handle = global_fn("setInterval")
            .and_then(|f| f.call2(&JsValue::NULL, &ping, &PING_EVERY_MS.into()).ok())
            .unwrap_or(JsValue::NULL);
        *self.ping_timer.borrow_mut() = Some(handle);
        for id in self.listener_ids() {
            self.send_listen(id);
        }
    }

    /// Pings, and drops the socket if nothing comes back within [`PONG_WITHIN_MS`].
    fn probe(&self) {
        if !self.open.get() {
            return;
        }
        let (socket, sent) = (self.socket.get(), js_sys::Date::now());
        self.send("ping");
        let check = self.once(move |client, _| {
            if client.socket.get() == socket && client.open.get() && client.heard.get() < sent {
                client.lost();
            }
        });
        set_watchdog(&check, PONG_WITHIN_MS);
    }

    /// `online`, `offline` and `visibilitychange`: check the socket, or retry at once.
    fn on_event(&self, kind: &JsValue) {
        if kind.as_string().as_deref() == Some("offline") {
            if self.ws.borrow().is_some() {
                self.lost();
            }
            return;
        }
        if get(&get(&global(), "document"), "visibilityState").as_string().as_deref() == Some("hidden") {
            return;
        }
        if self.open.get() {
            self.probe();
        } else if let Some(timer) = self.retry_timer.borrow_mut().take() {
            clear_timer("clearTimeout", &timer);
            self.backoff.borrow_mut().reset();
        } else {
            return;
        }
        self.connect();
    }

    /// The socket closed, failed to open, or went silent: listeners show `fromCache`,
    /// one-shots answer from the cache, and it reconnects.
    fn lost(&self) {
        let was_open = self.open.get();
        self.stop_socket();
        for id in self.listener_ids() {
            self.mark_from_cache(id);
            self.settle_offline(id);
        }
        if !was_open && self.get_token.is_some() && !self.asked_after_refusal.replace(true) {
            // Closed before it opened: refused (401, 403, 404) or unreachable, which a
            // browser cannot tell apart. A fresh token first, once; then backoff.
            self.need_token.set(true);
            self.connect();
        } else {
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(&self) {
        if self.retry_timer.borrow().is_some() || self.listeners.borrow().is_empty() {
            return;
        }
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

    /// A one-shot without the feed's answer: the cached snapshot (a query's, even empty,
    /// as Firestore's getDocs), or Firestore's `unavailable` for a document never cached.
    /// Waits for the cache read, if one is under way.
    fn settle_offline(&self, id: u32) {
        let cached = self.with_listener(id, |l| {
            if !l.once {
                return None;
            }
            l.offline = true;
            l.from_cache = true;
            l.loaded.then_some(l.cached || matches!(l.shape, Shape::Query))
        });
        match cached.flatten() {
            Some(true) => self.emit(id, &[]),
            Some(false) => {
                self.fail(id, ErrorCode::Unavailable.as_str(), "Failed to get document because the client is offline.")
            }
            None => {}
        }
    }

    fn on_cached(&self, id: u32, reader: &str, cached: &JsValue) {
        if *self.reader.borrow() != reader {
            return; // read for the reader before this one
        }
        let changes = self.with_listener(id, |l| {
            l.loaded = true;
            let changes = if l.view.synced {
                None
            } else {
                persist::read_record(cached).map(|(seq, docs)| {
                    l.cached = true;
                    l.from_cache = true;
                    l.view.load_cached(seq, docs)
                })
            };
            (changes, l.offline)
        });
        let Some((changes, offline)) = changes else { return };
        if offline {
            self.settle_offline(id);
        } else if let Some(changes) = changes {
            self.emit(id, &changes);
        }
    }

    fn on_message(&self, text: &str) {
        self.heard.set(js_sys::Date::now());
        // One message, or a batched frame's several (one turn of the feed's), in order.
        for (id, kind, frame) in frames::read(text) {
            match kind {
                Kind::Snapshot => self.on_snapshot(id, &frame),
                Kind::Change => self.on_change(id, &frame),
                Kind::Error => self.on_error(id, &frame),
            }
        }
    }

    fn on_snapshot(&self, id: u32, frame: &ServerFrame) {
        // The feed took the token.
        self.token_tries.set(0);
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
        if code == ErrorCode::Unavailable.as_str() {
            // Transient (a hub could not answer now): listen again shortly on this socket,
            // resuming from what the feed answered, with the connection's backoff (which the
            // next open socket resets).
            let delay = self.backoff.borrow_mut().next_delay_ms(js_sys::Math::random());
            self.mark_from_cache(id);
            let socket = self.socket.get();
            let again = self.once(move |client, _| {
                if client.socket.get() == socket && client.open.get() {
                    client.send_listen(id);
                }
            });
            set_timeout(&again, delay);
            return;
        }
        if code == ErrorCode::Unauthenticated.as_str() && self.get_token.is_some() {
            self.need_token.set(true);
            self.refresh(&frame.message());
            return;
        }
        // As in Firestore, a listener that errors is over.
        self.fail(id, &code, &frame.message());
    }

    fn save(&self, id: u32) {
        let (Some(persist), Some(key)) = (&self.persist, self.cache_key(id)) else { return };
        let Some((record, docs)) =
            self.with_listener(id, |l| (persist::record(l.view.seq, l.view.docs()), l.view.docs().len() as f64))
        else {
            return;
        };
        persist.save(key, record, docs);
    }

    fn emit(&self, id: u32, changes: &[ViewChange<JsDoc>]) {
        let Some(Some((snapshot, callback, once))) = self.with_listener(id, |l| {
            // A one-shot answers the feed's snapshot, or offline the cache's, once.
            if l.once && l.from_cache && !l.offline {
                return None;
            }
            l.emitted = true;
            let all;
            let changes = if l.once {
                all = l.view.all_added();
                &all
            } else {
                changes
            };
            Some(((l.build)(l, changes), l.on_next.clone(), l.once))
        }) else {
            return;
        };
        if once {
            self.unlisten(id);
        }
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
    fn empty_unreadable_and_expired_tokens_are_unusable() {
        // {"tenant":"demo","scopes":["*"],"exp":1700000000}, base64url without padding.
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIiwic2NvcGVzIjpbIioiXSwiZXhwIjoxNzAwMDAwMDAwfQ.sig";
        assert_eq!(get(&claims(token).expect("claims"), "exp").as_f64(), Some(1_700_000_000.0));
        assert!(unusable(token), "expired");
        for bad in ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bnVsbA.sig"] {
            assert!(unusable(bad), "{bad}");
        }
        // {"tenant":"demo","scopes":["*"],"exp":99999999999}
        assert!(!unusable(
            "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnQiOiJkZW1vIiwic2NvcGVzIjpbIioiXSwiZXhwIjo5OTk5OTk5OTk5OX0.sig"
        ));
    }
}
