//! Timestamps: UTC, microsecond precision, RFC 3339 on the wire.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// A UTC instant truncated to microseconds, the precision PostgreSQL and SQLite both keep, so a
/// value read back from any backend equals the value written.
///
/// ```
/// use sp_core::Timestamp;
///
/// let t = Timestamp::now();
/// let json = serde_json::to_string(&t).unwrap();
/// let back: Timestamp = serde_json::from_str(&json).unwrap();
/// assert_eq!(t, back);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current instant.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncating it to microseconds.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Timestamp(at.trunc_subsecs(6))
    }

    /// The instant as a chrono value.
    pub const fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The instant `micros` microseconds after the Unix epoch, if representable.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_micros_and_round_trips() {
        let t = Timestamp::now();
        assert_eq!(t.as_datetime().timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), Some(t));
        assert!(t.to_string().ends_with('Z'));
    }
}
