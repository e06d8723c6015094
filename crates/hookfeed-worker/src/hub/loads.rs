//! Documents loaded from the feed's `/mirror` route into the hub's mirror: a collection
//! once it streams, and single documents gathered into batches.

use super::upstream::fan_out;
use super::*;

/// How long a batch of document loads waits for more listens to join it.
const BATCH_GATHER: Duration = Duration::from_millis(5);
/// Most documents one load asks the feed for.
const MIRROR_BATCH: usize = 500;

/// A page of documents from the feed's `/mirror` route.
#[derive(Deserialize)]
struct MirrorPage {
    docs: Vec<StoredDoc>,
    seq: Seq,
}

impl HubCore {
    /// Loads one document, in a batch with every other document listens of this moment
    /// wait for: one request to the feed per batch, not per socket.
    pub(super) async fn load_document(self: &Rc<Self>, path: &DocPath) -> Result<()> {
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

    pub(super) async fn load_queued_documents(self: &Rc<Self>) -> Result<()> {
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
    pub(super) async fn load(self: &Rc<Self>, need: &MirrorNeed) -> Result<()> {
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
}
