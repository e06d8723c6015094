//! Group commit at the edge: verified deliveries for one feed that are in flight together
//! in this isolate travel to it in one hand-off. Core's [`Gate`] decides who goes when
//! (a lone delivery goes at once; company waits for the hand-off in flight to return, then
//! goes as one batch); this file moves the deliveries and their outcomes.
//!
//! No batch has a sender of its own: the first delivery of each batch sends it from its own
//! request, hands each other delivery its outcome, answers its own provider, and passes the
//! gate on to the next batch ([`PassOn`], also when its request is dropped). Each provider
//! is answered only with its own delivery's outcome, after the feed's commit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::select;
use hookfeed_core::batch::{self, BatchAnswer, Gate, Outcome, STALE_HANDOFF_MS};
use js_sys::futures::JsFuture;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use worker::{Delay, Env};

use super::{post_to_feed, Answer};
use crate::hop::{now, HANDOFF_BATCH_PATH, HANDOFF_HEADER, HANDOFF_PATH};
use crate::reply::{outcome_response, Reply};

thread_local! {
    /// One gate per tenant with a hand-off in flight from this isolate; dropped when idle.
    static GATES: RefCell<HashMap<String, Gate<Rc<Waiter>>>> = RefCell::new(HashMap::new());
}

fn with_gate<R>(tenant: &str, f: impl FnOnce(&mut Gate<Rc<Waiter>>) -> R) -> R {
    GATES.with(|gates| {
        let mut gates = gates.borrow_mut();
        let gate = gates.entry(tenant.to_owned()).or_default();
        let result = f(gate);
        if gate.is_idle() {
            gates.remove(tenant);
        }
        result
    })
}

/// A delivery waiting at its feed's gate: its frame, and what it is told.
struct Waiter {
    handoff: String,
    body: Vec<u8>,
    turn: RefCell<Turn>,
    /// Resolves the promise its request awaits ([`Waiter::told`]).
    resolve: RefCell<Option<js_sys::Function>>,
    /// It waited [`STALE_HANDOFF_MS`] and was answered 503: it is no longer sent.
    gave_up: std::cell::Cell<bool>,
}

/// What a waiting delivery is told.
enum Turn {
    /// Nothing yet.
    Waiting,
    /// Send this batch (this delivery first).
    Lead(Vec<Rc<Waiter>>),
    /// The outcome the feed committed; `None` if the batch's hand-off failed.
    Done(Option<Outcome>),
}

impl Waiter {
    fn settle(&self, turn: Turn) {
        *self.turn.borrow_mut() = turn;
        if let Some(resolve) = self.resolve.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    /// What this delivery is told, or [`Turn::Waiting`] if nothing is within
    /// [`STALE_HANDOFF_MS`]. It waits on a JavaScript promise made in its own request and
    /// resolved by the sender's: the runtime then runs what follows in this request, so
    /// that a waiter told to lead sends the batch as its own I/O (woken through a Rust
    /// waker, it ran in the sender's request, whose end cancelled the batch: measured).
    /// The timer keeps the waiting request alive: the runtime cancels a request that
    /// awaits nothing of its own as hung (measured: every waiter answered 500 without it).
    async fn told(&self) -> Turn {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            *self.resolve.borrow_mut() = Some(resolve);
        });
        if !matches!(*self.turn.borrow(), Turn::Waiting) {
            self.resolve.borrow_mut().take();
        } else {
            let told = JsFuture::from(promise);
            let stale = Delay::from(Duration::from_millis(STALE_HANDOFF_MS as u64));
            let _ = select(told, stale).await;
        }
        let turn = std::mem::replace(&mut *self.turn.borrow_mut(), Turn::Waiting);
        self.gave_up.set(matches!(turn, Turn::Waiting));
        turn
    }
}

