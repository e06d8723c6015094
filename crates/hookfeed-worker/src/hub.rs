//! The `Hub` Durable Object: the fan-out tier of a tenant spread over many objects.
//!
//! A tenant configured with hubs (`HOOKFEED_HUBS`) has its subscriber sockets placed on
//! `hubs` of these objects by the Worker. Each hub is one subscriber of the tenant's feed:
//! one upstream socket, one listen per collection its own subscribers read. The feed sends
//! each change once per hub; the hub sends it on to its sockets with the same code the feed
//! uses ([`Subscribers`]). What a hub answers listens from is core's [`HubMirror`]:
//! documents loaded from the feed's `/mirror` route once the upstream listen is live, and
//! every load and change merged by seq, so that no subscriber misses a change or sees one
//! twice, whichever hub (or the feed) it resumes on.
//!
//! A hub keeps nothing durable. If its upstream socket closes, it reconnects and reloads
//! what it held: while a collection reloads, its streamed changes and new listens wait,
//! then the reload and the changes go out merged in seq order (core's
//! [`HubMirror::finish_reload`]). If the hub itself is restarted, its sockets close and
//! their clients resume elsewhere with `since`; if it wakes from hibernation with sockets,
//! it streams and loads again what their listens read and sends each a full snapshot.

// `#[durable_object]` generates undocumented glue; the items written here are documented.
#![allow(missing_docs)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_util::StreamExt;
use hookfeed_core::fanout::{rewind, snapshot, StoredDoc};
use hookfeed_core::hub::{HubMirror, HubRefusal, MirrorNeed, Preparation, Step, HEAD_PROBE_PATH, LIVE_ONLY_SINCE};
use hookfeed_core::ledger::{DocChange, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::ServerMessage;
use hookfeed_core::protocol::Target;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::UnixTime;
use js_sys::futures::JsFuture;
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketRequestResponsePair,
};

use crate::config;
use crate::hop::{now, CLAIMS_HEADER, CLIENT_IP_HEADER, HUB_CLIENT, HUB_INDEX_HEADER, MIRROR_PATH};
use crate::reply::Reply;
use crate::subscribers::{alarm_by, PendingListen, Subscribers};

/// The upstream socket's claims never expire in practice (a NumericDate in the year
/// 3,170,000): a hub is no subscriber with a session.
const UPSTREAM_EXP: i64 = 100_000_000_000_000;

/// How long a listen waits for the upstream socket to stream a collection.
const STREAM_WAIT: Duration = Duration::from_secs(10);

/// The hub's link to its feed, and what it knows of the feed's documents.
#[derive(Default)]
struct Upstream {
    tenant: Option<String>,
    socket: Option<WebSocket>,
    connecting: bool,
    mirror: HubMirror,
    /// The upstream listen of each collection, by its id.
    listens: Vec<(u32, String)>,
    /// Head probes in flight: the upstream listen's id, and the probe's number.
    probes: Vec<(u32, u64)>,
    next_id: u32,
    /// Documents listens wait for, loaded together in one request to the feed: after a
    /// deploy every socket comes back at once, each to its own document.
    doc_queue: Vec<DocPath>,
    /// A batch of documents is being loaded: settled when it is done, so waiting listens
    /// sleep on it instead of polling.
    loading_docs: Option<Signal>,
    /// A recovery (reconnect and reload) runs: one at a time.
    recovering: bool,
    /// Whether the hub looked, since it woke, for listens restored from hibernation.
    woke: bool,
}

/// A one-shot wake-up for every listen waiting on the same load: a JS promise and its
/// resolver (one promise, however many wait).
struct Signal {
    promise: js_sys::Promise,
    resolve: js_sys::Function,
}

impl Signal {
    fn new() -> Self {
        let mut resolve = None;
        let promise = js_sys::Promise::new(&mut |ok, _| resolve = Some(ok));
        Self { promise, resolve: resolve.unwrap_or_else(|| js_sys::Function::new_no_args("")) }
    }

    fn fire(&self) {
        let _ = self.resolve.call0(&JsValue::UNDEFINED);
    }
}

