//! Group commit at the edge: verified deliveries for one feed that are in flight together
//! in this isolate travel to it in one hand-off. Core's [`Queue`] decides who goes when
//! (a lone delivery goes at once; company queues while a batch is being sent, then goes
//! as one batch) and who sends (whichever delivery looks while no batch holds the lease);
//! this file moves the deliveries and their outcomes.
//!
//! Every delivery's request drives the queue for itself, in a loop: poll it, and send
//! what it says to send, or sleep on its own timer and look again
//! ([`recheck_after_ms`]: on this runtime no request can wake another). A batch is sent
//! by a task handed to the sending request's `waitUntil`, which outlives that request's
//! cancellation (a provider that disconnects): the task tells each delivery its outcome
//! and ends the lease. Nothing depends on another request running again, nor on `Drop`
//! (a cancelled request's future is never polled nor dropped): a delivery whose request
//! was cancelled is sent by the next one to look, at the latest when the lease ends
//! ([`LEASE_MS`](hookfeed_core::batch::LEASE_MS)). The lease only orders batches: a
//! delivery in a batch waits for that batch's outcome, however long its feed request
//! takes, up to [`ANSWER_BOUND_MS`](hookfeed_core::batch::ANSWER_BOUND_MS) from its
//! arrival (then 503, as if the feed had not answered). Each provider is answered only
//! with its own delivery's outcome, after the feed's commit, in a response its own request
//! builds. Nothing holds a batch but its task; a waiter holds only its own delivery and
//! outcome.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use hookfeed_core::batch::{self, recheck_after_ms, Batch, BatchAnswer, Outcome, Queue, Step};
use js_sys::futures::{future_to_promise, JsFuture};
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use worker::worker_sys::Context;
use worker::{Delay, Env};

use super::{post_to_feed, Answer};
use crate::hop::{now, HANDOFF_BATCH_PATH, HANDOFF_HEADER, HANDOFF_PATH};
use crate::reply::{outcome_response, Reply};

thread_local! {
    /// One queue per tenant with deliveries queued or a batch in flight from this
    /// isolate; dropped when idle.
    static QUEUES: RefCell<HashMap<String, Queue<Rc<Waiter>>>> = RefCell::new(HashMap::new());
}

fn with_queue<R>(tenant: &str, f: impl FnOnce(&mut Queue<Rc<Waiter>>) -> R) -> R {
    QUEUES.with(|queues| {
        let mut queues = queues.borrow_mut();
        let queue = queues.entry(tenant.to_owned()).or_default();
        let result = f(queue);
        if queue.is_idle() {
            queues.remove(tenant);
        }
        result
    })
}

/// A delivery at its feed's queue: its frame, and what it was told.
struct Waiter {
    handoff: String,
    /// The raw body, until it is framed.
    body: RefCell<Vec<u8>>,
    /// Its outcome, once its batch returned.
    told: RefCell<Option<Told>>,
}

/// What a delivery is told by its batch's task.
enum Told {
    /// The outcome the feed committed for it (in a batch).
    Outcome(Outcome),
    /// The feed's own response (a lone delivery, sent by its own request's task).
    Response(web_sys::Response),
    /// The batch's hand-off failed: 503.
    Failed,
}

impl Waiter {
    /// Tells this delivery its outcome; its request finds it when it next looks.
    fn tell(&self, told: Told) {
        *self.told.borrow_mut() = Some(told);
    }
}

/// Hands a verified delivery (its [`Handoff`](hookfeed_core::delivery::Handoff) as JSON,
/// its raw bytes, and the platform's buffer of them) to its tenant's feed, alone or in a
/// batch as the queue says, and answers with what the feed answered for it. `ctx` is the
/// request's, whose `waitUntil` carries any batch this request sends.
pub async fn hand_off(
    env: &Env,
    ctx: &Context,
    tenant: &str,
    handoff: String,
    raw: Vec<u8>,
    buffer: &JsValue,
) -> Answer {
    if !crate::config::load(env).is_ok_and(|c| c.group_commit) {
        return alone(env, tenant, &handoff, buffer).await;
    }
    let len = raw.len();
    let me = Rc::new(Waiter { handoff, body: RefCell::new(raw), told: RefCell::new(None) });
    // Past the queue's cap, alone at once, as without group commit.
    let Some(ticket) = with_queue(tenant, |queue| queue.arrive(now(), me.clone(), len)) else {
        return alone(env, tenant, &me.handoff, buffer).await;
    };
    let mut rechecks = 0;
    loop {
        let told = me.told.borrow_mut().take();
        match told {
            Some(Told::Outcome(outcome)) => return outcome_response(&outcome),
            Some(Told::Response(response)) => return Ok(response),
            Some(Told::Failed) => return Reply::StorageFailed.into_raw(),
            None => {}
        }
        match with_queue(tenant, |queue| queue.poll(ticket, now())) {
            Step::Send(batch) => {
                let mine = batch.items.iter().any(|(t, _)| *t == ticket);
                // Alone after all: the lone path, with the body as the platform holds it.
                let own_buffer = match batch.items.as_slice() {
                    [(only, _)] if *only == ticket => Some(buffer.clone()),
                    _ => None,
                };
                let task = send(env.clone(), tenant.to_owned(), batch, own_buffer);
                let task = future_to_promise(async move {
                    task.await;
                    Ok(JsValue::UNDEFINED)
                });
                let _ = ctx.wait_until(&task);
                if mine {
                    // This request's own task: when it ends it has told this delivery,
                    // and what it told was made in this request. Like a delivery handed
                    // off without group commit, it waits for its feed however long that
                    // takes; the batch's other deliveries stop at their answer bound.
                    let _ = JsFuture::from(task).await;
                }
            }
            Step::Wait { until } => {
                // Its own timer: nothing another request does can wake this one
                // ([`recheck_after_ms`] says why). The timer also keeps this request alive:
                // the runtime cancels a request that awaits nothing of its own as hung.
                let ms = (until.as_millis() - now().as_millis()).clamp(1, recheck_after_ms(rechecks));
                rechecks += 1;
                Delay::from(Duration::from_millis(ms as u64)).await;
            }
            Step::Alone => return alone(env, tenant, &me.handoff, buffer).await,
            Step::Lost => {
                worker::console_error!(
                    "a delivery to {tenant} had no answer from its batch in time; it is answered 503"
                );
                return Reply::NoAnswerInTime.into_raw();
            }
        }
    }
}

