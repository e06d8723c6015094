//! The `Feed` Durable Object: one per tenant. It owns the tenant's event log, documents
//! and delivery log in SQLite, and its subscribers' hibernating WebSockets.
//!
//! Every decision is core's: [`VerifiedDelivery::from_handoff`], [`ingest`] and what the
//! delivery log records ([`Ingested::redelivery_record`]), [`SocketState::handle_frame`],
//! [`SubscriptionIndex::recipients`], [`window_delta`], [`snapshot`], and the log's
//! [`retention`]. Every SQL statement is in `store`. This file moves bytes between them and
//! the platform.

// `#[durable_object]` generates undocumented glue; the items written here are documented.
#![allow(missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

use hookfeed_core::batch;
use hookfeed_core::delivery::Handoff;
use hookfeed_core::delivery_log::{LogPage, LogQuery};
use hookfeed_core::fanout::{live_only, live_start, rewind, snapshot};
use hookfeed_core::ledger::{ingest, retention, DocChange, Ingested, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{ServerMessage, Target};
use hookfeed_core::pushdown::{self, FieldEquals};
use hookfeed_core::query::Filter;
use hookfeed_core::rate::RateLimiter;
use hookfeed_core::{UnixTime, VerifiedDelivery};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State, WebSocket,
    WebSocketIncomingMessage, WebSocketRequestResponsePair,
};

use crate::config;
use crate::hop::{
    now, query, DROP_HUBS_PATH, GUARD_PARAM, HANDOFF_BATCH_PATH, HANDOFF_HEADER, HANDOFF_PATH, HUB_CLIENT, MIRROR_PATH,
};
use crate::reply::Reply;
use crate::store::{self, head_seq, read_documents, DocumentCache, SqlFeedStore};
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

/// A delivery of a hand-off rebuilt for [`Feed::commit`] (its source's name and the
/// delivery), or the refusal it gets alone.
type Prepared = std::result::Result<(String, VerifiedDelivery), Reply>;

/// Rebuilds one handed-off delivery ([`VerifiedDelivery::from_handoff`]); a hand-off that
/// does not parse, names no configured source, or whose body does not parse as the edge
/// verified it is refused alone.
fn prepare(config: &config::Config, handoff: std::result::Result<Handoff, ()>, raw: Vec<u8>) -> Prepared {
    let Ok(handoff) = handoff else {
        return Err(Reply::BadRequest("not a hand-off from the edge Worker".to_owned()));
    };
    let name = handoff.source.clone();
    let Some(source) = config.source(&name) else { return Err(Reply::UnknownSource(name)) };
    match VerifiedDelivery::from_handoff(source, &handoff, raw) {
        Ok(delivery) => Ok((name, delivery)),
        Err(e) => {
            worker::console_error!("a hand-off to the feed did not parse as the edge verified it: {e}");
            Err(Reply::Rejected(e))
        }
    }
}

/// A delivery on its way into [`Feed::commit`]'s transaction.
struct Item {
    name: String,
    budget_key: String,
    per_minute: u32,
    delivery: VerifiedDelivery,
    stamp: UnixTime,
}

/// What one delivery's savepoint came to.
enum Saved {
    /// Committed with the batch (stored, or a duplicate), with the documents it wrote.
    Ok(String, Ingested, Vec<(DocPath, hookfeed_core::projection::DocumentState)>),
    /// A new event over its source's budget: rolled back alone.
    RateLimited(hookfeed_core::rate::RateLimited),
    /// Its savepoint failed: rolled back alone.
    Failed(String, String),
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

    /// A delivery the edge Worker verified ([`HANDOFF_PATH`]): stored and projected as
    /// [`commit`](Self::commit) says, and answered.
    async fn ingest(&self, mut req: Request) -> Result<Response> {
        let config = match config::load(&self.env) {
            Ok(config) => config,
            Err(e) => return Reply::BadConfiguration(e.to_string()).into_response(),
        };
        let handoff = match req.headers().get(HANDOFF_HEADER)?.map(|h| serde_json::from_str::<Handoff>(&h)) {
            Some(Ok(handoff)) => Ok(handoff),
            _ => Err(()),
        };
        let prepared = prepare(&config, handoff, req.bytes().await?);
        self.count_handoff(1);
        let mut replies = self.commit(config, vec![prepared]).await?;
        replies.pop().unwrap_or(Reply::StorageFailed).into_response()
    }