/// One hub of a tenant.
#[durable_object]
pub struct Hub {
    core: Rc<HubCore>,
}

/// The hub's state, shared with the task that reads the upstream socket (which outlives
/// any one request).
struct HubCore {
    state: State,
    env: Env,
    subscribers: RefCell<Subscribers>,
    upstream: RefCell<Upstream>,
    alarm_at: Cell<Option<Option<UnixTime>>>,
}

/// How long a batch of document loads waits for more listens to join it.
const BATCH_GATHER: Duration = Duration::from_millis(5);
/// Most documents one load asks the feed for.
const MIRROR_BATCH: usize = 500;

/// Attempts to restore a lost upstream socket before the hub gives up and closes its
/// sockets (their clients then resume on a hub that can reach the feed).
const RECOVER_ATTEMPTS: u32 = 6;

/// A page of documents from the feed's `/mirror` route.
#[derive(Deserialize)]
struct MirrorPage {
    docs: Vec<StoredDoc>,
    seq: Seq,
}

/// Sends changes, applied to the mirror in this order, to the hub's sockets. A limited
/// query's delta reads the mirror's collection as of its change ([`rewind`]), as the feed
/// does for a group commit's changes.
fn fan_out(subscribers: &RefCell<Subscribers>, upstream: &RefCell<Upstream>, changes: &[DocChange]) {
    subscribers.borrow_mut().broadcast(changes, |i| {
        let collection = changes[i].path.collection();
        let mut docs = upstream.borrow().mirror.collection_docs(collection);
        rewind(&mut docs, collection, &changes[i + 1..]);
        Ok(docs)
    });
}

impl HubCore {
    fn feed(&self, tenant: &str) -> Result<worker::Stub> {
        crate::routes::feed(&self.env, tenant)
    }

    /// Opens the upstream socket to the tenant's feed, as one privileged subscriber, and
    /// starts reading it.
    async fn connect_upstream(self: &Rc<Self>) -> Result<()> {
        let Some(tenant) = self.upstream.borrow().tenant.clone() else {
            return Err(worker::Error::RustError("a hub learns its tenant from its first subscriber".into()));
        };
        // Another listen is connecting: wait for it rather than open a second socket.
        let started = now();
        while self.upstream.borrow().connecting {
            if now().as_millis() - started.as_millis() > STREAM_WAIT.as_millis() as i64 {
                return Err(worker::Error::RustError("the upstream socket did not open in time".into()));
            }
            worker::Delay::from(Duration::from_millis(10)).await;
        }
        if self.upstream.borrow().socket.is_some() {
            return Ok(());
        }
        self.upstream.borrow_mut().connecting = true;
        let result = self.open_upstream(&tenant).await;
        self.upstream.borrow_mut().connecting = false;
        let ws = result?;
        self.upstream.borrow_mut().socket = Some(ws.clone());
        self.subscribers.borrow_mut().ensure_index(&self.state);
        let core = self.clone();
        js_sys::futures::spawn_local(async move {
            let Ok(mut events) = ws.events() else { return };
            while let Some(event) = events.next().await {
                match event {
                    Ok(worker::WebsocketEvent::Message(message)) => {
                        if let Some(text) = message.text() {
                            on_upstream_frame(&core.subscribers, &core.upstream, &text);
                        }
                    }
                    Ok(worker::WebsocketEvent::Close(_)) | Err(_) => break,
                }
            }
            drop(events);
            // The feed went away (a deploy, an eviction, a fault): nothing streams now.
            // Reconnect, and load again what the hub held: the differences are the changes
            // its subscribers missed, and go out as changes.
            {
                let mut up = core.upstream.borrow_mut();
                up.socket = None;
                up.listens.clear();
                up.probes.clear();
                up.mirror.upstream_lost();
            }
            worker::console_log!("hub: the upstream socket closed; reconnecting");
            core.start_recovery();
        });
        Ok(())
    }

