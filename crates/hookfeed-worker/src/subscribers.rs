//! Subscriber sockets, for any object that holds them: the `Feed` (a tenant on one
//! object) and each `Hub` (a tenant spread over many). Both accept hibernating sockets,
//! check each frame with [`SocketState::handle_frame`], answer a listen with a snapshot,
//! send each turn's changes to the listens they concern ([`SubscriptionIndex::recipients`],
//! [`window_delta`]), in one frame per socket where it reads batched frames ([`Outbox`]),
//! and end the listens of sockets whose token ran out. Where the documents come from (the
//! feed's SQLite, a hub's mirror) is the caller's.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use hookfeed_core::fanout::{
    window_delta, ChangeFrame, Outbox, Sends, SocketAction, SocketId, SocketState, StoredDoc, SubscriptionIndex, TextId,
};
use hookfeed_core::ledger::{ChangeKind, DocChange, Seq};
use hookfeed_core::listens::{ListenBook, Ticket};
use hookfeed_core::protocol::{CollectionQuery, ListenRequest, ServerMessage};
use hookfeed_core::query::Filter;
use hookfeed_core::token::TokenClaims;
use hookfeed_core::UnixTime;
use hookfeed_wire::{BATCH_SUBPROTOCOL, SUBPROTOCOL};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Request, Response, Result, State, WebSocket, WebSocketPair};

use crate::hop::{now, CLAIMS_HEADER, CLIENT_IP_HEADER};
use crate::reply::Reply;

/// The close code of a socket whose token expired (4000-4999 are the application's).
pub const TOKEN_EXPIRED_CLOSE: u16 = 4001;

/// Snapshot frames kept for reuse while nothing changes.
const SNAPSHOT_CACHE_LEN: usize = 32;

/// An object's subscriber sockets and which listens watch what; rebuilt from the sockets'
/// attachments after the object wakes from hibernation.
#[derive(Default)]
pub struct Subscribers {
    index: Option<SubscriptionIndex>,
    sockets: HashMap<SocketId, WebSocket>,
    /// Snapshot frames by (target, since, guard, head), minus the listen id: when many
    /// sockets listen to one target at once (a reconnect storm), the documents are
    /// serialised once. Cleared on every change.
    snapshots: Vec<(String, String)>,
    /// Change and window frames sent since the object woke: with hubs, what the feed sends
    /// per event is one per hub, not one per socket (`/healthz`, the benchmark).
    frames_sent: Cell<u64>,
    /// The messages those frames carried: a batched frame carries several.
    messages_sent: Cell<u64>,
    /// Sockets that read batched frames ([`BATCH_SUBPROTOCOL`]).
    batched: HashSet<SocketId>,
    /// Snapshots answered, and how many of them had to be built: the rest reused one.
    snapshots_sent: u64,
    snapshots_built: u64,
    /// Listens recorded and not yet answered: only the current one of an id is answered
    /// and indexed, and an unlisten meanwhile wins.
    book: ListenBook,
}

/// A listen checked and recorded, waiting for its snapshot.
pub struct PendingListen {
    /// The socket's state, with the listen recorded.
    pub state: SocketState,
    /// The listen.
    pub request: ListenRequest,
    /// The owner condition it shows documents under, if any.
    pub guard: Option<Filter>,
    /// Its ticket in the object's [`ListenBook`].
    pub ticket: Ticket,
}

impl Subscribers {
    /// Rebuilds the index from the sockets' attachments, once per wake-up.
    pub fn ensure_index(&mut self, state: &State) {
        if self.index.is_some() {
            return;
        }
        let mut index = SubscriptionIndex::default();
        for ws in state.get_websockets() {
            if let Ok(Some(socket)) = ws.deserialize_attachment::<SocketState>() {
                index.add_socket(&socket);
                if socket.batched {
                    self.batched.insert(socket.sid);
                }
                self.sockets.insert(socket.sid, ws);
            }
        }
        self.index = Some(index);
    }

