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

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use hookfeed_core::delivery::Handoff;
use hookfeed_core::fanout::{
    snapshot, window_delta, ChangeFrame, SocketAction, SocketId, SocketState, SubscriptionIndex,
};
use hookfeed_core::ledger::{ingest, retention, ChangeKind, DocChange, Ingested, Seq};
use hookfeed_core::path::DocPath;
use hookfeed_core::protocol::{CollectionQuery, ErrorCode, ListenRequest, ServerMessage, Target};
use hookfeed_core::rate::RateLimiter;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::{UnixTime, VerifiedDelivery};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

use crate::config;
use crate::hop::{now, query, CLAIMS_HEADER, CLIENT_IP_HEADER, GUARD_PARAM, HANDOFF_HEADER, HANDOFF_PATH};
use crate::reply::Reply;
use crate::store::{self, head_seq, read_documents, DocumentCache, SqlFeedStore};
use hookfeed_core::log::LogQuery;
use hookfeed_core::query::Filter;
use hookfeed_wire::SUBPROTOCOL;

/// The close code of a socket whose token expired (4000-4999 are the application's).
const TOKEN_EXPIRED_CLOSE: u16 = 4001;

/// In-memory state, rebuilt lazily after the object wakes from hibernation.
#[derive(Default)]
struct Live {
    schema_ready: bool,
    /// Built from the sockets' attachments on first need.
    index: Option<SubscriptionIndex>,
    sockets: HashMap<SocketId, WebSocket>,
    head: Option<Seq>,
    /// Verified deliveries per source (refused ones never reach a feed).
    limiter: RateLimiter,
    /// When the alarm is set for, once read or set (`None`: not known yet).
    alarm_at: Option<Option<UnixTime>>,
    /// Requests and socket events handled since the object woke, and when it woke: what
    /// shows that refused traffic never reaches it.
    requests: u64,
    woke_at: Option<UnixTime>,
    /// Shared with the storage transaction's callback, which must own what it uses.
    documents: Rc<RefCell<DocumentCache>>,
}

/// One tenant's feed.
#[durable_object]
pub struct Feed {
    state: State,
    /// The raw storage object, for `transactionSync` (not wrapped by the `worker` crate).
    storage: JsValue,
    env: Env,
    live: RefCell<Live>,
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

    fn head(&self) -> Result<Seq> {
        if let Some(head) = self.live.borrow().head {
            return Ok(head);
        }
        let head = head_seq(&self.sql())?;
        self.live.borrow_mut().head = Some(head);
        Ok(head)
    }

    /// Rebuilds the subscription index from the sockets' attachments, once per wake-up.
    fn ensure_index(&self) {
        let mut live = self.live.borrow_mut();
        if live.index.is_some() {
            return;
        }
        let mut index = SubscriptionIndex::default();
        for ws in self.state.get_websockets() {
            if let Ok(Some(state)) = ws.deserialize_attachment::<SocketState>() {
                index.add_socket(&state);
                live.sockets.insert(state.sid, ws);
            }
        }
        live.index = Some(index);
    }