    async fn open_upstream(&self, tenant: &str) -> Result<WebSocket> {
        let headers = worker::Headers::new();
        headers.set("Upgrade", "websocket")?;
        // The hub reads everything of its tenant: its own subscribers' listens are checked
        // against their tokens here, by the same code the feed runs.
        let claims = TokenClaims::new(tenant.to_owned(), vec!["*".to_owned()], UPSTREAM_EXP);
        headers.set(CLAIMS_HEADER, &serde_json::to_string(&claims)?)?;
        headers.set(CLIENT_IP_HEADER, HUB_CLIENT)?;
        // The hub reads batched frames: a group commit's changes come in one frame.
        headers.set("Sec-WebSocket-Protocol", hookfeed_wire::BATCH_SUBPROTOCOL)?;
        let mut init = worker::RequestInit::new();
        init.with_headers(headers);
        let req = Request::new_with_init("https://feed/subscribe", &init)?;
        let response = self.feed(tenant)?.fetch_with_request(req).await?;
        let status = response.status_code();
        let ws = response.websocket().ok_or_else(|| {
            worker::Error::RustError(format!("the feed did not accept the hub's socket (it answered {status})"))
        })?;
        ws.accept()?;
        Ok(ws)
    }

    /// Ends collections core evicted to make room: unlistens them upstream.
    fn end_upstream(&self, ended: &[String]) {
        let mut up = self.upstream.borrow_mut();
        for collection in ended {
            up.mirror.end(collection);
            let ids: Vec<u32> = up.listens.iter().filter(|(_, c)| c == collection).map(|(id, _)| *id).collect();
            up.listens.retain(|(_, c)| c != collection);
            if let Some(socket) = up.socket.clone() {
                for id in ids {
                    let _ = socket.send_with_str(json!({"type": "unlisten", "id": id}).to_string());
                }
            }
        }
    }

    /// Waits until head probe `n` is answered, sending it upstream if it is this listen's
    /// turn: one probe in flight at a time, shared by every listen that waits for it.
    async fn probe(self: &Rc<Self>, n: u64) -> Result<()> {
        self.connect_upstream().await?;
        let started = now();
        loop {
            let to_send = {
                let mut up = self.upstream.borrow_mut();
                if up.mirror.probe_done(n) {
                    return Ok(());
                }
                match (up.mirror.probe_to_send(), up.socket.clone()) {
                    (Some(number), Some(socket)) => {
                        up.next_id += 1;
                        let id = up.next_id;
                        up.probes.push((id, number));
                        Some((socket, id, number))
                    }
                    (Some(number), None) => {
                        up.mirror.probe_lost(number);
                        return Err(worker::Error::RustError("the upstream socket closed".into()));
                    }
                    (None, _) => None,
                }
            };
            if let Some((socket, id, number)) = to_send {
                let frame = json!({"type": "listen", "id": id, "target": {"doc": HEAD_PROBE_PATH}});
                if let Err(e) = socket.send_with_str(frame.to_string()) {
                    let mut up = self.upstream.borrow_mut();
                    up.probes.retain(|(i, _)| *i != id);
                    up.mirror.probe_lost(number);
                    return Err(e);
                }
            }
            if now().as_millis() - started.as_millis() > STREAM_WAIT.as_millis() as i64 {
                return Err(worker::Error::RustError("the feed did not answer a head probe in time".into()));
            }
            worker::Delay::from(Duration::from_millis(10)).await;
        }
    }