    /// Accepts a subscriber's socket: the Worker verified its token and passed the claims
    /// ([`CLAIMS_HEADER`]). Refuses a client address past `per_client` sockets here.
    /// Returns the response and the token's expiry, for the caller's alarm.
    pub fn accept(&mut self, state: &State, req: &Request, per_client: u32) -> Result<(Response, Option<i64>)> {
        let claims: TokenClaims = match req.headers().get(CLAIMS_HEADER)?.map(|c| serde_json::from_str(&c)) {
            Some(Ok(claims)) => claims,
            _ => return Ok((Reply::MissingToken("the Worker passed no verified claims").into_response()?, None)),
        };
        self.ensure_index(state);
        let client = req.headers().get(CLIENT_IP_HEADER)?.unwrap_or_else(|| "unknown".to_owned());
        let open = self.index.as_ref().map_or(0, |index| index.sockets_from(&client));
        if per_client > 0 && open >= per_client {
            return Ok((Reply::TooManySockets(per_client).into_response()?, None));
        }
        let offered = req.headers().get("sec-websocket-protocol")?.unwrap_or_default();
        let offers = |name: &str| offered.split(',').any(|p| p.trim() == name);
        // The newest protocol the client speaks: batched frames if it reads them.
        let picked = [BATCH_SUBPROTOCOL, SUBPROTOCOL].into_iter().find(|p| offers(p));
        let pair = WebSocketPair::new()?;
        // From the index, which knows every open socket: no counter to store (and wait
        // for) on each connect.
        let index = self.index.get_or_insert_with(SubscriptionIndex::default);
        let socket = SocketState::new(index.next_socket_id(), claims)
            .from_client(&client)
            .reading_batches(picked == Some(BATCH_SUBPROTOCOL));
        index.add_socket(&socket);
        if socket.batched {
            self.batched.insert(socket.sid);
        }
        state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(&socket)?;
        self.sockets.insert(socket.sid, pair.server);
        let mut response = Response::from_websocket(pair.client)?;
        if let Some(picked) = picked {
            response.headers_mut().set("Sec-WebSocket-Protocol", picked)?;
        }
        Ok((response, Some(socket.claims.exp)))
    }

    /// Checks one frame of `ws` and records what it asks. A refusal is answered here, an
    /// unlisten done; a listen is returned for the caller to answer with a snapshot
    /// ([`Subscribers::answer`]).
    pub fn on_frame(&mut self, state: &State, ws: &WebSocket, text: &str) -> Result<Option<PendingListen>> {
        let Some(mut socket) = ws.deserialize_attachment::<SocketState>()? else {
            ws.close(Some(1011), Some("socket state lost: reconnect"))?;
            return Ok(None);
        };
        self.ensure_index(state);
        match socket.handle_frame(text, now()) {
            Err(refusal) => ws.send_with_str(refusal.to_json())?,
            Ok(SocketAction::Listen(request, guard)) => {
                ws.serialize_attachment(&socket)?;
                let ticket = self.book.begin(socket.sid, request.id);
                return Ok(Some(PendingListen { state: socket, request, guard, ticket }));
            }
            Ok(SocketAction::Unlisten(listen)) => {
                ws.serialize_attachment(&socket)?;
                self.book.cancel(socket.sid, listen.id);
                if let Some(index) = self.index.as_mut() {
                    index.remove(socket.sid, &listen);
                }
            }
            Ok(SocketAction::Nothing) => {}
        }
        Ok(None)
    }

    /// Sends a listen its snapshot and indexes it, so every later change reaches it.
    /// `compute` builds the snapshot at `head` unless an identical one was built since
    /// the last change.
    pub fn answer(
        &mut self,
        ws: &WebSocket,
        pending: &PendingListen,
        head: Seq,
        compute: impl FnOnce() -> Result<ServerMessage>,
    ) -> Result<()> {
        // Unlistened (or listened again with its id) while it was prepared: not answered.
        if !self.book.settle(pending.state.sid, pending.request.id, pending.ticket) {
            return Ok(());
        }
        // A hub's live-only start is answered differently from the same `since` of anyone else.
        let live = hookfeed_core::fanout::live_only(&pending.state, &pending.request);
        let key = serde_json::to_string(&(&pending.request.target, pending.request.since, &pending.guard, head, live))?;
        self.snapshots_sent += 1;
        let rest = match self.snapshots.iter().find(|(k, _)| *k == key) {
            Some((_, rest)) => rest.clone(),
            None => {
                self.snapshots_built += 1;
                let mut message = compute()?;
                if let ServerMessage::Snapshot { id, .. } = &mut message {
                    *id = 0;
                }
                let json = message.to_json();
                // `{"type":"snapshot","id":0,…}`: everything after the id is the same for
                // every listen of the target.
                let rest = json.strip_prefix(SNAPSHOT_PREFIX).map(str::to_owned).unwrap_or_default();
                if rest.is_empty() {
                    ws.send_with_str(message.to_json())?;
                    self.index_listen(ws, pending);
                    return Ok(());
                }
                if self.snapshots.len() >= SNAPSHOT_CACHE_LEN {
                    self.snapshots.remove(0);
                }
                self.snapshots.push((key, rest.clone()));
                rest
            }
        };
        ws.send_with_str(format!("{{\"type\":\"snapshot\",\"id\":{},{rest}", pending.request.id))?;
        self.index_listen(ws, pending);
        Ok(())
    }

