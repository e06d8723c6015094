//! Rate limits: a token bucket per key (the feed keeps one per source), refilled continuously.

use std::collections::HashMap;

use crate::time::UnixTime;

/// Most keys remembered; beyond it, full buckets are forgotten first.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: UnixTime,
}

/// Token buckets by key. `per_minute` sets both the refill rate and the burst size.
#[derive(Debug, Default, Clone)]
pub struct RateLimiter {
    buckets: HashMap<String, Bucket>,
}

/// A refusal: try again after this many seconds (the `Retry-After` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded: retry after {retry_after_secs} s")]
pub struct RateLimited {
    /// Seconds until one request is allowed again.
    pub retry_after_secs: u64,
}

impl RateLimiter {
    /// Takes one request from `key`'s bucket, or refuses. `per_minute == 0` is unlimited.
    pub fn check(&mut self, key: &str, per_minute: u32, now: UnixTime) -> Result<(), RateLimited> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        if self.buckets.len() >= MAX_KEYS && !self.buckets.contains_key(key) {
            self.forget_full(capacity, per_ms, now);
        }
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket { tokens: capacity, at: now });
        let elapsed = now.as_millis().saturating_sub(bucket.at.as_millis()).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = (1.0 - bucket.tokens) / per_ms;
            Err(RateLimited { retry_after_secs: (wait_ms / 1000.0).ceil().max(1.0) as u64 })
        }
    }

    /// Whether `key` has a bucket (it was checked since the limiter was made).
    pub fn knows(&self, key: &str) -> bool {
        self.buckets.contains_key(key)
    }

    /// Starts `key`'s bucket as if `used` requests had been taken in the minute before
    /// `now`: what a limiter rebuilt after a restart (a feed waking from hibernation) reads
    /// from the requests it stored, so that a restart does not refill the budget.
    pub fn seed(&mut self, key: &str, used: u32, per_minute: u32, now: UnixTime) {
        if per_minute == 0 || self.buckets.contains_key(key) {
            return;
        }
        let tokens = f64::from(per_minute.saturating_sub(used));
        self.buckets.insert(key.to_owned(), Bucket { tokens, at: now });
    }

    /// Whether `key`'s bucket holds a request now, without taking it: for a caller that
    /// spends the request only if what it admits turns out to need it
    /// ([`check`](Self::check) then takes it).
    pub fn peek(&self, key: &str, per_minute: u32, now: UnixTime) -> Result<(), RateLimited> {
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        let Some(bucket) = self.buckets.get(key) else { return Ok(()) };
        let elapsed = now.as_millis().saturating_sub(bucket.at.as_millis()).max(0) as f64;
        let tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
        if tokens >= 1.0 {
            Ok(())
        } else {
            let wait_ms = (1.0 - tokens) / per_ms;
            Err(RateLimited { retry_after_secs: (wait_ms / 1000.0).ceil().max(1.0) as u64 })
        }
    }

    fn forget_full(&mut self, capacity: f64, per_ms: f64, now: UnixTime) {
        self.buckets.retain(|_, b| {
            let elapsed = now.as_millis().saturating_sub(b.at.as_millis()).max(0) as f64;
            b.tokens + elapsed * per_ms < capacity
        });
        if self.buckets.len() >= MAX_KEYS {
            self.buckets.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_then_refilled() {
        let mut limiter = RateLimiter::default();
        let t0 = UnixTime::from_secs(100);
        for _ in 0..60 {
            assert_eq!(limiter.check("k", 60, t0), Ok(()));
        }
        assert_eq!(limiter.check("k", 60, t0), Err(RateLimited { retry_after_secs: 1 }));
        assert_eq!(limiter.check("other", 60, t0), Ok(()), "keys are independent");
        assert_eq!(limiter.check("k", 60, UnixTime::from_secs(101)), Ok(()));
    }

    #[test]
    fn peeking_takes_nothing_and_agrees_with_check() {
        let mut limiter = RateLimiter::default();
        let t0 = UnixTime::from_secs(100);
        for _ in 0..100 {
            assert_eq!(limiter.peek("k", 3, t0), Ok(()), "peeking spends nothing");
        }
        for _ in 0..3 {
            assert_eq!(limiter.check("k", 3, t0), Ok(()));
        }
        assert_eq!(limiter.peek("k", 3, t0), limiter.clone_check("k", 3, t0));
        assert!(limiter.peek("k", 3, t0).is_err());
        assert_eq!(limiter.peek("k", 3, UnixTime::from_secs(120)), Ok(()), "refilled");
    }

    impl RateLimiter {
        /// What `check` would answer, on a copy.
        fn clone_check(&self, key: &str, per_minute: u32, now: UnixTime) -> Result<(), RateLimited> {
            RateLimiter { buckets: self.buckets.clone() }.check(key, per_minute, now)
        }
    }

    #[test]
    fn a_seeded_bucket_starts_with_what_the_last_minute_left() {
        let mut limiter = RateLimiter::default();
        let t0 = UnixTime::from_secs(100);
        limiter.seed("k", 58, 60, t0);
        assert!(limiter.knows("k"));
        assert_eq!(limiter.check("k", 60, t0), Ok(()));
        assert_eq!(limiter.check("k", 60, t0), Ok(()));
        assert!(limiter.check("k", 60, t0).is_err(), "a restart did not refill the budget");
        limiter.seed("k", 0, 60, t0);
        assert!(limiter.check("k", 60, t0).is_err(), "seeding a known bucket changes nothing");
    }

    #[test]
    fn zero_means_unlimited() {
        let mut limiter = RateLimiter::default();
        for _ in 0..1000 {
            assert_eq!(limiter.check("k", 0, UnixTime(0)), Ok(()));
        }
    }
}
