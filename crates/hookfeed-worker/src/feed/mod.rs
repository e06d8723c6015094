//! The `Feed` Durable Object: one per tenant. It owns the tenant's event log, documents
//! and delivery log in SQLite, and its subscribers' hibernating WebSockets. Its ingest
//! path (deliveries handed off by the edge, alone or in batches) is `commit`'s.
//!
//! Every decision is core's: [`VerifiedDelivery::from_handoff`](hookfeed_core::VerifiedDelivery::from_handoff),
//! [`ingest`](hookfeed_core::ledger::ingest) and what the delivery log records
//! ([`Ingested::redelivery_record`](hookfeed_core::ledger::Ingested::redelivery_record)),
//! [`SocketState::handle_frame`], [`SubscriptionIndex::recipients`], [`window_delta`],
//! [`snapshot`], and the log's [`retention`]. Every SQL statement is in `store`. These
//! files move bytes between them and the platform.

// `#[durable_object]` generates undocumented glue; the items written here are documented.
#![allow(missing_docs)]

mod commit;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use hookfeed_core::delivery_log::{LogPage, LogQuery};
use hookfeed_core::fanout::{live_only, live_start, snapshot};
use hookfeed_core::ledger::{retention, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{ServerMessage, Target};
use hookfeed_core::pushdown::{self, FieldEquals};
use hookfeed_core::query::Filter;
use hookfeed_core::rate::RateLimiter;
use hookfeed_core::UnixTime;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State, WebSocket,
    WebSocketIncomingMessage, WebSocketRequestResponsePair,
};

use crate::config;
use crate::hop::{now, query, DROP_HUBS_PATH, GUARD_PARAM, HANDOFF_BATCH_PATH, HANDOFF_PATH, HUB_CLIENT, MIRROR_PATH};
use crate::reply::Reply;
use crate::store::{self, head_seq, read_documents, DocumentCache};
use crate::subscribers::{alarm_by, PendingListen, Subscribers};

/// In-memory state, rebuilt lazily after the object wakes from hibernation.
#[derive(Default)]
struct Live {
    schema_ready: bool,
    head: Option<Seq>,
    /// Verified deliveries per source (refused ones never reach a feed).
    limiter: RateLimiter,
    /// Requests and socket events handled since the object woke, and when it woke: what
    /// shows that refused traffic never reaches it.
    requests: u64,
    /// Loads hubs asked of [`MIRROR_PATH`] since the object woke (`/healthz`): what a
    /// listen at a hub costs the feed.
    mirror_loads: u64,
    /// Hand-off requests from the Worker since the object woke, the deliveries they
    /// carried, and the most one carried (`/healthz`): what group commit saves.
    handoff_requests: u64,
    handoff_deliveries: u64,
    largest_handoff: u64,
    woke_at: Option<UnixTime>,
    /// Shared with the storage transaction's callback, which must own what it uses.
    documents: Rc<RefCell<DocumentCache>>,
    /// The field indexes the feed holds, once read (at most
    /// [`MAX_FIELD_INDEXES`](hookfeed_core::pushdown::MAX_FIELD_INDEXES)).
    field_indexes: Option<BTreeSet<String>>,
    /// The last commit stamp given (`delivery_log::commit_stamp`), once read or given.
    last_stamp: Option<i64>,
}

/// One tenant's feed.
#[durable_object]
pub struct Feed {
    state: State,
    /// The raw storage object, for `transactionSync` (not wrapped by the `worker` crate).
    storage: JsValue,
    env: Env,
    live: RefCell<Live>,
    /// Its subscribers' sockets (a hub's upstream socket among them).
    subscribers: RefCell<Subscribers>,
    /// When the alarm is set for, once read or set (`None`: not known yet).
    alarm_at: Cell<Option<Option<UnixTime>>>,
}

