//! A lost upstream socket restored (the collections reloaded, their changes merged in seq
//! order), and a hub that wakes from hibernation with sockets resynced.

use super::upstream::fan_out;
use super::*;

/// Attempts to restore a lost upstream socket before the hub gives up and closes its
/// sockets (their clients then resume on a hub that can reach the feed).
const RECOVER_ATTEMPTS: u32 = 6;

impl HubCore {
    /// Starts a recovery unless one runs.
    pub(super) fn start_recovery(self: &Rc<Self>) {
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
    pub(super) async fn await_reload(self: &Rc<Self>, collection: &str) -> Result<()> {
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
    pub(super) async fn recover(self: &Rc<Self>) {
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
    pub(super) async fn resync(self: &Rc<Self>) -> Result<()> {
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
    pub(super) fn restore_after_wake(self: &Rc<Self>) {
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
}
