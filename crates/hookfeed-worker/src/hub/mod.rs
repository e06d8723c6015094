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
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the object: its state, listens answered from the mirror, `/healthz` |
//! | `upstream.rs` | the upstream socket, and each frame from the feed applied and fanned out |
//! | `loads.rs` | documents loaded from the feed's `/mirror` route |
//! | `recovery.rs` | a lost upstream restored, a hub woken from hibernation resynced |

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

mod loads;
mod recovery;
mod upstream;

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

impl HubCore {
    fn feed(&self, tenant: &str) -> Result<worker::Stub> {
        crate::routes::feed(&self.env, tenant)
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
