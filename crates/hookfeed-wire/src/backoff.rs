//! Reconnect delays: exponential backoff with "equal jitter" (half the delay fixed, half
//! random, as in the AWS architecture blog's comparison), so a fleet of clients does not
//! reconnect in step after every deploy, and none retries at once. The browser module and
//! the CLI both use it.

/// First retry delay.
pub const INITIAL_MS: f64 = 250.0;
/// Longest delay.
pub const MAX_MS: f64 = 30_000.0;

/// Tracks consecutive failed attempts.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The delay before the next attempt, given `random` in [0, 1): between half and all
    /// of `INITIAL_MS * 2^attempts`, capped at `MAX_MS` (equal jitter).
    pub fn next_delay_ms(&mut self, random: f64) -> f64 {
        let ceiling = (INITIAL_MS * (1u64 << self.attempts.min(16)) as f64).min(MAX_MS);
        self.attempts = self.attempts.saturating_add(1);
        ceiling * (0.5 + 0.5 * random.clamp(0.0, 1.0))
    }

    /// Forgets failures once a connection succeeded.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn delays_double_with_jitter_and_stop_growing_at_the_cap() {
        let mut backoff = Backoff::default();
        let lows: Vec<f64> = (0..10).map(|_| backoff.next_delay_ms(0.0)).collect();
        assert_eq!(&lows[..4], &[125.0, 250.0, 500.0, 1000.0]);
        assert_eq!(lows[9], MAX_MS / 2.0);
        let mut backoff = Backoff::default();
        assert_eq!(backoff.next_delay_ms(0.999_999).round(), INITIAL_MS);
    }

    #[test]
    fn a_success_resets_the_delay() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay_ms(0.5);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(0.0), INITIAL_MS / 2.0);
    }
}
