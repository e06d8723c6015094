//! Who sends a feed's next batch, and when: [`Queue`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use super::caps::fits;
use crate::UnixTime;

/// How long a batch's sender holds the right to send (its lease) without renewing it. A
/// sender renews it every [`RENEW_MS`] while its feed request runs; one that stops (its
/// task was cancelled or hangs) loses it this long after its last renewal, and the next
/// delivery to look at the queue sends the next batch.
pub const LEASE_MS: i64 = 3_000;
/// How often a batch's sender renews its lease while its feed request runs.
pub const RENEW_MS: i64 = 1_000;
/// How long a batch's sender waits for the feed at most: then it stops waiting, and
/// every delivery of the batch is answered 503 (the provider retries; a feed that did
/// commit answers the retry as a duplicate).
pub const SEND_TIMEOUT_MS: i64 = 15_000;
/// How long a delivery waits in the queue at most before it is handed off alone.
pub const MAX_QUEUED_MS: i64 = 10_000;
/// Deliveries queued per feed at most: past it, a delivery is handed off alone at once
/// (never refused).
pub const QUEUE_CAP: usize = 256;
/// How long a delivery waits at most for its answer, from its arrival at the queue, while
/// its request lives ([`Queue`] explains why): queued at most [`MAX_QUEUED_MS`], then
/// in a batch at most [`SEND_TIMEOUT_MS`] plus [`LEASE_MS`]; a delivery handed off alone
/// waits for its feed as it would without group commit.
pub const ANSWER_BOUND_MS: i64 = MAX_QUEUED_MS + SEND_TIMEOUT_MS + LEASE_MS;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A delivery's place in its feed's [`Queue`]; unique in the process, so that a ticket
/// never names another delivery, even after its queue was dropped and made anew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

/// A batch taken from a [`Queue`] to be sent; unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchId(u64);

/// A batch to send: its id (to renew its lease and to say it returned) and its
/// deliveries, in arrival order.
#[derive(Debug)]
pub struct Batch<T> {
    /// The batch's id.
    pub id: BatchId,
    /// Its deliveries with their tickets, in arrival order.
    pub items: Vec<(Ticket, T)>,
}

/// What a delivery's request does next, as [`Queue::poll`] says.
#[derive(Debug)]
pub enum Step<T> {
    /// Send this batch now, from a task that outlives this request's cancellation, renew
    /// its lease every [`RENEW_MS`], tell each of its deliveries its outcome, then call
    /// [`Queue::returned`]. The batch may not hold the caller's own delivery (the queue
    /// is longer than a batch): the caller polls again after.
    Send(Batch<T>),
    /// Wait until told (an outcome, or woken by [`Queue::returned`]) or `until` at the
    /// latest, then poll again.
    Wait {
        /// When to poll again at the latest.
        until: UnixTime,
    },
    /// Hand this delivery off alone, outside any batch: it waited [`MAX_QUEUED_MS`].
    Alone,
    /// This delivery's batch was taken, but its sender lost its lease before it returned
    /// (its task stopped): the outcome is unknown, answer 503 (the provider retries).
    Lost,
}

/// A queued delivery.
#[derive(Debug)]
struct Queued<T> {
    ticket: Ticket,
    item: T,
    len: usize,
    since: UnixTime,
}

/// The batch being sent, and its sender's lease.
#[derive(Debug)]
struct Sending {
    id: BatchId,
    until: UnixTime,
    members: Vec<Ticket>,
}