/// Sends a batch (a task of the request that took it): tells every delivery its outcome
/// (all [`Told::Failed`] if the hand-off failed), then ends the lease. `own_buffer`: the batch is the sending request's delivery alone, sent on the
/// lone path with the platform's buffer. No timeout of its own: a delivery stops waiting
/// at its answer bound, and a feed request that still commits is a duplicate to retries.
async fn send(env: Env, tenant: String, batch: Batch<Rc<Waiter>>, own_buffer: Option<JsValue>) {
    let Batch { id, items } = batch;
    let waiters: Vec<Rc<Waiter>> = items.into_iter().map(|(_, waiter)| waiter).collect();
    match (own_buffer, waiters.as_slice()) {
        (Some(buffer), [only]) => {
            let told = match alone(&env, &tenant, &only.handoff, &buffer).await {
                Ok(response) => Told::Response(response),
                Err(e) => {
                    worker::console_error!("a hand-off to {tenant} failed: {e}");
                    Told::Failed
                }
            };
            only.tell(told);
        }
        _ => match exchange(&env, &tenant, &waiters).await {
            Ok(outcomes) => {
                for (waiter, outcome) in waiters.iter().zip(outcomes) {
                    waiter.tell(Told::Outcome(outcome));
                }
            }
            Err(e) => {
                worker::console_error!("a batch hand-off of {} deliveries to {tenant} failed: {e}", waiters.len());
                for waiter in &waiters {
                    waiter.tell(Told::Failed);
                }
            }
        },
    }
    // The lease ends; the next batch's deliveries (what `returned` names) find that when
    // they next look: no request can wake another.
    let _next_batch = with_queue(&tenant, |queue| queue.returned(id));
}

/// One delivery, as one request ([`HANDOFF_PATH`]): the raw body, and the hand-off in a header.
async fn alone(env: &Env, tenant: &str, handoff: &str, body: &JsValue) -> Answer {
    let headers = web_sys::Headers::new()?;
    headers.set(HANDOFF_HEADER, handoff)?;
    post_to_feed(env, tenant, HANDOFF_PATH, Some(&headers), Some(body)).await
}

/// Posts the batch's frames and reads one outcome per delivery back.
async fn exchange(env: &Env, tenant: &str, batch: &[Rc<Waiter>]) -> worker::Result<Vec<Outcome>> {
    let mut body = Vec::with_capacity(batch.iter().map(|w| 8 + w.handoff.len() + w.body.borrow().len()).sum());
    for waiter in batch {
        // Framed once: the waiter's copy is freed.
        let raw = std::mem::take(&mut *waiter.body.borrow_mut());
        batch::push_frame(&mut body, waiter.handoff.as_bytes(), &raw)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
    }
    let answer =
        post_to_feed(env, tenant, HANDOFF_BATCH_PATH, None, Some(&Uint8Array::from(body.as_slice()).into())).await?;
    let text = JsFuture::from(answer.text()?).await?.as_string().unwrap_or_default();
    if answer.status() != 200 {
        return Err(worker::Error::RustError(format!("the feed answered {}: {text}", answer.status())));
    }
    let answer: BatchAnswer = serde_json::from_str(&text)?;
    if answer.outcomes.len() != batch.len() {
        return Err(worker::Error::RustError(format!(
            "the feed answered {} outcomes for {} deliveries",
            answer.outcomes.len(),
            batch.len()
        )));
    }
    Ok(answer.outcomes)
}