/// Passes the gate on when the hand-off it guards returns, or its request is dropped: the
/// next batch's first delivery is told to send it. Deliveries that gave up waiting (and
/// were answered 503) are left out, so that none is stored unacknowledged by this path.
struct PassOn<'a>(&'a str);

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        loop {
            let next: Vec<_> =
                with_gate(self.0, |gate| gate.next_batch(now())).into_iter().filter(|w| !w.gave_up.get()).collect();
            if let Some(first) = next.first().cloned() {
                first.settle(Turn::Lead(next));
                return;
            }
            // Nothing to send: idle now, unless what was taken had all given up.
            if with_gate(self.0, |gate| gate.is_idle()) {
                return;
            }
        }
    }
}

/// Hands a verified delivery (its [`Handoff`](hookfeed_core::delivery::Handoff) as JSON,
/// its raw bytes, and the platform's buffer of them) to its tenant's feed, alone or in a
/// batch as the gate says, and answers with what the feed answered for it.
pub async fn hand_off(env: &Env, tenant: &str, handoff: String, raw: &[u8], buffer: &JsValue) -> Answer {
    if !crate::config::load(env).is_ok_and(|c| c.group_commit) {
        return alone(env, tenant, &handoff, buffer).await;
    }
    if with_gate(tenant, |gate| gate.try_lead(now())) {
        let _pass_on = PassOn(tenant);
        return alone(env, tenant, &handoff, buffer).await;
    }
    let me = Rc::new(Waiter {
        handoff,
        body: raw.to_vec(),
        turn: RefCell::new(Turn::Waiting),
        resolve: RefCell::new(None),
        gave_up: std::cell::Cell::new(false),
    });
    with_gate(tenant, |gate| gate.enqueue(me.clone(), raw.len()));
    match me.told().await {
        Turn::Done(Some(outcome)) => outcome_response(&outcome),
        Turn::Done(None) | Turn::Waiting => Reply::StorageFailed.into_raw(),
        Turn::Lead(batch) => {
            let _pass_on = PassOn(tenant);
            match batch.as_slice() {
                // Alone after all: the lone path, with the body as the platform holds it.
                [_] => alone(env, tenant, &me.handoff, buffer).await,
                _ => send(env, tenant, &batch).await,
            }
        }
    }
}

/// One delivery, as one request ([`HANDOFF_PATH`]): the raw body, and the hand-off in a header.
async fn alone(env: &Env, tenant: &str, handoff: &str, body: &JsValue) -> Answer {
    let headers = web_sys::Headers::new()?;
    headers.set(HANDOFF_HEADER, handoff)?;
    post_to_feed(env, tenant, HANDOFF_PATH, Some(&headers), Some(body)).await
}

/// A batch, as one request ([`HANDOFF_BATCH_PATH`]): tells every other delivery its
/// outcome, and answers with the first's (this request's own).
async fn send(env: &Env, tenant: &str, batch: &[Rc<Waiter>]) -> Answer {
    let outcomes = match exchange(env, tenant, batch).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            worker::console_error!("a batch hand-off of {} deliveries to {tenant} failed: {e}", batch.len());
            for waiter in batch.iter().skip(1) {
                waiter.settle(Turn::Done(None));
            }
            return Reply::StorageFailed.into_raw();
        }
    };
    let mut outcomes = outcomes.into_iter();
    let mine = outcomes.next();
    for (waiter, outcome) in batch.iter().skip(1).zip(outcomes) {
        waiter.settle(Turn::Done(Some(outcome)));
    }
    match mine {
        Some(outcome) => outcome_response(&outcome),
        None => Reply::StorageFailed.into_raw(),
    }
}

/// Posts the batch's frames and reads one outcome per delivery back.
async fn exchange(env: &Env, tenant: &str, batch: &[Rc<Waiter>]) -> worker::Result<Vec<Outcome>> {
    let mut body = Vec::with_capacity(batch.iter().map(|w| 8 + w.handoff.len() + w.body.len()).sum());
    for waiter in batch {
        batch::push_frame(&mut body, waiter.handoff.as_bytes(), &waiter.body)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
    }
    let answer = post_to_feed(env, tenant, HANDOFF_BATCH_PATH, None, Some(&Uint8Array::from(body.as_slice()).into())).await?;
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
