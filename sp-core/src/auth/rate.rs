//! Rate-limit quotas, as written in configuration and on the command line.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// `count` requests per `period`, e.g. `60/min`.
///
/// ```
/// use std::time::Duration;
/// use sp_core::auth::Quota;
///
/// let q: Quota = "60/min".parse().unwrap();
/// assert_eq!((q.count, q.period), (60, Duration::from_secs(60)));
/// assert_eq!(q.to_string(), "60/min");
/// assert!("0/s".parse::<Quota>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Quota {
    /// Requests allowed per period (also the burst).
    pub count: u32,
    /// The period.
    pub period: Duration,
}

impl Quota {
    /// The time between two requests at the sustained rate.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }
}

impl FromStr for Quota {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid_input(
                "rate_limit",
                format!("`{s}` is not COUNT/UNIT (UNIT: s, min, h, day)"),
            )
        };
        let (count, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(Error::invalid_input(
                "rate_limit",
                "the count must be at least 1",
            ));
        }
        Ok(Quota { count, period })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            86_400 => "day",
            other => return write!(f, "{}/{other}s", self.count),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl TryFrom<String> for Quota {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        value.parse()
    }
}

impl From<Quota> for String {
    fn from(quota: Quota) -> String {
        quota.to_string()
    }
}