impl Feed {
    fn count_request(&self) {
        let mut live = self.live.borrow_mut();
        live.requests += 1;
        live.woke_at.get_or_insert_with(now);
    }

    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn ensure_schema(&self) -> Result<()> {
        if !self.live.borrow().schema_ready {
            store::create_schema(&self.sql())?;
            self.live.borrow_mut().schema_ready = true;
        }
        Ok(())
    }

    /// `narrow`, once the index it reads through exists: created on first use while the
    /// feed holds fewer than the bound ([`pushdown::may_create_index`]); past it, SQL still
    /// narrows the read, scanning the collection.
    fn narrowed(&self, narrow: Option<FieldEquals>) -> Result<Option<FieldEquals>> {
        let Some(narrow) = narrow else { return Ok(None) };
        let sql = self.sql();
        let mut live = self.live.borrow_mut();
        if live.field_indexes.is_none() {
            live.field_indexes = Some(store::field_indexes(&sql)?);
        }
        let indexes = live.field_indexes.get_or_insert_default();
        let name = narrow.index_name();
        if !indexes.contains(&name) && pushdown::may_create_index(indexes.len()) {
            store::create_field_index(&sql, &narrow)?;
            indexes.insert(name);
        }
        Ok(Some(narrow))
    }

    /// The next commit stamp: strictly after the last one, so the delivery log lists rows
    /// in commit order ([`commit_stamp`](hookfeed_core::delivery_log::commit_stamp)).
    fn commit_stamp(&self, now: UnixTime) -> Result<UnixTime> {
        let last = match self.live.borrow().last_stamp {
            Some(last) => Some(last),
            None => store::last_commit_stamp(&self.sql())?,
        };
        let stamp = hookfeed_core::delivery_log::commit_stamp(last, now);
        self.live.borrow_mut().last_stamp = Some(stamp.as_millis());
        Ok(stamp)
    }

    fn head(&self) -> Result<Seq> {
        if let Some(head) = self.live.borrow().head {
            return Ok(head);
        }
        let head = head_seq(&self.sql())?;
        self.live.borrow_mut().head = Some(head);
        Ok(head)
    }

    async fn subscribe(&self, req: &Request) -> Result<Response> {
        let per_client = config::load(&self.env).map_or(config::DEFAULT_SOCKETS_PER_CLIENT, |c| c.sockets_per_client);
        let (response, exp) = self.subscribers.borrow_mut().accept(&self.state, req, per_client)?;
        if let Some(exp) = exp {
            // At the token's expiry the alarm ends the socket's listens, even if nothing changes.
            alarm_by(&self.state, &self.alarm_at, UnixTime::from_secs(exp)).await;
        }
        Ok(response)
    }

    /// The snapshot of a listen: an owner's query reads only the owner's documents in SQL
    /// ([`pushdown::for_listen`]); [`snapshot`] filters them as it does any.
    fn snapshot_for(&self, pending: &PendingListen) -> Result<ServerMessage> {
        let (request, guard) = (&pending.request, pending.guard.as_ref());
        let head = self.head()?;
        if live_only(&pending.state, request) {
            return Ok(live_start(request.id, head));
        }
        let sql = self.sql();
        let docs = match &request.target {
            Target::Document(path) => read_documents(&sql, Some(path), path.collection(), None, None)?,
            Target::Collection(q) => {
                let narrow = self.narrowed(pushdown::for_listen(&pending.state.claims, &request.target, guard))?;
                // A `since` ahead of the feed gets a full snapshot (`snapshot` drops it): read
                // every document, not only those after it.
                let since = request.resume_since().filter(|since| *since <= head);
                read_documents(&sql, None, &q.collection, since, narrow.as_ref())?
            }
        };
        Ok(snapshot(request, guard, docs, head))
    }

    fn on_frame(&self, ws: &WebSocket, text: &str) -> Result<()> {
        let pending = self.subscribers.borrow_mut().on_frame(&self.state, ws, text)?;
        if let Some(pending) = pending {
            let head = self.head()?;
            self.subscribers.borrow_mut().answer(ws, &pending, head, || self.snapshot_for(&pending))?;
        }
        Ok(())
    }