    /// Makes the upstream socket stream `collection` (which core opened), and waits until
    /// it does.
    async fn stream(self: &Rc<Self>, collection: &str) -> Result<()> {
        self.connect_upstream().await?;
        if self.upstream.borrow().mirror.collection(collection).is_none() {
            return Err(worker::Error::RustError(format!("{collection} was ended")));
        }
        let listening = self.upstream.borrow().listens.iter().any(|(_, c)| c == collection);
        if !listening {
            let (id, socket) = {
                let mut up = self.upstream.borrow_mut();
                up.next_id += 1;
                let id = up.next_id;
                up.listens.push((id, collection.to_owned()));
                (id, up.socket.clone())
            };
            let frame =
                json!({"type": "listen", "id": id, "target": {"collection": collection}, "since": LIVE_ONLY_SINCE});
            match socket {
                Some(socket) => socket.send_with_str(frame.to_string())?,
                None => {
                    self.upstream.borrow_mut().listens.retain(|(i, _)| *i != id);
                    return Err(worker::Error::RustError("the upstream socket closed".into()));
                }
            }
        }
        let started = now();
        while !self.upstream.borrow().mirror.collection(collection).is_some_and(|m| m.is_streaming()) {
            if self.upstream.borrow().mirror.collection(collection).is_none() {
                return Err(worker::Error::RustError(format!("the feed refused to stream {collection}")));
            }
            if now().as_millis() - started.as_millis() > STREAM_WAIT.as_millis() as i64 {
                return Err(worker::Error::RustError(format!("the feed did not stream {collection} in time")));
            }
            worker::Delay::from(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Loads one document, in a batch with every other document listens of this moment
    /// wait for: one request to the feed per batch, not per socket.
    async fn load_document(self: &Rc<Self>, path: &DocPath) -> Result<()> {
        {
            let mut up = self.upstream.borrow_mut();
            if !up.doc_queue.contains(path) {
                up.doc_queue.push(path.clone());
            }
        }
        loop {
            let (known, waiting) = {
                let up = self.upstream.borrow();
                let known = up.mirror.collection(path.collection()).is_some_and(|m| m.knows(path))
                    && !up.doc_queue.contains(path);
                (known, up.loading_docs.as_ref().map(|signal| signal.promise.clone()))
            };
            if known {
                return Ok(());
            }
            let Some(batch_done) = waiting else { break };
            // Another listen is loading a batch: sleep until it is done, then look again
            // (this path may be in the next batch).
            JsFuture::from(batch_done).await?;
        }
        // This listen loads the batch; listens arriving meanwhile join it or the next one.
        self.upstream.borrow_mut().loading_docs = Some(Signal::new());
        let result = self.load_queued_documents().await;
        if let Some(signal) = self.upstream.borrow_mut().loading_docs.take() {
            signal.fire();
        }
        result
    }

    async fn load_queued_documents(self: &Rc<Self>) -> Result<()> {
        let tenant = self.upstream.borrow().tenant.clone().unwrap_or_default();
        loop {
            // A moment for the listens of the same storm to join the batch.
            worker::Delay::from(BATCH_GATHER).await;
            let batch: Vec<DocPath> = {
                let mut up = self.upstream.borrow_mut();
                let take = up.doc_queue.len().min(MIRROR_BATCH);
                up.doc_queue.drain(..take).collect()
            };
            if batch.is_empty() {
                return Ok(());
            }
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(JsValue::from_str(&json!({"paths": batch}).to_string())));
            let req = Request::new_with_init(&format!("https://feed{MIRROR_PATH}"), &init)?;
            let loaded = async {
                let mut response = self.feed(&tenant)?.fetch_with_request(req).await?;
                if response.status_code() != 200 {
                    return Err(worker::Error::RustError(format!(
                        "the feed answered {} to a load",
                        response.status_code()
                    )));
                }
                response.json::<MirrorPage>().await
            }
            .await;
            let MirrorPage { docs, seq } = match loaded {
                Ok(page) => page,
                Err(e) => {
                    // Put the batch back for the listens still waiting, then report.
                    self.upstream.borrow_mut().doc_queue.extend(batch);
                    return Err(e);
                }
            };
            let changes: Vec<DocChange> = {
                let mut up = self.upstream.borrow_mut();
                batch
                    .iter()
                    .filter_map(|path| {
                        up.mirror.load_document(path, docs.iter().find(|d| d.path == *path).cloned(), seq)
                    })
                    .collect()
            };
            fan_out(&self.subscribers, &self.upstream, &changes);
            // Documents and missing ids nobody reads go, once a mirror holds too many.
            let mut collections: Vec<&str> = batch.iter().map(DocPath::collection).collect();
            collections.dedup();
            let subscribers = self.subscribers.borrow();
            let mut up = self.upstream.borrow_mut();
            for collection in collections {
                match subscribers.index() {
                    Some(index) => up.mirror.evict_unread(collection, index),
                    None => up.mirror.evict_unread(collection, &()),
                };
            }
        }
    }

    /// Loads from the feed what `need` names, and fans out what changed compared with
    /// what the mirror held (after a reconnect).
    async fn load(self: &Rc<Self>, need: &MirrorNeed) -> Result<()> {
        let tenant = self.upstream.borrow().tenant.clone().unwrap_or_default();
        let mut url = worker::Url::parse(&format!("https://feed{MIRROR_PATH}"))?;
        match need {
            MirrorNeed::Stream(collection) => return self.stream(collection).await,
            MirrorNeed::Document(path) => return self.load_document(path).await,
            MirrorNeed::Collection(collection) => url.query_pairs_mut().append_pair("collection", collection),
        };
        let mut response = self.feed(&tenant)?.fetch_with_str(url.as_str()).await?;
        if response.status_code() != 200 {
            return Err(worker::Error::RustError(format!("the feed answered {} to {url}", response.status_code())));
        }
        let MirrorPage { docs, seq } = response.json().await?;
        let changes = {
            let mut up = self.upstream.borrow_mut();
            match need {
                MirrorNeed::Collection(collection) => up.mirror.load_collection(collection, docs, seq),
                MirrorNeed::Document(_) | MirrorNeed::Stream(_) => Vec::new(),
            }
        };
        fan_out(&self.subscribers, &self.upstream, &changes);
        Ok(())
    }

    /// A listen at this hub: the mirror is made able to answer it (core's steps: opened,
    /// streamed, loaded, its `since` checked), then it gets its snapshot, computed as the
    /// feed computes it.
    async fn answer(self: &Rc<Self>, ws: &WebSocket, mut pending: PendingListen) -> Result<()> {
        let mut prep = self.upstream.borrow_mut().mirror.prepare(pending.request.clone(), &pending.state.claims);
        let prepared = self.prepare(&mut prep, &pending).await;
        self.upstream.borrow_mut().mirror.finish(&prep);
        let head = match prepared {
            Ok(head) => head,
            // Unlistened meanwhile: nothing to answer (the unlisten wins).
            Err(None) => return Ok(()),
            Err(Some(refusal)) => {
                return self.subscribers.borrow_mut().refuse(ws, &pending, refusal.code(), refusal.to_string());
            }
        };
        // Its `since` dropped if it was ahead of the feed.
        pending.request = prep.request().clone();
        // The documents are copied out of the mirror only when no listen of the same target
        // had its snapshot built since the last change (a reconnect storm builds it once).
        let upstream = &self.upstream;
        self.subscribers.borrow_mut().answer(ws, &pending, head, || {
            let docs = upstream.borrow().mirror.snapshot_docs(&pending.request.target);
            Ok(snapshot(&pending.request, pending.guard.as_ref(), docs, head))
        })
    }

    /// Takes core's steps for one listen until it can be answered (the seq its snapshot is
    /// current at) or must be refused.
    /// `Err(None)`: the listen was unlistened meanwhile, so the hub stops preparing it.
    async fn prepare(
        self: &Rc<Self>,
        prep: &mut Preparation,
        pending: &PendingListen,
    ) -> std::result::Result<Seq, Option<HubRefusal>> {
        loop {
            if !self.subscribers.borrow().is_wanted(pending) {
                return Err(None);
            }
            let step = {
                let subscribers = self.subscribers.borrow();
                let mut up = self.upstream.borrow_mut();
                let at = now().as_millis();
                match subscribers.index() {
                    Some(index) => up.mirror.next_step(prep, index, at),
                    None => up.mirror.next_step(prep, &(), at),
                }
            };
            let done = match step {
                Step::Answer { head } => return Ok(head),
                Step::Refuse(refusal) => return Err(Some(refusal)),
                Step::AwaitReload(collection) => self.await_reload(&collection).await,
                Step::Stream { collection, ended } => {
                    self.end_upstream(&ended);
                    self.stream(&collection).await
                }
                Step::Load(need) => self.load(&need).await,
                Step::Probe(n) => self.probe(n).await,
            };
            if let Err(e) = done {
                worker::console_error!("hub could not prepare a listen: {e}");
                return Err(Some(HubRefusal::Unavailable));
            }
        }
    }

    async fn subscribe(&self, req: &Request) -> Result<Response> {
        if let Some(claims) =
            req.headers().get(CLAIMS_HEADER)?.and_then(|c| serde_json::from_str::<TokenClaims>(&c).ok())
        {
            self.upstream.borrow_mut().tenant.get_or_insert(claims.tenant);
        }
        let per_client = config::load(&self.env).map_or(config::DEFAULT_SOCKETS_PER_CLIENT, |c| c.sockets_per_client);
        let (mut response, exp) = self.subscribers.borrow_mut().accept(&self.state, req, per_client)?;
        if let Some(exp) = exp {
            alarm_by(&self.state, &self.alarm_at, UnixTime::from_secs(exp)).await;
            if let Some(index) = req.headers().get(HUB_INDEX_HEADER)? {
                response.headers_mut().set(HUB_INDEX_HEADER, &index)?;
            }
        }
        Ok(response)
    }

    /// Starts a recovery unless one runs.
    fn start_recovery(self: &Rc<Self>) {
        if std::mem::replace(&mut self.upstream.borrow_mut().recovering, true) {
            return;
        }
        let core = self.clone();
        js_sys::futures::spawn_local(async move {
            core.recover().await;
            core.upstream.borrow_mut().recovering = false;
        });
    }

    /// Waits until `collection` is reloaded on a new stream (a recovery does it; one is
    /// started if none runs).
    async fn await_reload(self: &Rc<Self>, collection: &str) -> Result<()> {
        self.start_recovery();
        let started = now();
        loop {
            let (stale, recovering) = {
                let up = self.upstream.borrow();
                (up.mirror.collection(collection).is_some_and(|m| m.is_stale()), up.recovering)
            };
            if !stale {
                return Ok(());
            }
            if !recovering {
                return Err(worker::Error::RustError(format!("{collection} could not be reloaded")));
            }
            if now().as_millis() - started.as_millis() > STREAM_WAIT.as_millis() as i64 {
                return Err(worker::Error::RustError(format!("{collection} was not reloaded in time")));
            }
            worker::Delay::from(Duration::from_millis(10)).await;
        }
    }

    /// Restores the upstream socket and reloads every stale collection, fanning out what
    /// changed meanwhile in seq order; after [`RECOVER_ATTEMPTS`] failures, closes the
    /// hub's sockets (1012) so that their clients resume where the feed can be reached.
    /// Runs until no collection is stale (the socket may drop again meanwhile).
    async fn recover(self: &Rc<Self>) {
        let mut backoff = hookfeed_wire::backoff::Backoff::default();
        let mut failures = 0;
        loop {
            if self.state.get_websockets().is_empty() {
                return;
            }
            match self.resync().await {
                Ok(()) if self.upstream.borrow().mirror.stale_collections().is_empty() => return,
                Ok(()) => {}
                Err(e) => {
                    failures += 1;
                    worker::console_error!("hub: reconnecting to the feed failed (attempt {failures}): {e}");
                    if failures >= RECOVER_ATTEMPTS {
                        break;
                    }
                    let wait = backoff.next_delay_ms(js_sys::Math::random());
                    worker::Delay::from(Duration::from_millis(wait as u64)).await;
                }
            }
        }
        for ws in self.state.get_websockets() {
            self.subscribers.borrow_mut().forget(&ws);
            let _ = ws.close(Some(1012), Some("the hub lost its feed: reconnect and resume"));
        }
    }

    /// One pass: stream each stale collection again, load what its reload needs, and fan
    /// out the reload merged with what streamed meanwhile (core decides the order).
    async fn resync(self: &Rc<Self>) -> Result<()> {
        self.connect_upstream().await?;
        let collections = self.upstream.borrow().mirror.stale_collections();
        for collection in collections {
            if self.upstream.borrow().mirror.collection(&collection).is_none() {
                continue; // ended meanwhile
            }
            self.stream(&collection).await?;
            // Loads on this stream; a load that answered before it is not counted, and
            // what is still needed is asked again (bounded: a lost socket ends the pass).
            for _ in 0..3 {
                let needs = self.upstream.borrow().mirror.reload(&collection);
                if needs.is_empty() {
                    break;
                }
                // Documents are queued together first, so they load in as few batches as fit.
                let documents: Vec<DocPath> = needs
                    .iter()
                    .filter_map(|n| if let MirrorNeed::Document(p) = n { Some(p.clone()) } else { None })
                    .collect();
                self.upstream.borrow_mut().doc_queue.extend(documents.iter().cloned());
                for need in &needs {
                    self.load(need).await?;
                }
            }
            let Some(mut replay) = self.upstream.borrow_mut().mirror.finish_reload(&collection) else {
                return Err(worker::Error::RustError(format!("the reload of {collection} did not complete")));
            };
            // Applied and fanned out one change at a time, with no await in between: no
            // streamed change can come between the reload's changes.
            loop {
                let change = self.upstream.borrow_mut().mirror.replay_next(&mut replay);
                match change {
                    Some(change) => fan_out(&self.subscribers, &self.upstream, &[change]),
                    None => break,
                }
            }
            if replay.resnapshot() {
                let head = self.upstream.borrow().mirror.head_of(&collection);
                let upstream = &self.upstream;
                self.subscribers
                    .borrow_mut()
                    .resnapshot(&collection, head, |target: &Target| upstream.borrow().mirror.snapshot_docs(target));
            }
        }
        Ok(())
    }

    /// After the hub woke (its memory lost) with sockets whose listens were restored from
    /// their attachments: streams and reloads what they read, and resyncs them.
    fn restore_after_wake(self: &Rc<Self>) {
        if std::mem::replace(&mut self.upstream.borrow_mut().woke, true) {
            return;
        }
        let targets = match self.subscribers.borrow().index() {
            Some(index) if !index.is_empty() => index.targets_read(),
            _ => return,
        };
        {
            let mut up = self.upstream.borrow_mut();
            if up.socket.is_some() || up.mirror.collections().next().is_some() {
                return;
            }
            if up.tenant.is_none() {
                up.tenant = self.state.get_websockets().iter().find_map(|ws| {
                    ws.deserialize_attachment::<hookfeed_core::fanout::SocketState>()
                        .ok()
                        .flatten()
                        .map(|s| s.claims.tenant)
                });
            }
            for (collection, (whole, documents)) in targets {
                up.mirror.restore(&collection, whole, documents);
            }
        }
        worker::console_log!("hub: woke with listens and no feed connection; resyncing them");
        self.start_recovery();
    }

    fn health(&self) -> Result<Response> {
        let up = self.upstream.borrow();
        Reply::Json(json!({
            "subscribers": self.state.get_websockets().len(),
            "sent": self.subscribers.borrow().figures(),
            "frames_sent": self.subscribers.borrow().frames_sent(),
            "upstream": up.socket.is_some(),
            "collections": up.mirror.collections().collect::<Vec<_>>(),
            "loads": up.mirror.loads(),
            "probes": up.mirror.probes_sent(),
            "missing_ids": up.mirror.missing_len(),
            "stream_head": up.mirror.stream_head(),
        }))
        .into_response()
    }
}

/// One frame from the feed: one message, or (the hub reads batched frames) an array of
/// them, one turn of the feed's. Each is applied in order; the changes go out together, so
/// that a socket of the hub that reads batched frames gets them in one frame too.
fn on_upstream_frame(subscribers: &RefCell<Subscribers>, upstream: &RefCell<Upstream>, text: &str) {
    // A batched frame is split into its messages first, each then parsed alone: an array
    // adds a level of nesting (serde_json refuses past 127), and one message that does not
    // parse must not take its neighbours with it. Splitting into raw values checks no depth.
    let messages: Vec<ServerMessage> = if text.starts_with('[') {
        let Ok(raws) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) else {
            worker::console_error!("hub: an upstream frame did not parse");
            return;
        };
        raws.iter()
            .filter_map(|raw| match serde_json::from_str::<ServerMessage>(raw.get()) {
                Ok(message) => Some(message),
                Err(e) => {
                    worker::console_error!("hub: an upstream message did not parse: {e}");
                    None
                }
            })
            .collect()
    } else {
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => vec![message],
            Err(_) => {
                worker::console_error!("hub: an upstream frame did not parse");
                return;
            }
        }
    };
    let changes: Vec<DocChange> = messages.into_iter().filter_map(|m| on_upstream_message(upstream, m)).collect();
    if !changes.is_empty() {
        fan_out(subscribers, upstream, &changes);
    }
}