    /// A batch of verified deliveries ([`HANDOFF_BATCH_PATH`], framed as
    /// [`hookfeed_core::batch`] says): committed together, each answered as alone.
    async fn ingest_batch(&self, mut req: Request) -> Result<Response> {
        let config = match config::load(&self.env) {
            Ok(config) => config,
            Err(e) => return Reply::BadConfiguration(e.to_string()).into_response(),
        };
        let body = req.bytes().await?;
        let frames = match batch::parse_frames(&body) {
            Ok(frames) => frames,
            Err(e) => return Reply::BadRequest(e.to_string()).into_response(),
        };
        self.count_handoff(frames.len() as u64);
        let prepared = frames.iter().map(|f| prepare(&config, f.handoff().map_err(|_| ()), f.body.to_vec())).collect();
        let replies = self.commit(config, prepared).await?;
        let outcomes = replies.into_iter().map(Reply::into_outcome).collect::<Result<Vec<_>>>()?;
        Reply::Json(serde_json::to_value(batch::BatchAnswer { outcomes })?).into_response()
    }

    fn count_handoff(&self, deliveries: u64) {
        let mut live = self.live.borrow_mut();
        live.handoff_requests += 1;
        live.handoff_deliveries += deliveries;
        live.largest_handoff = live.largest_handoff.max(deliveries);
    }