    /// [`DROP_HUBS_PATH`] (dev mode's fault injection): closes every hub's upstream socket,
    /// as a deploy or an eviction of this object would, so that tests can watch hubs
    /// reconnect and their subscribers miss nothing.
    fn drop_hubs(&self) -> Result<Response> {
        let mut dropped = 0;
        for ws in self.state.get_websockets() {
            let is_hub = ws
                .deserialize_attachment::<hookfeed_core::fanout::SocketState>()
                .ok()
                .flatten()
                .is_some_and(|s| s.client.as_deref() == Some(HUB_CLIENT));
            if is_hub {
                self.subscribers.borrow_mut().forget(&ws);
                let _ = ws.close(Some(1012), Some("the feed is restarting"));
                dropped += 1;
            }
        }
        Reply::Json(json!({ "dropped": dropped })).into_response()
    }

    /// [`MIRROR_PATH`]: what a hub loads, a collection or one document, each with the seq
    /// of its last change, and the seq they are current at. One object, one thread: the
    /// two are consistent.
    async fn mirror(&self, mut req: Request) -> Result<Response> {
        #[derive(serde::Deserialize)]
        struct Paths {
            paths: Vec<DocPath>,
        }
        self.live.borrow_mut().mirror_loads += 1;
        let sql = self.sql();
        let docs = match query(&req, "collection") {
            Some(collection) => read_documents(&sql, None, &collection, None, None)?,
            // A batch of documents, as `POST {"paths": [...]}`.
            None => match req.json::<Paths>().await {
                Ok(Paths { paths }) => {
                    let mut docs = Vec::with_capacity(paths.len());
                    for path in &paths {
                        docs.extend(read_documents(&sql, Some(path), path.collection(), None, None)?);
                    }
                    docs
                }
                Err(e) => {
                    return Reply::BadRequest(format!("pass ?collection= or POST {{\"paths\": [...]}}: {e}"))
                        .into_response()
                }
            },
        };
        Reply::Json(json!({"docs": docs, "seq": self.head()?})).into_response()
    }

    /// `GET /docs`: a document or a collection, as the Worker asks on a subscriber's
    /// behalf. Under an owner-scoped token, only documents that meet its guard are shown;
    /// another owner's document is not found, like one that does not exist. A collection
    /// read under a guard reads only the owner's documents in SQL.
    fn documents(&self, req: &Request) -> Result<Response> {
        let sql = self.sql();
        let guard: Option<Filter> = match query(req, GUARD_PARAM).map(|g| serde_json::from_str(&g)) {
            None => None,
            Some(Ok(guard)) => Some(guard),
            Some(Err(e)) => {
                return Reply::BadRequest(format!("the Worker passed an unreadable guard: {e}")).into_response()
            }
        };
        let shown = |data: &serde_json::Map<String, serde_json::Value>| guard.as_ref().is_none_or(|g| g.matches(data));
        if let Some(path) = query(req, "path").and_then(|p| p.parse::<DocPath>().ok()) {
            let doc =
                read_documents(&sql, Some(&path), path.collection(), None, None)?.pop().filter(|d| shown(&d.data));
            return match doc {
                Some(doc) => Reply::Json(json!({"path": doc.path, "data": doc.data, "seq": doc.seq})),
                None => Reply::NotFound(format!("no document {path} yet")),
            }
            .into_response();
        }
        let collection = query(req, "collection").unwrap_or_default();
        let narrow = self.narrowed(guard.as_ref().and_then(FieldEquals::from_filter))?;
        let docs: Vec<_> = read_documents(&sql, None, &collection, None, narrow.as_ref())?
            .into_iter()
            .filter(|d| shown(&d.data))
            .map(|d| json!({"path": d.path, "data": d.data, "seq": d.seq}))
            .collect();
        Reply::Json(json!({"docs": docs, "seq": self.head()?})).into_response()
    }