/// One message from the feed: a listen's acknowledgement (its snapshot: streaming from its
/// seq), or a change to apply to the mirror, returned to fan out.
fn on_upstream_message(upstream: &RefCell<Upstream>, message: ServerMessage) -> Option<DocChange> {
    let mut up = upstream.borrow_mut();
    let collection_of = |up: &Upstream, id: u32| up.listens.iter().find(|(i, _)| *i == id).map(|(_, c)| c.clone());
    match message {
        ServerMessage::Snapshot { id, seq, .. } => {
            if let Some(i) = up.probes.iter().position(|(i, _)| *i == id) {
                // A head probe's answer: its seq is where the socket is. Its listen ends.
                let (_, number) = up.probes.remove(i);
                up.mirror.probe_answered(number, seq);
                if let Some(socket) = up.socket.clone() {
                    let _ = socket.send_with_str(json!({"type": "unlisten", "id": id}).to_string());
                }
            } else if let Some(collection) = collection_of(&up, id) {
                up.mirror.streaming(&collection, seq);
            }
            None
        }
        ServerMessage::Change { path, seq, data: Some(data), .. } => up.mirror.apply(path, seq, data),
        ServerMessage::Change { .. } => None,
        ServerMessage::Error { id, code, message } => {
            worker::console_error!("hub: the feed refused an upstream listen ({}): {message}", code.as_str());
            if let Some(id) = id {
                if let Some(i) = up.probes.iter().position(|(i, _)| *i == id) {
                    let (_, number) = up.probes.remove(i);
                    up.mirror.probe_lost(number);
                }
                // A refused collection is ended: the listens waiting for it give up.
                if let Some(collection) = collection_of(&up, id) {
                    up.mirror.end(&collection);
                }
                up.listens.retain(|(i, _)| *i != id);
            }
            None
        }
    }
}