/// Where batches form, per feed in one Worker isolate, and who sends them: a state machine
/// that every delivery's request drives by [`poll`](Self::poll)ing it, so that no request
/// is needed by another.
///
/// Nagle's rule: a delivery goes at once when no batch to its feed is being sent from
/// this isolate, so a lone delivery never waits for company; otherwise it queues, and the
/// next batch is what queues, in arrival order, as much as [`fits`].
///
/// The right to send one batch at a time is a lease held by the batch, not by a request:
/// whichever delivery polls while no live lease exists takes the queue's front batch and
/// sends it (its own delivery or not). A sender renews the lease while its feed request
/// runs, and [`returned`](Self::returned) ends it and names the next batch's deliveries,
/// to wake. Nothing depends on one request running again:
///
/// - a sender whose request is cancelled keeps sending (the glue sends from a task that
///   outlives the request's cancellation); a sender whose task stops too stops renewing,
///   and its lease ends [`LEASE_MS`] after its last renewal;
/// - a woken delivery whose request is cancelled never polls, but every other queued
///   delivery polls by itself when the lease in force ends at the latest
///   ([`Step::Wait`]'s `until`), so the first live one takes the next batch, cancelled
///   deliveries' included;
/// - a delivery in a batch is answered by that batch's outcome; only if the batch's lease
///   ends first (its sender stopped) is it answered [`Step::Lost`].
///
/// So a delivery whose request lives is answered within [`ANSWER_BOUND_MS`] of its
/// arrival (or is handed off alone), whatever other requests do; and a delivery is taken
/// into a batch at most once. At most [`QUEUE_CAP`] deliveries queue.
#[derive(Debug)]
pub struct Queue<T> {
    waiting: VecDeque<Queued<T>>,
    sending: Option<Sending>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self { waiting: VecDeque::new(), sending: None }
    }
}

impl<T: Clone> Queue<T> {
    /// Queues a delivery arriving `now` with its body's length, and returns its ticket to
    /// [`poll`](Self::poll) with (at once: it sends when nothing is being sent). `None`
    /// when [`QUEUE_CAP`] deliveries queue already: hand it off alone.
    pub fn arrive(&mut self, now: UnixTime, item: T, body_len: usize) -> Option<Ticket> {
        if self.waiting.len() >= QUEUE_CAP {
            return None;
        }
        let ticket = Ticket(next_id());
        self.waiting.push_back(Queued { ticket, item, len: body_len, since: now });
        Some(ticket)
    }

    /// What the request of the delivery holding `ticket` does next, `now`; call it on
    /// arrival, and whenever it is woken or its wait ends. Once the delivery was told its
    /// outcome, it answers with that and polls no more.
    pub fn poll(&mut self, ticket: Ticket, now: UnixTime) -> Step<T> {
        self.expire(now);
        if let Some(sending) = &self.sending {
            if sending.members.contains(&ticket) {
                return Step::Wait { until: UnixTime(sending.until.as_millis() + 1) };
            }
        }
        let Some(at) = self.waiting.iter().position(|q| q.ticket == ticket) else { return Step::Lost };
        let Some(sending) = &self.sending else { return Step::Send(self.take(now)) };
        let deadline = self.waiting[at].since.as_millis().saturating_add(MAX_QUEUED_MS);
        if now.as_millis() >= deadline {
            self.waiting.remove(at);
            return Step::Alone;
        }
        Step::Wait { until: UnixTime(deadline.min(sending.until.as_millis() + 1)) }
    }

    /// Renews the lease of batch `id`, `now`; `false` if it has ended (then its deliveries
    /// are answered [`Step::Lost`] when they poll; the sender still tells them its
    /// outcome if they have not).
    pub fn renew(&mut self, id: BatchId, now: UnixTime) -> bool {
        self.expire(now);
        match &mut self.sending {
            Some(sending) if sending.id == id => {
                sending.until = UnixTime(now.as_millis() + LEASE_MS);
                true
            }
            _ => false,
        }
    }

    /// Batch `id` returned (its deliveries were told their outcomes): its lease ends, and
    /// the deliveries of the next batch are returned, to wake (the first of them to poll
    /// sends it). Nothing to wake while another batch's lease is in force.
    pub fn returned(&mut self, id: BatchId) -> Vec<T> {
        if self.sending.as_ref().is_some_and(|s| s.id == id) {
            self.sending = None;
        }
        if self.sending.is_some() {
            return Vec::new();
        }
        let mut wake = Vec::new();
        let mut bytes = 0usize;
        for queued in &self.waiting {
            if !fits(wake.len(), bytes, queued.len) {
                break;
            }
            bytes = bytes.saturating_add(queued.len);
            wake.push(queued.item.clone());
        }
        wake
    }

    /// Whether nothing is queued and no batch is being sent (the queue may be dropped).
    pub fn is_idle(&self) -> bool {
        self.sending.is_none() && self.waiting.is_empty()
    }

    /// How many deliveries are queued.
    pub fn queued(&self) -> usize {
        self.waiting.len()
    }