    /// Stores and projects verified deliveries, in the order given, in one transaction,
    /// each in its own savepoint (a nested `transactionSync`: an inner call that throws
    /// rolls back its own writes alone, as bench/nested-transactions shows under workerd);
    /// then fans the changes out. Each is deduplicated, ordered and projected exactly as
    /// it would be alone, and answered as alone:
    ///
    /// - only a new event spends its source's rate budget: a duplicate (a provider's
    ///   retry, or a replay of captured content) is answered as one whatever the budget
    ///   says, and a new event past the budget is rolled back (its savepoint) and refused;
    /// - a delivery already refused (`Err`) stays refused, and the others commit;
    /// - if the transaction as a whole fails, nothing is stored and every delivery that
    ///   reached it is answered 503 (the provider retries).
    ///
    /// Nothing here verifies again: see [`VerifiedDelivery::from_handoff`] for why it need not.
    async fn commit(&self, config: Rc<config::Config>, prepared: Vec<Prepared>) -> Result<Vec<Reply>> {
        let now = now();
        let sql = self.sql();
        let mut items = Vec::with_capacity(prepared.len());
        let mut replies: Vec<Option<Reply>> = Vec::with_capacity(prepared.len());
        for p in prepared {
            match p {
                Err(reply) => {
                    items.push(None);
                    replies.push(Some(reply));
                }
                Ok((name, delivery)) => {
                    let budget_key = format!("source:{name}");
                    let per_minute = config.source(&name).map_or(0, |s| s.rate_limit_per_minute);
                    if !self.live.borrow().limiter.knows(&budget_key) {
                        // Woken from hibernation (or new): the budget goes on from what the
                        // last minute spent, rather than starting full.
                        let used = store::stored_in_last_minute(&sql, &name, now)?;
                        self.live.borrow_mut().limiter.seed(&budget_key, used, per_minute, now);
                    }
                    // The delivery log's time for what this delivery writes: after every
                    // earlier commit's, and after the batch's earlier deliveries'.
                    let stamp = self.commit_stamp(crate::hop::now())?;
                    items.push(Some(Item { name, budget_key, per_minute, delivery, stamp }));
                    replies.push(None);
                }
            }
        }

        // The budget is spent inside the transaction as deliveries are stored, on a copy
        // that replaces the live one only once the transaction commits. Nothing awaits
        // between here and there, so the live budget cannot change meanwhile.
        let limiter = Rc::new(RefCell::new(self.live.borrow().limiter.clone()));
        let spent = limiter.clone();
        let documents = self.live.borrow().documents.clone();
        let storage = self.storage.clone();
        let tx_sql = sql.clone();
        let outcome = store::transaction(&self.storage, move || {
            let mut results = Vec::with_capacity(items.len());
            for item in items {
                let Some(item) = item else {
                    results.push(None);
                    continue;
                };
                let over_budget = spent.borrow().peek(&item.budget_key, item.per_minute, now).err();
                let refused = Rc::new(Cell::new(false));
                let refused_in = refused.clone();
                let (sql, cache, config) = (tx_sql.clone(), documents.clone(), config.clone());
                let Item { name, budget_key, per_minute, delivery, stamp } = item;
                let source_name = name.clone();
                let saved = store::transaction(&storage, move || {
                    let rules = config.source(&source_name).map_or(&[][..], |s| s.rules.as_slice());
                    let mut store = SqlFeedStore::new(&sql, &cache, stamp);
                    let outcome = ingest(&mut store, &delivery, rules)?;
                    if over_budget.is_some() && matches!(outcome, Ingested::Stored { .. }) {
                        // A new event past the budget: throwing rolls back its savepoint.
                        refused_in.set(true);
                        return Err(worker::Error::RustError("over the source's rate limit".to_owned()));
                    }
                    let written = store.into_written();
                    if let Some(record) = outcome.redelivery_record() {
                        store::log_redelivery(&sql, stamp, delivery.event(), &record, retention::MAX_DELIVERY_ROWS)?;
                    }
                    if let Ingested::Stored { seq, late: true, .. } = &outcome {
                        store::mark_late(&sql, *seq)?;
                    }
                    Ok((outcome, written))
                });
                results.push(Some(match (saved, over_budget) {
                    (Ok((outcome, written)), _) => {
                        if matches!(outcome, Ingested::Stored { .. }) {
                            // Only a new event counts against the budget.
                            let _ = spent.borrow_mut().check(&budget_key, per_minute, now);
                        }
                        Saved::Ok(name, outcome, written)
                    }
                    (Err(_), Some(limited)) if refused.get() => Saved::RateLimited(limited),
                    (Err(e), _) => Saved::Failed(name, e.to_string()),
                }));
            }
            Ok(results)
        });

        let results = match outcome {
            Ok(results) => results,
            Err(e) => {
                worker::console_error!("storage failed for a hand-off of {} deliveries: {e}", replies.len());
                // Nothing was stored; what took documents out of the cache left misses,
                // which read SQLite.
                return Ok(replies.into_iter().map(|r| r.unwrap_or(Reply::StorageFailed)).collect());
            }
        };
        self.live.borrow_mut().limiter = limiter.take();
        let mut stored_any = false;
        let mut changes = Vec::new();
        for (slot, result) in replies.iter_mut().zip(results) {
            let Some(result) = result else { continue };
            *slot = Some(match result {
                Saved::RateLimited(limited) => Reply::RateLimited(limited),
                Saved::Failed(name, e) => {
                    worker::console_error!("storage failed for a delivery to {name}: {e}");
                    Reply::StorageFailed
                }
                Saved::Ok(name, outcome, written) => {
                    self.live.borrow().documents.borrow_mut().commit(written);
                    match outcome {
                        Ingested::Stored { seq, change, late, .. } => {
                            stored_any = true;
                            {
                                let mut live = self.live.borrow_mut();
                                live.head = Some(live.head.map_or(seq, |h| h.max(seq)));
                            }
                            changes.extend(change);
                            Reply::Received { duplicate: false, conflict: false, out_of_order: late, seq }
                        }
                        Ingested::Duplicate { seq } => {
                            Reply::Received { duplicate: true, conflict: false, out_of_order: false, seq }
                        }
                        Ingested::Conflict { seq } => {
                            worker::console_log!(
                                "conflicting redelivery to {name}: same event id, different body (first at seq {seq})"
                            );
                            Reply::Received { duplicate: true, conflict: true, out_of_order: false, seq }
                        }
                    }
                }
            });
        }
        self.broadcast(&changes);
        if stored_any && self.alarm_at.get().is_none() {
            alarm_by(&self.state, &self.alarm_at, retention::next_alarm(now, None)).await;
        }
        Ok(replies.into_iter().map(|r| r.unwrap_or(Reply::StorageFailed)).collect())
    }

    /// Sends `changes`, committed together in this order, to the listens they concern
    /// (hubs' among them). A limited query's delta reads its collection as of its change:
    /// as committed, with the batch's later changes undone ([`rewind`]), so that each is
    /// sent as it would have been alone.
    fn broadcast(&self, changes: &[DocChange]) {
        if changes.is_empty() {
            return;
        }
        self.subscribers.borrow_mut().ensure_index(&self.state);
        let sql = self.sql();
        for (i, change) in changes.iter().enumerate() {
            let collection = change.path.collection();
            let later = &changes[i + 1..];
            self.subscribers.borrow_mut().broadcast(change, || {
                let mut docs = read_documents(&sql, None, collection, None, None)?;
                rewind(&mut docs, collection, later);
                Ok(docs)
            });
        }
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