    /// A delivery the edge Worker verified ([`HANDOFF_PATH`]): rate-limit its source,
    /// then store and project it in one transaction, and fan the change out. Nothing here
    /// verifies again: see [`VerifiedDelivery::from_handoff`] for why it need not.
    async fn ingest(&self, mut req: Request) -> Result<Response> {
        let config = match config::load(&self.env) {
            Ok(config) => config,
            Err(e) => return Reply::BadConfiguration(e.to_string()).into_response(),
        };
        let handoff: Handoff = match req.headers().get(HANDOFF_HEADER)?.map(|h| serde_json::from_str(&h)) {
            Some(Ok(handoff)) => handoff,
            _ => return Reply::BadRequest("not a hand-off from the edge Worker".to_owned()).into_response(),
        };
        let name = handoff.source.clone();
        let Some(source) = config.source(&name) else { return Reply::UnknownSource(name).into_response() };
        let now = now();
        let limited =
            self.live.borrow_mut().limiter.check(&format!("source:{name}"), source.rate_limit_per_minute, now);
        if let Err(limited) = limited {
            // The edge records it among its refusals; the feed stores nothing.
            return Reply::RateLimited(limited).into_response();
        }
        let delivery = match VerifiedDelivery::from_handoff(source, &handoff, req.bytes().await?) {
            Ok(delivery) => delivery,
            Err(e) => {
                worker::console_error!("a hand-off to the feed did not parse as the edge verified it: {e}");
                return Reply::Rejected(e).into_response();
            }
        };

        let sql = self.sql();
        // The callback must own what it uses: share the configuration rather than copy
        // the source's rules.
        let shared = config.clone();
        let source_name = name.clone();
        let documents = self.live.borrow().documents.clone();
        let cache = documents.clone();
        let outcome = store::transaction(&self.storage, move || {
            let rules = shared.source(&source_name).map_or(&[][..], |s| s.rules.as_slice());
            let mut store = SqlFeedStore::new(&sql, &cache);
            let outcome = ingest(&mut store, &delivery, rules)?;
            let written = store.into_written();
            if let Some(record) = outcome.redelivery_record() {
                store::log_redelivery(&sql, delivery.received_at(), delivery.event(), &record)?;
            }
            if let Ingested::Stored { seq, late: true, .. } = &outcome {
                store::mark_late(&sql, *seq)?;
            }
            Ok((outcome, written))
        });
        let outcome = outcome.map(|(outcome, written)| {
            documents.borrow_mut().commit(written);
            outcome
        });

        let reply = match outcome {
            Err(e) => {
                worker::console_error!("storage failed for a delivery to {name}: {e}");
                Reply::StorageFailed
            }
            Ok(Ingested::Stored { seq, change, late, .. }) => {
                {
                    let mut live = self.live.borrow_mut();
                    live.head = Some(live.head.map_or(seq, |h| h.max(seq)));
                }
                if let Some(change) = change {
                    self.broadcast(&change);
                }
                if self.live.borrow().alarm_at.is_none() {
                    self.alarm_by(retention::next_alarm(now, None)).await;
                }
                Reply::Received { duplicate: false, conflict: false, out_of_order: late, seq }
            }
            Ok(Ingested::Duplicate { seq }) => {
                Reply::Received { duplicate: true, conflict: false, out_of_order: false, seq }
            }
            Ok(Ingested::Conflict { seq }) => {
                worker::console_log!(
                    "conflicting redelivery to {name}: same event id, different body (first at seq {seq})"
                );
                Reply::Received { duplicate: true, conflict: true, out_of_order: false, seq }
            }
        };
        reply.into_response()
    }

    /// Sends `change` to the listens it concerns, then ends the listens of sockets whose
    /// token ran out.
    fn broadcast(&self, change: &DocChange) {
        self.ensure_index();
        let now = now();
        let mut expired: Vec<SocketId> = Vec::new();
        self.send_changes(change, now, &mut expired);
        self.send_window_deltas(change, now, &mut expired);
        for sid in expired {
            let ws = self.live.borrow().sockets.get(&sid).cloned();
            if let Some(ws) = ws {
                self.end_listens(&ws);
            }
        }
    }

