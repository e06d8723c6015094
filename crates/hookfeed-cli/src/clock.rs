//! The CLI's impure inputs: the system clock and fresh event ids. Core never reads either.

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
}