    /// Ends a lease not renewed in time.
    fn expire(&mut self, now: UnixTime) {
        if self.sending.as_ref().is_some_and(|s| s.until.as_millis() < now.as_millis()) {
            self.sending = None;
        }
    }

    /// Takes the front batch, as much as [`fits`], and its lease from `now`.
    fn take(&mut self, now: UnixTime) -> Batch<T> {
        let (mut items, mut bytes) = (Vec::new(), 0usize);
        while let Some(front) = self.waiting.front() {
            if !fits(items.len(), bytes, front.len) {
                break;
            }
            bytes = bytes.saturating_add(front.len);
            if let Some(queued) = self.waiting.pop_front() {
                items.push((queued.ticket, queued.item));
            }
        }
        let id = BatchId(next_id());
        let members = items.iter().map(|(ticket, _)| *ticket).collect();
        self.sending = Some(Sending { id, until: UnixTime(now.as_millis() + LEASE_MS), members });
        Batch { id, items }
    }
}

#[cfg(test)]
mod tests {
    use super::super::caps::{MAX_BATCH_BODY_BYTES, MAX_BATCH_DELIVERIES};
    use super::*;
    use proptest::prelude::*;

    /// Polls `ticket` and expects a batch to send.
    fn send<T: Clone + std::fmt::Debug>(queue: &mut Queue<T>, ticket: Ticket, now: UnixTime) -> Batch<T> {
        match queue.poll(ticket, now) {
            Step::Send(batch) => batch,
            other => panic!("expected to send, got {other:?}"),
        }
    }

    /// The items of a batch, without their tickets.
    fn items<T: Clone>(batch: &Batch<T>) -> Vec<T> {
        batch.items.iter().map(|(_, item)| item.clone()).collect()
    }

    #[test]
    fn a_lone_delivery_sends_at_once_and_company_waits_for_the_return() {
        let mut queue = Queue::default();
        let t = UnixTime(1_000);
        let a = queue.arrive(t, "a", 10).expect("room");
        let first = send(&mut queue, a, t);
        assert_eq!(items(&first), vec!["a"]);
        // While a's batch is in flight, a waits for its outcome and b and c queue.
        assert!(matches!(queue.poll(a, t), Step::Wait { .. }));
        let b = queue.arrive(t, "b", 10).expect("room");
        let c = queue.arrive(t, "c", 10).expect("room");
        assert!(matches!(queue.poll(b, t), Step::Wait { .. }));
        assert!(matches!(queue.poll(c, t), Step::Wait { .. }));
        // The first batch returns: b and c are woken, and the first to poll sends both.
        assert_eq!(queue.returned(first.id), vec!["b", "c"]);
        let second = send(&mut queue, c, t);
        assert_eq!(items(&second), vec!["b", "c"]);
        assert!(matches!(queue.poll(b, t), Step::Wait { .. }));
        assert!(!queue.is_idle());
        // Theirs returns with nothing queued: idle, and the next delivery goes at once.
        assert!(queue.returned(second.id).is_empty());
        assert!(queue.is_idle());
        let d = queue.arrive(t, "d", 10).expect("room");
        assert_eq!(items(&send(&mut queue, d, t)), vec!["d"]);
    }

    #[test]
    fn a_batch_is_capped_and_the_rest_goes_next() {
        let mut queue = Queue::default();
        let t = UnixTime(0);
        let lead = queue.arrive(t, usize::MAX, 1).expect("room");
        let lead = send(&mut queue, lead, t);
        let tickets: Vec<_> = (0..MAX_BATCH_DELIVERIES + 3).map(|i| queue.arrive(t, i, 1).expect("room")).collect();
        queue.returned(lead.id);
        // The last delivery polls first: it sends the front batch, not its own.
        let first = send(&mut queue, tickets[MAX_BATCH_DELIVERIES + 2], t);
        assert_eq!(items(&first), (0..MAX_BATCH_DELIVERIES).collect::<Vec<_>>());
        assert!(matches!(queue.poll(tickets[MAX_BATCH_DELIVERIES + 2], t), Step::Wait { .. }));
        queue.returned(first.id);
        let second = send(&mut queue, tickets[MAX_BATCH_DELIVERIES + 2], t);
        assert_eq!(items(&second), vec![MAX_BATCH_DELIVERIES, MAX_BATCH_DELIVERIES + 1, MAX_BATCH_DELIVERIES + 2]);
        queue.returned(second.id);
        assert!(queue.is_idle());
        // By bytes: a large body waits for the next batch, but goes alone if it is first.
        let mut queue = Queue::default();
        let lead = queue.arrive(t, "lead", 1).expect("room");
        let lead = send(&mut queue, lead, t);
        let _small = queue.arrive(t, "small", 10).expect("room");
        let large = queue.arrive(t, "large", MAX_BATCH_BODY_BYTES).expect("room");
        assert_eq!(queue.returned(lead.id), vec!["small"]);
        let first = send(&mut queue, large, t);
        assert_eq!(items(&first), vec!["small"]);
        queue.returned(first.id);
        assert_eq!(items(&send(&mut queue, large, t)), vec!["large"]);
    }

