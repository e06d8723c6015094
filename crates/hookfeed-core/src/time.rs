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

/// How a time is written in a header or a body field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Unix seconds.
    #[default]
    Unix,
    /// Unix milliseconds.
    UnixMs,
    /// RFC 3339 (ISO 8601 with a time zone), such as `2020-01-01T00:00:00-07:00`.
    Rfc3339,
}

impl TimeFormat {
    /// `at` written this way.
    pub fn format(self, at: UnixTime) -> String {
        match self {
            Self::Unix => at.as_secs().to_string(),
            Self::UnixMs => at.as_millis().to_string(),
            Self::Rfc3339 => at.to_rfc3339(),
        }
    }

    /// `at` as a JSON value written this way (a number for Unix times, a string otherwise).
    pub fn to_json(self, at: UnixTime) -> serde_json::Value {
        match self {
            Self::Unix => at.as_secs().into(),
            Self::UnixMs => at.as_millis().into(),
            Self::Rfc3339 => at.to_rfc3339().into(),
        }
    }

    /// Reads a JSON value written this way: `None` for null, or why it is not such a time.
    pub fn read_json(self, value: &serde_json::Value) -> Result<Option<UnixTime>, &'static str> {
        use serde_json::Value;
        match (value, self) {
            (Value::Null, _) => Ok(None),
            (Value::String(s), Self::Rfc3339) => {
                UnixTime::parse_rfc3339(s).map(Some).ok_or("not an RFC 3339 timestamp")
            }
            (Value::Number(n), Self::Unix) => {
                n.as_i64().map(|s| Some(UnixTime::from_secs(s))).ok_or("not whole Unix seconds")
            }
            (Value::Number(n), Self::UnixMs) => n.as_i64().map(|ms| Some(UnixTime(ms))).ok_or("not whole Unix ms"),
            (_, Self::Rfc3339) => Err("not an RFC 3339 timestamp"),
            (_, Self::Unix) => Err("not whole Unix seconds"),
            (_, Self::UnixMs) => Err("not whole Unix ms"),
        }
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