    fn index_listen(&mut self, ws: &WebSocket, pending: &PendingListen) {
        self.sockets.entry(pending.state.sid).or_insert_with(|| ws.clone());
        if let (Some(index), Some(listen)) =
            (self.index.as_mut(), pending.state.listens.iter().find(|l| l.id == pending.request.id))
        {
            index.add(pending.state.sid, listen);
        }
    }

    /// Who reads what, once the index is built: what a hub may evict.
    pub fn index(&self) -> Option<&SubscriptionIndex> {
        self.index.as_ref()
    }

    /// Whether a recorded listen is still wanted (no unlisten of it since, no listen again
    /// with its id): a hub stops preparing one that is not.
    pub fn is_wanted(&self, pending: &PendingListen) -> bool {
        self.book.is_current(pending.state.sid, pending.request.id, pending.ticket)
    }

    /// Sends every listen of `collection` a full snapshot at `head` (`docs` gives a
    /// target's documents): listens restored from hibernation, whose clients hold a state
    /// the object does not know, are resynced (a client replaces its view with it, and sees
    /// as changes only what differs).
    pub fn resnapshot(
        &mut self,
        collection: &str,
        head: Seq,
        docs: impl Fn(&hookfeed_core::protocol::Target) -> Vec<StoredDoc>,
    ) {
        self.snapshots.clear();
        let Some(index) = &self.index else { return };
        for (sid, listen) in index.listens_of(collection) {
            let Some(ws) = self.sockets.get(&sid) else { continue };
            let request = ListenRequest { id: listen.id, target: listen.target.clone(), since: None };
            let message = hookfeed_core::fanout::snapshot(&request, listen.guard.as_ref(), docs(&listen.target), head);
            let _ = ws.send_with_str(message.to_json());
        }
    }

    /// Refuses a listen [`Subscribers::on_frame`] recorded: it is dropped from the socket's
    /// state (so the client may listen again with the same id) and answered with `code`.
    pub fn refuse(
        &mut self,
        ws: &WebSocket,
        pending: &PendingListen,
        code: hookfeed_core::protocol::ErrorCode,
        message: String,
    ) -> Result<()> {
        if !self.book.settle(pending.state.sid, pending.request.id, pending.ticket) {
            return Ok(());
        }
        if let Some(mut socket) = ws.deserialize_attachment::<SocketState>()? {
            socket.listens.retain(|l| l.id != pending.request.id);
            ws.serialize_attachment(&socket)?;
        }
        ws.send_with_str(ServerMessage::Error { id: Some(pending.request.id), code, message }.to_json())
    }

    /// Answers a binary frame: the protocol is JSON text.
    pub fn refuse_binary(ws: &WebSocket) -> Result<()> {
        let refusal = ServerMessage::Error {
            id: None,
            code: hookfeed_core::protocol::ErrorCode::InvalidArgument,
            message: "binary frames are not part of the protocol: send JSON text".to_owned(),
        };
        ws.send_with_str(refusal.to_json())
    }

    /// Forgets a socket its client closed, and echoes the close, as the protocol asks
    /// (1005 and 1006 are not codes one may send).
    pub fn closed(&mut self, ws: &WebSocket, code: usize, reason: String) {
        self.forget(ws);
        let code = u16::try_from(code).ok().filter(|c| *c != 1005 && *c != 1006).unwrap_or(1000);
        let _ = ws.close(Some(code), Some(reason));
    }