    /// The attack: the delivery told to send next never runs again (its request was
    /// cancelled). The others send the batch themselves, its delivery included, when
    /// the lease in force ends at the latest.
    #[test]
    fn a_woken_delivery_that_never_resumes_strands_nobody() {
        let mut queue = Queue::default();
        let t0 = UnixTime(0);
        let a = queue.arrive(t0, "a", 10).expect("room");
        let first = send(&mut queue, a, t0);
        let b = queue.arrive(t0, "b (cancelled)", 10).expect("room");
        let c = queue.arrive(t0, "c", 10).expect("room");
        let Step::Wait { until } = queue.poll(c, t0) else { panic!("c waits for a's batch") };
        assert!(until.as_millis() <= LEASE_MS + 1);
        // a's batch returns and wakes b and c; b never polls. c polls when woken, or at
        // `until` at the latest, and sends both.
        assert_eq!(queue.returned(first.id), vec!["b (cancelled)", "c"]);
        let second = send(&mut queue, c, until);
        assert_eq!(items(&second), vec!["b (cancelled)", "c"]);
        let _ = b;
        queue.returned(second.id);
        assert!(queue.is_idle());
    }

    /// The sender's task stops too (never renews, never returns): its lease ends
    /// [`LEASE_MS`] after it began, its deliveries are answered `Lost`, and the queued
    /// deliveries send themselves.
    #[test]
    fn a_sender_that_never_resumes_strands_nobody() {
        let mut queue = Queue::default();
        let t0 = UnixTime(0);
        let a = queue.arrive(t0, "a", 10).expect("room");
        let b = queue.arrive(t0, "b", 10).expect("room");
        let first = send(&mut queue, a, t0);
        assert_eq!(items(&first), vec!["a", "b"]);
        let c = queue.arrive(t0, "c", 10).expect("room");
        let Step::Wait { until } = queue.poll(c, t0) else { panic!("c waits") };
        assert_eq!(until, UnixTime(LEASE_MS + 1));
        // Renewed while the request runs, the lease holds past LEASE_MS.
        assert!(queue.renew(first.id, UnixTime(LEASE_MS)));
        assert!(matches!(queue.poll(c, UnixTime(LEASE_MS + 1)), Step::Wait { .. }));
        assert!(matches!(queue.poll(b, UnixTime(LEASE_MS + 1)), Step::Wait { .. }));
        // Then the sender stops: no renewal, no return.
        let end = UnixTime(2 * LEASE_MS + 1);
        assert!(matches!(queue.poll(b, end), Step::Lost));
        let second = send(&mut queue, c, end);
        assert_eq!(items(&second), vec!["c"]);
        // A late return of the stopped batch takes nothing from the live one.
        assert!(!queue.renew(first.id, end));
        assert!(queue.returned(first.id).is_empty());
        assert!(matches!(queue.poll(c, end), Step::Wait { .. }));
        queue.returned(second.id);
        assert!(queue.is_idle());
    }

    #[test]
    fn a_delivery_in_a_batch_is_never_answered_by_its_own_timer() {
        let mut queue = Queue::default();
        let a = queue.arrive(UnixTime(0), "a", 1).expect("room");
        let batch = send(&mut queue, a, UnixTime(0));
        // Far past the queue's wait, a live sender's delivery still waits for the batch.
        for at in (0..=MAX_QUEUED_MS + SEND_TIMEOUT_MS).step_by(RENEW_MS as usize) {
            assert!(queue.renew(batch.id, UnixTime(at)));
            assert!(matches!(queue.poll(a, UnixTime(at)), Step::Wait { .. }));
        }
    }