    /// `GET /deliveries`: one page of what the feed stored, as the Worker asks (it
    /// checked the admin token and the query, and merges the edge's refusals in).
    fn deliveries(&self, req: &Request) -> Result<Response> {
        let log_query = match LogQuery::from_params(|name| query(req, name)) {
            Ok(log_query) => log_query,
            Err(e) => return Reply::BadRequest(e.to_string()).into_response(),
        };
        let deliveries = store::read_deliveries(&self.sql(), &log_query)?;
        Reply::Json(serde_json::to_value(LogPage { deliveries, next: None })?).into_response()
    }

    fn health(&self) -> Result<Response> {
        let sql = self.sql();
        let (events, documents, replay_keys) = store::counts(&sql)?;
        Reply::Json(json!({
            "events": events,
            "documents": documents,
            "replay_keys": replay_keys,
            "subscribers": self.state.get_websockets().len(),
            "sent": self.subscribers.borrow().figures(),
            "frames_sent": self.subscribers.borrow().frames_sent(),
            "seq": self.head()?,
            "database_bytes": sql.database_size(),
            "requests_since_wake": self.live.borrow().requests,
            "mirror_loads": self.live.borrow().mirror_loads,
            "handoffs": {
                "requests": self.live.borrow().handoff_requests,
                "deliveries": self.live.borrow().handoff_deliveries,
                "largest": self.live.borrow().largest_handoff,
            },
            "woke_at": self.live.borrow().woke_at.map(UnixTime::to_rfc3339),
        }))
        .into_response()
    }
}

impl DurableObject for Feed {
    fn new(state: State, env: Env) -> Self {
        let raw = state._inner();
        let storage = js_sys::Reflect::get(&raw, &JsValue::from_str("storage")).unwrap_or(JsValue::UNDEFINED);
        let state = State::from(raw);
        // Pings are answered by the runtime without waking the object.
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        Self {
            state,
            storage,
            env,
            live: RefCell::new(Live::default()),
            subscribers: RefCell::new(Subscribers::default()),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.count_request();
        self.ensure_schema()?;
        let path = req.path();
        match path.as_str() {
            HANDOFF_PATH => self.ingest(req).await,
            HANDOFF_BATCH_PATH => self.ingest_batch(req).await,
            "/subscribe" => self.subscribe(&req).await,
            "/docs" => self.documents(&req),
            MIRROR_PATH => self.mirror(req).await,
            DROP_HUBS_PATH => self.drop_hubs(),
            "/deliveries" => self.deliveries(&req),
            "/health" => self.health(),
            _ => Reply::NotFound("no such feed route".to_owned()).into_response(),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        self.count_request();
        self.ensure_schema()?;
        match message {
            WebSocketIncomingMessage::String(text) => self.on_frame(&ws, &text),
            WebSocketIncomingMessage::Binary(_) => Subscribers::refuse_binary(&ws),
        }
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        self.subscribers.borrow_mut().closed(&ws, code, reason);
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.subscribers.borrow_mut().forget(&ws);
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.ensure_schema()?;
        self.alarm_at.set(Some(None));
        // Sockets whose token ran out: their listens end now, not at the next change.
        let now = now();
        let next_expiry = self.subscribers.borrow_mut().end_expired(&self.state, now);
        let (retention_days, replay_days) = config::load(&self.env)
            .map_or((config::DEFAULT_RETENTION_DAYS, config::DEFAULT_REPLAY_DAYS), |c| {
                (c.retention_days, c.replay_days)
            });
        store::prune(
            &self.sql(),
            now,
            retention::cutoff(now, retention_days),
            retention::cutoff(now, replay_days),
            retention::MAX_DELIVERY_ROWS,
        )?;
        alarm_by(&self.state, &self.alarm_at, retention::next_alarm(now, next_expiry)).await;
        Response::ok("pruned")
    }
}