    /// Forgets a closed socket.
    pub fn forget(&mut self, ws: &WebSocket) {
        if let Ok(Some(socket)) = ws.deserialize_attachment::<SocketState>() {
            self.book.forget_socket(socket.sid);
            self.sockets.remove(&socket.sid);
            self.batched.remove(&socket.sid);
            if let Some(index) = self.index.as_mut() {
                index.remove_socket(&socket);
            }
        }
    }

    /// Sends each of `changes` (one turn's, in commit order) to the listens it concerns,
    /// then ends the listens of sockets whose token ran out. A socket that reads batched
    /// frames gets all its messages of the turn in one frame ([`Outbox`]). `collection(i)`
    /// gives the collection of `changes[i]` as of that change, for limited queries (read
    /// only if one listens).
    pub fn broadcast(&mut self, changes: &[DocChange], collection: impl Fn(usize) -> Result<Vec<StoredDoc>>) {
        // Nothing changed (a hub's load that brought nothing new): the snapshots built
        // since the last change still hold.
        if changes.is_empty() {
            return;
        }
        self.snapshots.clear();
        let now = now();
        let mut expired: Vec<SocketId> = Vec::new();
        let mut outbox = Outbox::default();
        for (i, change) in changes.iter().enumerate() {
            self.queue_changes(&mut outbox, change, now, &mut expired);
            self.queue_window_deltas(&mut outbox, change, || collection(i), now, &mut expired);
            // A turn's texts are bounded: past the mark, what is queued goes now (each
            // socket's order kept), and the rest of the turn in later frames.
            if outbox.is_full() {
                self.send(std::mem::take(&mut outbox));
            }
        }
        self.send(outbox);
        for sid in expired {
            if let Some(ws) = self.sockets.get(&sid).cloned() {
                self.end_listens(&ws);
            }
        }
    }

    /// Sends what one turn queued: each text is turned into a JS string once, however
    /// many sockets get it, and handed to `WebSocket.send` as it is.
    fn send(&self, outbox: Outbox) {
        if outbox.is_empty() {
            return;
        }
        let Sends { texts, sends, messages } = outbox.into_sends(|sid| self.batched.contains(&sid));
        let Some(first) = sends.iter().find_map(|(sid, _)| self.sockets.get(sid)) else { return };
        let Ok(send) = js_sys::Reflect::get(AsRef::<web_sys::WebSocket>::as_ref(first), &JsValue::from_str("send"))
            .and_then(|f| f.dyn_into::<js_sys::Function>())
        else {
            return;
        };
        let mut js_texts: Vec<Option<JsValue>> = vec![None; texts.len()];
        for (sid, i) in sends {
            let Some(ws) = self.sockets.get(&sid) else { continue };
            let text = js_texts[i].get_or_insert_with(|| JsValue::from_str(&texts[i]));
            // A socket that fails here is closing; its close event unindexes it.
            let _ = send.call1(AsRef::<web_sys::WebSocket>::as_ref(ws), text);
            self.frames_sent.set(self.frames_sent.get() + 1);
        }
        self.messages_sent.set(self.messages_sent.get() + messages as u64);
    }