    #[test]
    fn a_delivery_queued_too_long_goes_alone() {
        let mut queue = Queue::default();
        let a = queue.arrive(UnixTime(0), "a", 1).expect("room");
        let batch = send(&mut queue, a, UnixTime(0));
        let b = queue.arrive(UnixTime(0), "b", 1).expect("room");
        let mut at = 0;
        loop {
            assert!(queue.renew(batch.id, UnixTime(at)));
            match queue.poll(b, UnixTime(at)) {
                Step::Wait { until } => at = until.as_millis().min(at + RENEW_MS),
                Step::Alone => break,
                other => panic!("b should wait or go alone, got {other:?}"),
            }
        }
        assert_eq!(at, MAX_QUEUED_MS);
        assert_eq!(queue.queued(), 0);
    }

    #[test]
    fn past_the_cap_a_delivery_goes_alone() {
        let mut queue = Queue::default();
        let t = UnixTime(0);
        let a = queue.arrive(t, 0, 1).expect("room");
        let _batch = send(&mut queue, a, t);
        for i in 0..QUEUE_CAP {
            assert!(queue.arrive(t, i, 1).is_some());
        }
        assert_eq!(queue.arrive(t, QUEUE_CAP, 1), None);
        assert_eq!(queue.queued(), QUEUE_CAP);
    }

    #[test]
    fn tickets_are_never_reused_across_queues() {
        let mut one = Queue::default();
        let mut two = Queue::default();
        let a = one.arrive(UnixTime(0), (), 0).expect("room");
        let b = two.arrive(UnixTime(0), (), 0).expect("room");
        assert_ne!(a, b);
        // A ticket of another queue is nobody's here.
        assert!(matches!(two.poll(a, UnixTime(0)), Step::Lost));
    }

    /// A simulated isolate: deliveries' requests drive a [`Queue`] as the Worker's glue
    /// does (`routes/group.rs`), with requests that may be cancelled (never run again)
    /// and send tasks that may stop (never renew, never return), under a clock whose
    /// timers fire at most [`RENEW_MS`] late.
    mod sim {
        use super::*;

        /// What a delivery was told, or answered.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Answer {
            /// Its batch's outcome (committed, or refused for it alone).
            Outcome,
            /// Its batch's feed request failed, or took [`SEND_TIMEOUT_MS`]: 503.
            Failed,
            /// Its batch's sender stopped before it returned: 503.
            Lost,
            /// Handed off alone.
            Alone,
        }

        #[derive(Debug, Default)]
        pub struct Delivery {
            pub arrived_at: Option<i64>,
            ticket: Option<Ticket>,
            pub cancelled: bool,
            told: Option<Answer>,
            runnable: bool,
            wait_until: Option<i64>,
            pub answers: Vec<(Answer, i64)>,
            pub sent: usize,
        }

        #[derive(Debug)]
        struct Task {
            id: BatchId,
            members: Vec<usize>,
            owner: usize,
            started: i64,
            next_renew: i64,
            stopped: bool,
            done: bool,
        }

        #[derive(Debug, Default)]
        pub struct Isolate {
            pub queue: Queue<usize>,
            pub now: i64,
            pub deliveries: Vec<Delivery>,
            tasks: Vec<Task>,
            pub tasks_stopped: usize,
        }

        impl Isolate {
            pub fn new(n: usize) -> Self {
                Self { deliveries: (0..n).map(|_| Delivery::default()).collect(), ..Self::default() }
            }

            fn t(&self) -> UnixTime {
                UnixTime(self.now)
            }

            pub fn arrive(&mut self, i: usize) {
                let d = &mut self.deliveries[i];
                if d.arrived_at.is_some() {
                    return;
                }
                d.arrived_at = Some(self.now);
                match self.queue.arrive(UnixTime(self.now), i, 1 + i % 3) {
                    None => {
                        d.sent += 1;
                        d.answers.push((Answer::Alone, self.now));
                    }
                    Some(ticket) => {
                        d.ticket = Some(ticket);
                        self.run(i);
                    }
                }
            }

