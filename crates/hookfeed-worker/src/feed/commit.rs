//! The ingest path of a feed: verified deliveries handed off by the edge Worker, alone
//! ([`HANDOFF_PATH`](crate::hop::HANDOFF_PATH)) or in a batch
//! ([`HANDOFF_BATCH_PATH`](crate::hop::HANDOFF_BATCH_PATH)), committed in one transaction
//! with a savepoint each, answered each as alone, then fanned out in commit order.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use hookfeed_core::batch;
use hookfeed_core::delivery::Handoff;
use hookfeed_core::fanout::rewind;
use hookfeed_core::ledger::{ingest, retention, DocChange, Ingested};
use hookfeed_core::path::DocPath;
use hookfeed_core::{UnixTime, VerifiedDelivery};
use worker::{Request, Response, Result};

use super::Feed;
use crate::config;
use crate::hop::{now, HANDOFF_HEADER};
use crate::reply::Reply;
use crate::store::{self, read_documents, SqlFeedStore};
use crate::subscribers::alarm_by;

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

impl Feed {
    /// A delivery the edge Worker verified ([`HANDOFF_PATH`](crate::hop::HANDOFF_PATH)): stored and projected as
    /// [`commit`](Self::commit) says, and answered.
    pub(super) async fn ingest(&self, mut req: Request) -> Result<Response> {
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

    /// A batch of verified deliveries ([`HANDOFF_BATCH_PATH`](crate::hop::HANDOFF_BATCH_PATH), framed as
    /// [`hookfeed_core::batch`] says): committed together, each answered as alone.
    pub(super) async fn ingest_batch(&self, mut req: Request) -> Result<Response> {
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
    pub(super) async fn commit(&self, config: Rc<config::Config>, prepared: Vec<Prepared>) -> Result<Vec<Reply>> {
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
    pub(super) fn broadcast(&self, changes: &[DocChange]) {
        if changes.is_empty() {
            return;
        }
        self.subscribers.borrow_mut().ensure_index(&self.state);
        let sql = self.sql();
        self.subscribers.borrow_mut().broadcast(changes, |i| {
            let collection = changes[i].path.collection();
            let mut docs = read_documents(&sql, None, collection, None, None)?;
            rewind(&mut docs, collection, &changes[i + 1..]);
            Ok(docs)
        });
    }
}
