//! What the edge remembers of refused deliveries, in fixed memory.
//!
//! A refused delivery is anyone's to send, so it never reaches a feed and is never
//! stored: the edge Worker keeps counters per source and reason, and the last
//! [`RECENT_PER_SOURCE`] refusals per source, here. Every field is bounded (names and
//! messages are cut, unknown source names share one bucket), so no volume of refused
//! traffic grows memory past [`RefusalLog::MAX_BYTES`].
//!
//! [`RefusalLimiter`] remembers which client addresses the platform's rate limiter has
//! cut off, so that an address over its budget of refusals is answered before its body
//! is read or its signature computed.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::time::UnixTime;

/// Refusals kept per source, newest first.
pub const RECENT_PER_SOURCE: usize = 1_000;
/// The bucket of every delivery to a source that is not configured: an attacker picks
/// the name, so names must not become keys.
pub const UNKNOWN_SOURCE: &str = "(unknown)";
/// Longest message kept (bytes); longer ones are cut at a character boundary.
pub const MAX_MESSAGE_LEN: usize = 200;
/// Longest client address kept; an IPv6 address is at most 45 characters.
pub const MAX_CLIENT_LEN: usize = 64;

/// One refused delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When it was refused.
    pub at: UnixTime,
    /// The source it was sent to (or [`UNKNOWN_SOURCE`]).
    pub source: String,
    /// The machine-readable reason (`signature_mismatch`, `rate_limited`, …).
    pub code: &'static str,
    /// The HTTP status it was answered with.
    pub status: u16,
    /// The reason, for people; never a secret or a MAC.
    pub message: String,
    /// The client address it came from.
    pub client: String,
}

#[derive(Debug, Default)]
struct SourceRefusals {
    counts: BTreeMap<&'static str, u64>,
    /// Each with its number in this log, newest first.
    recent: VecDeque<(u64, Refusal)>,
}