            /// Delivery `i`'s request runs, as `group::hand_off`'s loop does.
            pub fn run(&mut self, i: usize) {
                let (Some(ticket), false) = (self.deliveries[i].ticket, self.deliveries[i].cancelled) else { return };
                if !self.deliveries[i].answers.is_empty() {
                    return;
                }
                self.deliveries[i].runnable = false;
                self.deliveries[i].wait_until = None;
                loop {
                    if let Some(told) = self.deliveries[i].told.take() {
                        self.deliveries[i].answers.push((told, self.now));
                        return;
                    }
                    match self.queue.poll(ticket, self.t()) {
                        Step::Send(batch) => {
                            let members: Vec<usize> = batch.items.iter().map(|(_, m)| *m).collect();
                            for &m in &members {
                                self.deliveries[m].sent += 1;
                            }
                            self.tasks.push(Task {
                                id: batch.id,
                                members,
                                owner: i,
                                started: self.now,
                                next_renew: self.now + RENEW_MS,
                                stopped: false,
                                done: false,
                            });
                        }
                        Step::Wait { until } => {
                            assert!(until.as_millis() > self.now, "a wait ends in the future");
                            self.deliveries[i].wait_until = Some(until.as_millis());
                            return;
                        }
                        Step::Alone => {
                            self.deliveries[i].sent += 1;
                            self.deliveries[i].answers.push((Answer::Alone, self.now));
                            return;
                        }
                        Step::Lost => {
                            self.deliveries[i].answers.push((Answer::Lost, self.now));
                            return;
                        }
                    }
                }
            }

            fn live_tasks(&self) -> Vec<usize> {
                (0..self.tasks.len()).filter(|&k| !self.tasks[k].done && !self.tasks[k].stopped).collect()
            }

            /// A live send task returns (or gives up): it tells its deliveries, ends its
            /// lease and wakes the next batch and its owner.
            pub fn finish(&mut self, pick: usize, ok: bool) {
                let live = self.live_tasks();
                let Some(&k) = live.get(pick % live.len().max(1)) else { return };
                self.finish_task(k, if ok { Answer::Outcome } else { Answer::Failed });
            }

            fn finish_task(&mut self, k: usize, answer: Answer) {
                self.tasks[k].done = true;
                for m in self.tasks[k].members.clone() {
                    self.deliveries[m].told = Some(answer);
                    self.deliveries[m].runnable = true;
                }
                for m in self.queue.returned(self.tasks[k].id) {
                    self.deliveries[m].runnable = true;
                }
                let owner = self.tasks[k].owner;
                self.deliveries[owner].runnable = true;
            }

            /// A live task stops: never renews, never returns.
            pub fn stop(&mut self, pick: usize) {
                let live = self.live_tasks();
                if let Some(&k) = live.get(pick % live.len().max(1)) {
                    self.tasks[k].stopped = true;
                    self.tasks_stopped += 1;
                }
            }

            /// A request is cancelled: it never runs again (its send task, if any, runs on).
            pub fn cancel(&mut self, pick: usize) {
                let open: Vec<usize> = (0..self.deliveries.len())
                    .filter(|&i| {
                        let d = &self.deliveries[i];
                        d.arrived_at.is_some() && !d.cancelled && d.answers.is_empty()
                    })
                    .collect();
                if let Some(&i) = open.get(pick % open.len().max(1)) {
                    self.deliveries[i].cancelled = true;
                }
            }

            fn runnables(&self) -> Vec<usize> {
                (0..self.deliveries.len())
                    .filter(|&i| self.deliveries[i].runnable && !self.deliveries[i].cancelled)
                    .collect()
            }

            /// Runs one woken request, picked by `pick`; `false` if none is woken.
            pub fn run_one(&mut self, pick: usize) -> bool {
                let runnables = self.runnables();
                let Some(&i) = runnables.get(pick % runnables.len().max(1)) else { return false };
                self.run(i);
                true
            }

            /// The clock moves on by `dt` (at most [`RENEW_MS`]), once every woken request
            /// has run: tasks renew or give up, then waits that ended wake.
            pub fn advance(&mut self, dt: i64) {
                while self.run_one(0) {}
                self.now += dt.clamp(1, RENEW_MS);
                for k in 0..self.tasks.len() {
                    let task = &self.tasks[k];
                    if task.done || task.stopped {
                        continue;
                    }
                    if self.now - task.started >= SEND_TIMEOUT_MS {
                        self.finish_task(k, Answer::Failed);
                    } else if task.next_renew <= self.now {
                        let id = task.id;
                        self.tasks[k].next_renew = self.now + RENEW_MS;
                        self.queue.renew(id, UnixTime(self.now));
                    }
                }
                for d in &mut self.deliveries {
                    if d.wait_until.is_some_and(|until| until <= self.now) {
                        d.runnable = true;
                    }
                }
                while self.run_one(0) {}
            }