    /// The change frames of the listens `change` reaches (all but limited queries). The
    /// frame text is built and turned into a JS string once per (listen id, kind) — most
    /// clients number their first listen 1 — so a broadcast to a thousand sockets encodes
    /// the document once, not a thousand times.
    fn send_changes(&self, change: &DocChange, now: UnixTime, expired: &mut Vec<SocketId>) {
        let live = self.live.borrow();
        let Some(index) = &live.index else { return };
        let recipients = index.recipients(change);
        let Some(first) = recipients.iter().find_map(|r| live.sockets.get(&r.sid)) else { return };
        let Ok(send) = js_sys::Reflect::get(AsRef::<web_sys::WebSocket>::as_ref(first), &JsValue::from_str("send"))
            .and_then(|f| f.dyn_into::<js_sys::Function>())
        else {
            return;
        };
        let frame = ChangeFrame::new(change);
        let mut texts: Vec<((u32, ChangeKind), JsValue)> = Vec::new();
        for recipient in &recipients {
            let Some(ws) = live.sockets.get(&recipient.sid) else { continue };
            // A token that ran out stops the change here: the socket's listens end, and its
            // client refreshes and resumes from the seq it has.
            if index.expired(recipient.sid, now) {
                if !expired.contains(&recipient.sid) {
                    expired.push(recipient.sid);
                }
                continue;
            }
            let key = (recipient.listen_id, recipient.kind);
            let text = match texts.iter().find(|(k, _)| *k == key) {
                Some((_, text)) => text.clone(),
                None => {
                    let text = JsValue::from_str(&frame.for_recipient(recipient));
                    texts.push((key, text.clone()));
                    text
                }
            };
            // A socket that fails here is closing; its close event unindexes it.
            let _ = send.call1(AsRef::<web_sys::WebSocket>::as_ref(ws), &text);
        }
    }

    /// Limited queries of the change's collection: which documents each holds is
    /// recomputed from the collection (read once, and once per distinct query), and a
    /// listener whose window changed gets a delta snapshot.
    fn send_window_deltas(&self, change: &DocChange, now: UnixTime, expired: &mut Vec<SocketId>) {
        let live = self.live.borrow();
        let Some(index) = &live.index else { return };
        let limited = index.limited_recipients(change);
        if limited.is_empty() {
            return;
        }
        let after = match read_documents(&self.sql(), None, change.path.collection(), None) {
            Ok(docs) => docs,
            Err(e) => {
                worker::console_error!("could not read {} for its limited queries: {e}", change.path.collection());
                return;
            }
        };
        let mut deltas: Vec<(&CollectionQuery, Option<ServerMessage>)> = Vec::new();
        for (sid, listen_id, query) in limited {
            let Some(ws) = live.sockets.get(&sid) else { continue };
            if index.expired(sid, now) {
                if !expired.contains(&sid) {
                    expired.push(sid);
                }
                continue;
            }
            let delta = match deltas.iter().find(|(q, _)| *q == query) {
                Some((_, delta)) => delta.clone(),
                None => {
                    let delta = window_delta(0, query, &after, change);
                    deltas.push((query, delta.clone()));
                    delta
                }
            };
            if let Some(mut delta) = delta {
                if let ServerMessage::Snapshot { id, .. } = &mut delta {
                    *id = listen_id;
                }
                let _ = ws.send_with_str(delta.to_json());
            }
        }
    }

    /// Ends every listen of a socket whose token has expired: each gets `unauthenticated`
    /// (the browser module then asks `getToken` for a fresh token and listens again with
    /// `since`, so nothing is lost or repeated), and the socket is closed.
    fn end_listens(&self, ws: &WebSocket) {
        let Ok(Some(mut state)) = ws.deserialize_attachment::<SocketState>() else { return };
        self.forget(ws);
        let (_, frames) = state.expire();
        for frame in frames {
            let _ = ws.send_with_str(frame.to_json());
        }
        let _ = ws.close(Some(TOKEN_EXPIRED_CLOSE), Some("token expired: refresh it and reconnect"));
    }

    /// Makes sure the alarm fires at `at` or earlier: it prunes the log, and ends the
    /// listens of sockets whose token expires.
    async fn alarm_by(&self, at: UnixTime) {
        let storage = self.state.storage();
        let known = self.live.borrow().alarm_at;
        let scheduled = match known {
            Some(scheduled) => scheduled,
            None => match storage.get_alarm().await {
                Ok(ms) => ms.map(UnixTime),
                Err(e) => {
                    worker::console_error!("could not read the alarm: {e}");
                    return;
                }
            },
        };
        if scheduled.is_some_and(|t| t <= at) {
            self.live.borrow_mut().alarm_at = Some(scheduled);
            return;
        }
        let offset_ms = (at.as_millis() - now().as_millis()).max(0);
        match storage.set_alarm(offset_ms).await {
            Ok(()) => self.live.borrow_mut().alarm_at = Some(Some(at)),
            Err(e) => worker::console_error!("could not schedule the alarm: {e}"),
        }
    }

