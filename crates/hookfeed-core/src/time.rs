//! Time as the callers give it: core never reads a clock.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A point in time as milliseconds since the Unix epoch (UTC).
///
/// Milliseconds because providers' `created` stamps carry fractions and ordering by
/// `created` must not collapse two events within one second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// From whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 timestamp such as `2024-03-20T10:15:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let millis = parsed.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis).ok().map(Self)
    }

    /// Formats as RFC 3339 in UTC (`2024-03-20T10:15:00Z`), for sample bodies and logs.
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }

    /// Signed distance `self - other` in whole seconds.
    pub const fn secs_since(self, other: Self) -> i64 {
        (self.0.saturating_sub(other.0)) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_whole_seconds() {
        let t = UnixTime::parse_rfc3339("2024-03-20T10:15:00Z").expect("valid");
        assert_eq!(t.as_secs(), 1_710_929_700);
        assert_eq!(t.to_rfc3339(), "2024-03-20T10:15:00Z");
    }

    #[test]
    fn rfc3339_keeps_milliseconds_and_offsets() {
        let a = UnixTime::parse_rfc3339("2024-03-20T10:15:00.250Z").expect("valid");
        let b = UnixTime::parse_rfc3339("2024-03-20T11:15:00.250+01:00").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.as_millis() % 1000, 250);
    }

    #[test]
    fn garbage_is_not_a_time() {
        assert_eq!(UnixTime::parse_rfc3339("yesterday"), None);
        assert_eq!(UnixTime::parse_rfc3339(""), None);
    }
}