            /// Lets everything settle: every delivery arrives, the feed answers every batch
            /// in flight, and the clock runs on until no live request waits and no live
            /// task is in flight.
            pub fn drain(&mut self) {
                for i in 0..self.deliveries.len() {
                    self.arrive(i);
                }
                for _ in 0..10_000 {
                    let waiting =
                        self.deliveries.iter().any(|d| d.arrived_at.is_some() && !d.cancelled && d.answers.is_empty());
                    if !waiting && self.live_tasks().is_empty() {
                        return;
                    }
                    // The feed answers every batch in flight, then the clock moves on.
                    while let Some(&k) = self.live_tasks().first() {
                        self.finish_task(k, Answer::Outcome);
                    }
                    self.advance(RENEW_MS);
                }
                panic!("the isolate never settled: {self:#?}");
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Arrive,
        Run(usize),
        Return(usize, bool),
        Cancel(usize),
        Stop(usize),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Arrive),
            4 => any::<usize>().prop_map(Op::Run),
            3 => (any::<usize>(), prop::bool::weighted(0.9)).prop_map(|(k, ok)| Op::Return(k, ok)),
            2 => any::<usize>().prop_map(Op::Cancel),
            1 => any::<usize>().prop_map(Op::Stop),
            3 => (1..=RENEW_MS).prop_map(Op::Advance),
        ]
    }

    /// Plays `ops` over `n` deliveries, then lets everything settle.
    fn play(n: usize, ops: &[Op], stops: bool) -> sim::Isolate {
        let mut isolate = sim::Isolate::new(n);
        let mut next = 0;
        for op in ops {
            match op {
                Op::Arrive if next < n => {
                    isolate.arrive(next);
                    next += 1;
                }
                Op::Arrive => {}
                Op::Run(pick) => {
                    isolate.run_one(*pick);
                }
                Op::Return(pick, ok) => isolate.finish(*pick, *ok),
                Op::Cancel(pick) => isolate.cancel(*pick),
                Op::Stop(pick) if stops => isolate.stop(*pick),
                Op::Stop(_) => {}
                Op::Advance(dt) => isolate.advance(*dt),
            }
        }
        isolate.drain();
        isolate
    }

    /// What every interleaving must keep: no delivery is sent twice; every delivery whose
    /// request lives is sent once and answered once, within [`ANSWER_BOUND_MS`] (plus
    /// the clock's lateness); and without stopped tasks, no cancelled request costs
    /// another delivery its outcome (nobody is answered `Lost`).
    fn check(isolate: &sim::Isolate) -> Result<(), TestCaseError> {
        let late = 2 * RENEW_MS;
        for (i, d) in isolate.deliveries.iter().enumerate() {
            prop_assert!(d.sent <= 1, "delivery {} sent {} times", i, d.sent);
            prop_assert!(d.answers.len() <= 1, "delivery {} answered {:?}", i, d.answers);
            if d.cancelled {
                continue;
            }
            prop_assert_eq!(d.sent, 1, "delivery {} (live) sent {} times", i, d.sent);
            prop_assert_eq!(d.answers.len(), 1, "delivery {} (live) answered {:?}", i, &d.answers);
            let (answer, at) = d.answers[0];
            let arrived = d.arrived_at.unwrap_or_default();
            prop_assert!(at - arrived <= ANSWER_BOUND_MS + late, "delivery {} answered after {} ms", i, at - arrived);
            if isolate.tasks_stopped == 0 {
                prop_assert_ne!(answer, sim::Answer::Lost, "delivery {} lost without a stopped task", i);
            }
        }
        Ok(())
    }

    #[test]
    fn a_cancelled_first_in_queue_strands_nobody() {
        // The attack, played out: a sends alone; b (first in queue) and 3 more queue; b's
        // request is cancelled; a's batch returns and wakes b, which never runs.
        let ops = [Op::Arrive, Op::Arrive, Op::Arrive, Op::Arrive, Op::Arrive, Op::Cancel(0)];
        let mut isolate = sim::Isolate::new(5);
        for op in &ops[..5] {
            if let Op::Arrive = op {
                let next = isolate.deliveries.iter().position(|d| d.arrived_at.is_none()).expect("left");
                isolate.arrive(next);
            }
        }
        isolate.deliveries[1].cancelled = true;
        isolate.finish(0, true);
        // c, d, e are woken, the first to run sends all four queued, b's included.
        assert!(isolate.run_one(0));
        isolate.drain();
        assert_eq!(isolate.deliveries[1].sent, 1, "b's delivery is sent by another request");
        for i in [0, 2, 3, 4] {
            assert_eq!(
                isolate.deliveries[i].answers.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
                vec![sim::Answer::Outcome]
            );
        }
        assert!(isolate.queue.is_idle(), "nothing is held once the queue drained");
    }

    #[test]
    fn a_whole_woken_batch_cancelled_strands_nobody() {
        // a sends; the next full batch queues and every one of its requests is cancelled;
        // one more delivery queues behind it. a's return wakes only that batch (and a,
        // answered already): the one behind it sends by its own timer, the cancelled
        // batch included, within the bound.
        let n = MAX_BATCH_DELIVERIES + 2;
        let mut isolate = sim::Isolate::new(n);
        for i in 0..n {
            isolate.arrive(i);
        }
        for i in 1..=MAX_BATCH_DELIVERIES {
            isolate.deliveries[i].cancelled = true;
        }
        isolate.finish(0, true);
        while isolate.run_one(0) {}
        isolate.drain();
        let last = &isolate.deliveries[n - 1];
        assert_eq!(last.answers.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![sim::Answer::Outcome]);
        assert!(last.answers[0].1 <= LEASE_MS + 2 * RENEW_MS, "answered at {}", last.answers[0].1);
        assert!(isolate.deliveries.iter().all(|d| d.sent == 1), "every delivery is sent once, the cancelled ones too");
        assert!(isolate.queue.is_idle());
    }

    #[test]
    fn a_cancelled_sender_whose_task_stops_strands_nobody() {
        let mut isolate = sim::Isolate::new(4);
        isolate.arrive(0);
        isolate.arrive(1);
        isolate.arrive(2);
        // a's request is cancelled and its task stops: a's batch never returns.
        isolate.deliveries[0].cancelled = true;
        isolate.stop(0);
        isolate.arrive(3);
        isolate.drain();
        for i in 1..4 {
            assert_eq!(isolate.deliveries[i].sent, 1);
            assert_eq!(
                isolate.deliveries[i].answers.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
                vec![sim::Answer::Outcome]
            );
            let (_, at) = isolate.deliveries[i].answers[0];
            assert!(at <= LEASE_MS + 2 * RENEW_MS, "answered at {at}");
        }
        assert!(isolate.queue.is_idle());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any interleaving of arrivals, returns, cancelled requests and clock ticks
        /// (send tasks outlive their requests, as under `waitUntil`): every live delivery
        /// is sent once and answered once with its batch's outcome, within the bound.
        #[test]
        fn cancelled_requests_never_strand_others(n in 1usize..160, ops in proptest::collection::vec(op(), 0..400)) {
            check(&play(n, &ops, false))?;
        }

        /// The same, with send tasks that stop as well (never renew, never return): still
        /// every live delivery is sent once and answered once, within the bound.
        #[test]
        fn stopped_senders_never_strand_others(n in 1usize..160, ops in proptest::collection::vec(op(), 0..400)) {
            check(&play(n, &ops, true))?;
        }

        /// Once every live request is done, a fresh delivery drains what cancelled
        /// requests left queued: nothing is held.
        #[test]
        fn nothing_is_held_after_a_fresh_delivery(n in 1usize..160, ops in proptest::collection::vec(op(), 0..400)) {
            let mut isolate = play(n, &ops, true);
            let fresh = isolate.deliveries.len();
            isolate.deliveries.push(sim::Delivery::default());
            isolate.arrive(fresh);
            isolate.drain();
            prop_assert!(isolate.queue.is_idle(), "still queued: {}", isolate.queue.queued());
        }
    }
}