/// Counters and the recent refusals of every source.
#[derive(Debug, Default)]
pub struct RefusalLog {
    sources: BTreeMap<String, SourceRefusals>,
    /// Refusals recorded so far: the next one's number, which keys it in the delivery
    /// log's pages ([`LogCursor::refusal`](crate::delivery_log::LogCursor::refusal)).
    recorded: u64,
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A name from outside as an error message may quote it: at most
/// [`MAX_QUOTED_LEN`](crate::MAX_QUOTED_LEN) bytes, marked `…` when cut, so that an error
/// never echoes an unbounded input.
pub fn quote(input: &str) -> String {
    let cut = truncate(input, crate::MAX_QUOTED_LEN);
    if cut.len() < input.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

impl RefusalLog {
    /// An upper bound of the memory one source's records take: every field at its cap.
    pub const MAX_BYTES_PER_SOURCE: usize =
        RECENT_PER_SOURCE * (core::mem::size_of::<Refusal>() + 64 + MAX_MESSAGE_LEN + MAX_CLIENT_LEN) + 4096;

    /// An upper bound of the whole log's memory for `sources` configured sources (plus
    /// the unknown-source bucket).
    pub const fn max_bytes(sources: usize) -> usize {
        (sources + 1) * Self::MAX_BYTES_PER_SOURCE
    }

    /// The bound for a generous configuration (64 sources), for documentation.
    pub const MAX_BYTES: usize = Self::max_bytes(64);

    /// Records one refusal. `known` says whether `source` is configured; refusals to any
    /// other name are kept under [`UNKNOWN_SOURCE`].
    pub fn record(&mut self, refusal: Refusal, known: bool) {
        let Refusal { at, source, code, status, message, client } = refusal;
        let source = if known { source } else { UNKNOWN_SOURCE.to_owned() };
        let refusal = Refusal {
            at,
            code,
            status,
            message: truncate(&message, MAX_MESSAGE_LEN).to_owned(),
            client: truncate(&client, MAX_CLIENT_LEN).to_owned(),
            source: source.clone(),
        };
        let entry = self.sources.entry(source).or_default();
        *entry.counts.entry(code).or_default() += 1;
        if entry.recent.len() == RECENT_PER_SOURCE {
            entry.recent.pop_back();
        }
        self.recorded += 1;
        entry.recent.push_front((self.recorded, refusal));
    }

    /// Counters by source, then by reason.
    pub fn counts(&self) -> impl Iterator<Item = (&str, &BTreeMap<&'static str, u64>)> {
        self.sources.iter().map(|(name, s)| (name.as_str(), &s.counts))
    }

    /// The recent refusals of the sources `source` accepts, newest first, each with its
    /// number in this log.
    pub fn recent<'a>(
        &'a self,
        mut source: impl FnMut(&str) -> bool + 'a,
    ) -> impl Iterator<Item = (u64, &'a Refusal)> + 'a {
        let lists: Vec<&VecDeque<(u64, Refusal)>> =
            self.sources.iter().filter(|(name, _)| source(name)).map(|(_, s)| &s.recent).collect();
        // Merge newest first across sources; each list is already newest first.
        let mut cursors = vec![0usize; lists.len()];
        std::iter::from_fn(move || {
            let (best, _) = lists
                .iter()
                .enumerate()
                .filter_map(|(i, list)| list.get(cursors[i]).map(|(n, r)| (i, (r.at, *n))))
                .max_by_key(|&(_, key)| key)?;
            let refusal = lists[best].get(cursors[best]).map(|(n, r)| (*n, r));
            cursors[best] += 1;
            refusal
        })
    }

    /// How many refusals are kept, over all sources.
    pub fn kept(&self) -> usize {
        self.sources.values().map(|s| s.recent.len()).sum()
    }
}

/// Client addresses the platform's rate limiter has cut off, until when.
///
/// The platform's limiter (the `[[ratelimits]]` binding) is the one budget across every
/// isolate; this remembers its "no" locally so that an address over budget is refused
/// without a call, a body read or a MAC. Bounded: past [`RefusalLimiter::MAX_ADDRESSES`],
/// expired entries go first, then all (each isolate only forgets, it never allows more
/// than the platform does for longer than one period).
#[derive(Debug, Default)]
pub struct RefusalLimiter {
    blocked: HashMap<String, UnixTime>,
}

impl RefusalLimiter {
    /// Most addresses remembered.
    pub const MAX_ADDRESSES: usize = 10_000;

    /// When `client`'s block ends, if it is blocked at `now`.
    pub fn blocked_until(&self, client: &str, now: UnixTime) -> Option<UnixTime> {
        self.blocked.get(client).copied().filter(|until| *until > now)
    }

    /// Blocks `client` until `until`.
    pub fn block(&mut self, client: &str, until: UnixTime, now: UnixTime) {
        if self.blocked.len() >= Self::MAX_ADDRESSES && !self.blocked.contains_key(client) {
            self.blocked.retain(|_, u| *u > now);
            if self.blocked.len() >= Self::MAX_ADDRESSES {
                self.blocked.clear();
            }
        }
        self.blocked.insert(truncate(client, MAX_CLIENT_LEN).to_owned(), until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(at: i64, source: &str, code: &'static str) -> Refusal {
        Refusal {
            at: UnixTime(at),
            source: source.to_owned(),
            code,
            status: 401,
            message: "no signature matched".to_owned(),
            client: "203.0.113.7".to_owned(),
        }
    }

    #[test]
    fn keeps_the_last_thousand_per_source_and_counts_every_one() {
        let mut log = RefusalLog::default();
        for i in 0..2_500 {
            log.record(refusal(i, "percify", "signature_mismatch"), true);
        }
        log.record(refusal(3_000, "percify", "timestamp_too_old"), true);
        assert_eq!(log.kept(), RECENT_PER_SOURCE);
        let counts: Vec<_> = log.counts().collect();
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].1.get("signature_mismatch"), Some(&2_500));
        assert_eq!(counts[0].1.get("timestamp_too_old"), Some(&1));
        let newest: Vec<_> = log.recent(|_| true).take(2).map(|(_, r)| r.at.0).collect();
        assert_eq!(newest, [3_000, 2_499]);
    }

    #[test]
    fn names_nobody_configured_share_one_bucket_and_long_fields_are_cut() {
        let mut log = RefusalLog::default();
        for i in 0..5_000 {
            let mut r = refusal(i, &format!("made-up-{i}-{}", "x".repeat(8_000)), "unknown_source");
            r.message = "m".repeat(10_000);
            r.client = "c".repeat(10_000);
            log.record(r, false);
        }
        assert_eq!(log.counts().count(), 1);
        let kept: Vec<_> = log.recent(|s| s == UNKNOWN_SOURCE).map(|(_, r)| r).collect();
        assert_eq!(kept.len(), RECENT_PER_SOURCE);
        assert!(kept.iter().all(|r| r.message.len() == MAX_MESSAGE_LEN && r.client.len() == MAX_CLIENT_LEN));
    }

    #[test]
    fn recent_merges_sources_newest_first_and_filters_by_source() {
        let mut log = RefusalLog::default();
        log.record(refusal(1, "a", "signature_mismatch"), true);
        log.record(refusal(3, "b", "signature_mismatch"), true);
        log.record(refusal(2, "a", "signature_mismatch"), true);
        let all: Vec<_> = log.recent(|_| true).map(|(n, r)| (n, r.source.as_str(), r.at.0)).collect();
        assert_eq!(all, [(2, "b", 3), (3, "a", 2), (1, "a", 1)], "each keeps the number it was recorded with");
        let only_a: Vec<_> = log.recent(|s| s == "a").map(|(_, r)| r.at.0).collect();
        assert_eq!(only_a, [2, 1]);
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn a_blocked_address_stays_blocked_until_its_time_and_memory_is_bounded() {
        let mut limiter = RefusalLimiter::default();
        limiter.block("1.2.3.4", UnixTime(60_000), UnixTime(0));
        assert_eq!(limiter.blocked_until("1.2.3.4", UnixTime(59_999)), Some(UnixTime(60_000)));
        assert_eq!(limiter.blocked_until("1.2.3.4", UnixTime(60_000)), None);
        assert_eq!(limiter.blocked_until("5.6.7.8", UnixTime(0)), None);
        for i in 0..(RefusalLimiter::MAX_ADDRESSES * 3) {
            limiter.block(&format!("10.0.{i}"), UnixTime(1_000_000), UnixTime(0));
        }
        assert!(limiter.blocked.len() <= RefusalLimiter::MAX_ADDRESSES);
    }
}