    async fn subscribe(&self, req: &Request) -> Result<Response> {
        let claims: TokenClaims = match req.headers().get(CLAIMS_HEADER)?.map(|c| serde_json::from_str(&c)) {
            Some(Ok(claims)) => claims,
            _ => return Reply::MissingToken("the Worker passed no verified claims").into_response(),
        };
        self.ensure_index();
        let client = req.headers().get(CLIENT_IP_HEADER)?.unwrap_or_else(|| "unknown".to_owned());
        let per_client = config::load(&self.env).map_or(config::DEFAULT_SOCKETS_PER_CLIENT, |c| c.sockets_per_client);
        let open = self.live.borrow().index.as_ref().map_or(0, |index| index.sockets_from(&client));
        if per_client > 0 && open >= per_client {
            return Reply::TooManySockets(per_client).into_response();
        }
        let pair = WebSocketPair::new()?;
        // From the index, which knows every open socket: no counter in SQLite to write
        // (and wait for) on each connect.
        let state = {
            let mut live = self.live.borrow_mut();
            let index = live.index.get_or_insert_with(SubscriptionIndex::default);
            let state = SocketState::new(index.next_socket_id(), claims).from_client(&client);
            index.add_socket(&state);
            state
        };
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(&state)?;
        self.live.borrow_mut().sockets.insert(state.sid, pair.server);
        // At the token's expiry the alarm ends the socket's listens, even if nothing changes.
        self.alarm_by(UnixTime::from_secs(state.claims.exp)).await;
        let mut response = Response::from_websocket(pair.client)?;
        let offered = req.headers().get("sec-websocket-protocol")?.unwrap_or_default();
        if offered.split(',').any(|p| p.trim() == SUBPROTOCOL) {
            response.headers_mut().set("Sec-WebSocket-Protocol", SUBPROTOCOL)?;
        }
        Ok(response)
    }

    fn snapshot_for(&self, request: &ListenRequest, guard: Option<&Filter>) -> Result<ServerMessage> {
        let sql = self.sql();
        let docs = match &request.target {
            Target::Document(path) => read_documents(&sql, Some(path), path.collection(), None)?,
            Target::Collection(q) => read_documents(&sql, None, &q.collection, request.resume_since())?,
        };
        Ok(snapshot(request, guard, docs, self.head()?))
    }

    fn on_frame(&self, ws: &WebSocket, text: &str) -> Result<()> {
        let Some(mut state) = ws.deserialize_attachment::<SocketState>()? else {
            ws.close(Some(1011), Some("socket state lost: reconnect"))?;
            return Ok(());
        };
        self.ensure_index();
        match state.handle_frame(text, now()) {
            Err(refusal) => ws.send_with_str(refusal.to_json())?,
            Ok(SocketAction::Listen(request, guard)) => {
                ws.serialize_attachment(&state)?;
                let snapshot = self.snapshot_for(&request, guard.as_ref())?;
                {
                    let mut live = self.live.borrow_mut();
                    live.sockets.entry(state.sid).or_insert_with(|| ws.clone());
                    if let (Some(index), Some(listen)) =
                        (live.index.as_mut(), state.listens.iter().find(|l| l.id == request.id))
                    {
                        index.add(state.sid, listen);
                    }
                }
                ws.send_with_str(snapshot.to_json())?;
            }
            Ok(SocketAction::Unlisten(listen)) => {
                ws.serialize_attachment(&state)?;
                if let Some(index) = self.live.borrow_mut().index.as_mut() {
                    index.remove(state.sid, &listen);
                }
            }
            Ok(SocketAction::Nothing) => {}
        }
        Ok(())
    }

