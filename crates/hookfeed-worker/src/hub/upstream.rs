//! The hub's link to its feed: the upstream socket (opened, read, probed, and what it
//! streams), and each frame from the feed applied to the mirror and fanned out.

use super::*;

/// The upstream socket's claims never expire in practice (a NumericDate in the year
/// 3,170,000): a hub is no subscriber with a session.
const UPSTREAM_EXP: i64 = 100_000_000_000_000;

impl HubCore {
    /// Opens the upstream socket to the tenant's feed, as one privileged subscriber, and
    /// starts reading it.
    pub(super) async fn connect_upstream(self: &Rc<Self>) -> Result<()> {
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

    pub(super) async fn open_upstream(&self, tenant: &str) -> Result<WebSocket> {
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
    pub(super) fn end_upstream(&self, ended: &[String]) {
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
    pub(super) async fn probe(self: &Rc<Self>, n: u64) -> Result<()> {
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
    pub(super) async fn stream(self: &Rc<Self>, collection: &str) -> Result<()> {
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
}

/// Sends changes, applied to the mirror in this order, to the hub's sockets. A limited
/// query's delta reads the mirror's collection as of its change ([`rewind`]), as the feed
/// does for a group commit's changes.
pub(super) fn fan_out(subscribers: &RefCell<Subscribers>, upstream: &RefCell<Upstream>, changes: &[DocChange]) {
    subscribers.borrow_mut().broadcast(changes, |i| {
        let collection = changes[i].path.collection();
        let mut docs = upstream.borrow().mirror.collection_docs(collection);
        rewind(&mut docs, collection, &changes[i + 1..]);
        Ok(docs)
    });
}

/// One frame from the feed: one message, or (the hub reads batched frames) an array of
/// them, one turn of the feed's. Each is applied in order; the changes go out together, so
/// that a socket of the hub that reads batched frames gets them in one frame too.
pub(super) fn on_upstream_frame(subscribers: &RefCell<Subscribers>, upstream: &RefCell<Upstream>, text: &str) {
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
pub(super) fn on_upstream_message(upstream: &RefCell<Upstream>, message: ServerMessage) -> Option<DocChange> {
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