impl DurableObject for Hub {
    fn new(state: State, env: Env) -> Self {
        let state = State::from(state._inner());
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        let core = HubCore {
            state,
            env,
            subscribers: RefCell::new(Subscribers::default()),
            upstream: RefCell::new(Upstream::default()),
            alarm_at: Cell::new(None),
        };
        Self { core: Rc::new(core) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/subscribe" => {
                let response = self.core.subscribe(&req).await;
                self.core.restore_after_wake();
                response
            }
            "/health" => self.core.health(),
            _ => Reply::NotFound("no such hub route".to_owned()).into_response(),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let core = &self.core;
        match message {
            WebSocketIncomingMessage::String(text) => {
                let pending = core.subscribers.borrow_mut().on_frame(&core.state, &ws, &text)?;
                if core.upstream.borrow().tenant.is_none() {
                    if let Ok(Some(socket)) = ws.deserialize_attachment::<hookfeed_core::fanout::SocketState>() {
                        core.upstream.borrow_mut().tenant = Some(socket.claims.tenant);
                    }
                }
                core.restore_after_wake();
                match pending {
                    Some(pending) => core.answer(&ws, pending).await,
                    None => Ok(()),
                }
            }
            WebSocketIncomingMessage::Binary(_) => Subscribers::refuse_binary(&ws),
        }
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        self.core.subscribers.borrow_mut().closed(&ws, code, reason);
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.core.subscribers.borrow_mut().forget(&ws);
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        let core = &self.core;
        core.alarm_at.set(Some(None));
        let next = core.subscribers.borrow_mut().end_expired(&core.state, now());
        core.restore_after_wake();
        if let Some(next) = next {
            alarm_by(&core.state, &core.alarm_at, UnixTime::from_secs(next)).await;
        }
        Response::ok("expired")
    }
}