    fn forget(&self, ws: &WebSocket) {
        if let Ok(Some(state)) = ws.deserialize_attachment::<SocketState>() {
            let mut live = self.live.borrow_mut();
            live.sockets.remove(&state.sid);
            if let Some(index) = live.index.as_mut() {
                index.remove_socket(&state);
            }
        }
    }

    /// `GET /docs`: a document or a collection, as the Worker asks on a subscriber's
    /// behalf. Under an owner-scoped token, only documents that meet its guard are shown;
    /// another owner's document is not found, like one that does not exist.
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
            let doc = read_documents(&sql, Some(&path), path.collection(), None)?.pop().filter(|d| shown(&d.data));
            return match doc {
                Some(doc) => Reply::Json(json!({"path": doc.path, "data": doc.data, "seq": doc.seq})),
                None => Reply::NotFound(format!("no document {path} yet")),
            }
            .into_response();
        }
        let collection = query(req, "collection").unwrap_or_default();
        let docs: Vec<_> = read_documents(&sql, None, &collection, None)?
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
        let rows = store::read_deliveries(&self.sql(), &log_query)?;
        let deliveries: Vec<_> = rows
            .into_iter()
            .map(|r| {
                json!({
                    "cursor": r.cursor().to_string(),
                    "at": UnixTime(r.at as i64).to_rfc3339(),
                    "source": r.source,
                    "event_id": r.event_id,
                    "event_type": r.event_type,
                    "outcome": r.outcome,
                    "status": r.status as u16,
                    "code": r.code,
                    "message": r.message,
                    "seq": r.seq.map(|s| s as u64),
                })
            })
            .collect();
        Reply::Json(json!({ "deliveries": deliveries })).into_response()
    }

    fn health(&self) -> Result<Response> {
        let sql = self.sql();
        let (events, documents) = store::counts(&sql)?;
        Reply::Json(json!({
            "events": events,
            "documents": documents,
            "subscribers": self.state.get_websockets().len(),
            "seq": self.head()?,
            "database_bytes": sql.database_size(),
            "requests_since_wake": self.live.borrow().requests,
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
        Self { state, storage, env, live: RefCell::new(Live::default()) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.count_request();
        self.ensure_schema()?;
        let path = req.path();
        match path.as_str() {
            HANDOFF_PATH => self.ingest(req).await,
            "/subscribe" => self.subscribe(&req).await,
            "/docs" => self.documents(&req),
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
            WebSocketIncomingMessage::Binary(_) => {
                let refusal = ServerMessage::Error {
                    id: None,
                    code: ErrorCode::InvalidArgument,
                    message: "binary frames are not part of the protocol: send JSON text".to_owned(),
                };
                ws.send_with_str(refusal.to_json())
            }
        }
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _was_clean: bool) -> Result<()> {
        self.forget(&ws);
        // Echo the close, as the protocol asks; 1005/1006 are not codes one may send.
        let code = u16::try_from(code).ok().filter(|c| *c != 1005 && *c != 1006).unwrap_or(1000);
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.forget(&ws);
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.ensure_schema()?;
        self.live.borrow_mut().alarm_at = Some(None);
        // Sockets whose token ran out: their listens end now, not at the next change.
        self.ensure_index();
        let now = now();
        let expired: Vec<WebSocket> = {
            let live = self.live.borrow();
            let sids = live.index.as_ref().map(|index| index.expired_sockets(now)).unwrap_or_default();
            sids.iter().filter_map(|sid| live.sockets.get(sid).cloned()).collect()
        };
        for ws in &expired {
            self.end_listens(ws);
        }
        let retention_days = config::load(&self.env).map_or(config::DEFAULT_RETENTION_DAYS, |c| c.retention_days);
        store::prune(&self.sql(), retention::cutoff(now, retention_days), retention::MAX_DELIVERY_ROWS)?;
        let next_expiry = self.live.borrow().index.as_ref().and_then(SubscriptionIndex::next_expiry);
        self.alarm_by(retention::next_alarm(now, next_expiry)).await;
        Response::ok("pruned")
    }
}
