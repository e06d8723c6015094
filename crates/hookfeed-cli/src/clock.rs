//! The CLI's impure inputs: the system clock, the local time zone, fresh event ids and
//! retry jitter. Core never reads any of them.

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hookfeed_core::UnixTime;

use crate::error::CliError;

/// The current time from the system clock.
pub fn now() -> Result<UnixTime, CliError> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| CliError::Clock)?;
    let millis = i64::try_from(since_epoch.as_millis()).map_err(|_| CliError::Clock)?;
    Ok(UnixTime(millis))
}

/// A fresh event id: `evt_` and 24 hex digits.
///
/// Not cryptographic, only unique enough for test deliveries: std's randomly keyed
/// `RandomState` hashes the time, the process id and a counter.
pub fn fresh_event_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut id = String::from("evt_");
    for round in 0..2u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.write_u8(round);
        // Writing to a String cannot fail.
        let _ = write!(id, "{:016x}", hasher.finish());
    }
    id.truncate("evt_".len() + 24);
    id
}

/// A number in `[0, 1)` to jitter retry delays with; not cryptographic, like the ids.
pub fn jitter() -> f64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(nanos);
    // The top 53 bits, as a fraction.
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The local time zone's offset from UTC in seconds, or 0 (UTC) when it cannot be read.
///
/// Call it while the process has one thread: on Unix the zone is read safely only then.
pub fn local_offset_secs() -> i64 {
    time::UtcOffset::current_local_offset().map_or(0, |offset| i64::from(offset.whole_seconds()))
}

/// `HH:MM:SS` of `at`, `offset_secs` east of UTC.
pub fn time_of_day(at: UnixTime, offset_secs: i64) -> String {
    let secs = at.as_secs().saturating_add(offset_secs).rem_euclid(24 * 60 * 60);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_event_ids_are_evt_and_24_hex_digits_and_differ() {
        let a = fresh_event_id();
        let b = fresh_event_id();
        assert_eq!(a.len(), 28);
        assert!(a.starts_with("evt_"));
        assert!(a[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn jitter_is_a_fraction_and_times_of_day_wrap_at_midnight() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
        // 2023-11-14T22:13:20Z
        let at = UnixTime::from_secs(1_700_000_000);
        assert_eq!(time_of_day(at, 0), "22:13:20");
        assert_eq!(time_of_day(at, 2 * 3600), "00:13:20");
        assert_eq!(time_of_day(at, -5 * 3600), "17:13:20");
    }
}