    /// Queues the change messages of the listens `change` reaches (all but limited
    /// queries). The text is built once per (listen id, kind) — most clients number their
    /// first listen 1 — so a broadcast to a thousand sockets encodes the document once,
    /// not a thousand times.
    fn queue_changes(&self, outbox: &mut Outbox, change: &DocChange, now: UnixTime, expired: &mut Vec<SocketId>) {
        let Some(index) = &self.index else { return };
        let recipients = index.recipients(change);
        let frame = ChangeFrame::new(change);
        let mut texts: Vec<((u32, ChangeKind), TextId)> = Vec::new();
        for recipient in &recipients {
            if !self.sockets.contains_key(&recipient.sid) {
                continue;
            }
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
                Some((_, text)) => *text,
                None => {
                    let text = outbox.text(frame.for_recipient(recipient));
                    texts.push((key, text));
                    text
                }
            };
            outbox.queue(recipient.sid, text);
        }
    }

    /// Limited queries of the change's collection: which documents each holds is
    /// recomputed from the collection (read once, and once per distinct query), and a
    /// listener whose window changed gets a delta snapshot.
    fn queue_window_deltas(
        &self,
        outbox: &mut Outbox,
        change: &DocChange,
        collection: impl FnOnce() -> Result<Vec<StoredDoc>>,
        now: UnixTime,
        expired: &mut Vec<SocketId>,
    ) {
        let Some(index) = &self.index else { return };
        let limited = index.limited_recipients(change);
        if limited.is_empty() {
            return;
        }
        let after = match collection() {
            Ok(docs) => docs,
            Err(e) => {
                worker::console_error!("could not read {} for its limited queries: {e}", change.path.collection());
                return;
            }
        };
        let mut deltas: Vec<(&CollectionQuery, Option<ServerMessage>)> = Vec::new();
        for (sid, listen_id, query) in limited {
            if !self.sockets.contains_key(&sid) {
                continue;
            }
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
                let text = outbox.text(delta.to_json());
                outbox.queue(sid, text);
            }
        }
    }

    /// What the object sent since it woke, for `/healthz`: change and window frames
    /// (sends) and the messages they carried (more than the frames where sockets read
    /// batched frames), snapshots, and how many snapshots had to be built.
    pub fn figures(&self) -> serde_json::Value {
        serde_json::json!({
            "frames_sent": self.frames_sent.get(),
            "messages_sent": self.messages_sent.get(),
            "snapshots_sent": self.snapshots_sent,
            "snapshots_built": self.snapshots_built,
        })
    }

    /// Change and window frames sent since the object woke.
    pub fn frames_sent(&self) -> u64 {
        self.frames_sent.get()
    }

    /// Ends every listen of a socket whose token has expired: each gets `unauthenticated`
    /// (the browser module then asks `getToken` for a fresh token and listens again with
    /// `since`, so nothing is lost or repeated), and the socket is closed.
    pub fn end_listens(&mut self, ws: &WebSocket) {
        let Ok(Some(mut socket)) = ws.deserialize_attachment::<SocketState>() else { return };
        self.forget(ws);
        let (_, frames) = socket.expire();
        for frame in frames {
            let _ = ws.send_with_str(frame.to_json());
        }
        let _ = ws.close(Some(TOKEN_EXPIRED_CLOSE), Some("token expired: refresh it and reconnect"));
    }

    /// Ends the listens of every socket whose token has run out at `now`; returns when the
    /// next open socket's token runs out.
    pub fn end_expired(&mut self, state: &State, now: UnixTime) -> Option<i64> {
        self.ensure_index(state);
        let expired: Vec<WebSocket> = {
            let sids = self.index.as_ref().map(|index| index.expired_sockets(now)).unwrap_or_default();
            sids.iter().filter_map(|sid| self.sockets.get(sid).cloned()).collect()
        };
        for ws in &expired {
            self.end_listens(ws);
        }
        self.index.as_ref().and_then(SubscriptionIndex::next_expiry)
    }
}

/// The furthest ahead an alarm is set: a year.
const MAX_ALARM_AHEAD_MS: i64 = 365 * 24 * 60 * 60 * 1000;

const SNAPSHOT_PREFIX: &str = "{\"type\":\"snapshot\",\"id\":0,";

/// Makes sure the object's alarm fires at `at` or earlier. `known` remembers the alarm
/// once read or set (`None`: not known yet), so that most calls cost nothing.
pub async fn alarm_by(state: &State, known: &Cell<Option<Option<UnixTime>>>, at: UnixTime) {
    // Nothing is due that far off (a hub's upstream socket never expires): the alarm is
    // set when something nearer needs it.
    if at.as_millis() - now().as_millis() > MAX_ALARM_AHEAD_MS {
        return;
    }
    let storage = state.storage();
    let scheduled = match known.get() {
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
        known.set(Some(scheduled));
        return;
    }
    let offset_ms = (at.as_millis() - now().as_millis()).max(0);
    match storage.set_alarm(offset_ms).await {
        Ok(()) => known.set(Some(Some(at))),
        Err(e) => worker::console_error!("could not schedule the alarm: {e}"),
    }
}
