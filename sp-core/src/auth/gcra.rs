//! Rate limiting by the generic cell rate algorithm (GCRA): one timestamp per key (the
//! "theoretical arrival time"), so the in-process limiter and the Redis one (an atomic
//! script over the same arithmetic) share this math and give the same answers.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::rate::Quota;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether it may proceed.
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Until the burst is whole again.
    pub reset_after: Duration,
    /// When refused: until one request is allowed.
    pub retry_after: Duration,
    /// The arrival time to store (unchanged when refused), in nanoseconds since the epoch.
    pub tat_nanos: u128,
}

impl Decision {
    /// The `SP-AUTH-003` error for a refused request, its wait rounded up to whole seconds
    /// (at least one, as `Retry-After` needs).
    pub fn refusal(&self) -> crate::error::Error {
        crate::error::Error::RateLimited {
            retry_after_secs: self.retry_after.as_secs_f64().ceil().max(1.0) as u64,
        }
    }
}

/// Decides a request at `now_nanos` given the stored `tat_nanos` (0 when none): `quota.count`
/// requests may come at once, then one per `quota.interval()`.
///
/// ```
/// use std::time::Duration;
/// use sp_core::auth::{Quota, gcra_decide};
///
/// let quota = Quota { count: 2, period: Duration::from_secs(2) };
/// let first = gcra_decide(0, 10_000_000_000, &quota);
/// let second = gcra_decide(first.tat_nanos, 10_000_000_000, &quota);
/// let third = gcra_decide(second.tat_nanos, 10_000_000_000, &quota);
/// assert!(first.allowed && second.allowed && !third.allowed);
/// assert_eq!(third.retry_after, Duration::from_secs(1));
/// ```
pub fn gcra_decide(tat_nanos: u128, now_nanos: u128, quota: &Quota) -> Decision {
    gcra_spend(tat_nanos, now_nanos, quota, 1, false)
}

/// Spends `cost` units (0 only asks whether the budget is in credit). With `force` the cost
/// is spent even past the budget — for work already done, like tokens generated — so later
/// requests wait until the debt is repaid.
pub fn gcra_spend(
    tat_nanos: u128,
    now_nanos: u128,
    quota: &Quota,
    cost: u32,
    force: bool,
) -> Decision {
    let interval = quota.interval().as_nanos().max(1);
    let period = interval * u128::from(quota.count.max(1));
    let tat = tat_nanos.max(now_nanos);
    let new_tat = tat + interval * u128::from(cost);
    let ahead = new_tat - now_nanos;
    if ahead <= period || force {
        Decision {
            allowed: ahead <= period,
            remaining: (period.saturating_sub(ahead) / interval) as u32,
            reset_after: nanos(ahead),
            retry_after: nanos(ahead.saturating_sub(period)),
            tat_nanos: new_tat,
        }
    } else {
        Decision {
            allowed: false,
            remaining: 0,
            reset_after: nanos(tat - now_nanos),
            retry_after: nanos(ahead - period),
            tat_nanos,
        }
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// Decides requests of a key under a quota. [`LocalRateLimiter`] counts in this process;
/// `sp-data`'s Redis limiter shares one budget between every process on the same Redis.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Spends `cost` units of `key`'s budget when they fit (or always, with `force`); see
    /// [`gcra_spend`].
    async fn spend(&self, key: &str, quota: &Quota, cost: u32, force: bool) -> Decision;

    /// Decides (and, when allowed, spends) one request of `key`.
    async fn check(&self, key: &str, quota: &Quota) -> Decision {
        self.spend(key, quota, 1, false).await
    }

    /// Gives back `units` spent earlier (a reservation larger than what it used); a budget
    /// never holds more than its full quota.
    async fn refund(&self, key: &str, quota: &Quota, units: u32);
}

#[async_trait::async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn spend(&self, key: &str, quota: &Quota, cost: u32, force: bool) -> Decision {
        self.spend_now(key, quota, cost, force)
    }

    async fn refund(&self, key: &str, quota: &Quota, units: u32) {
        self.refund_now(key, quota, units);
    }
}

/// The arrival time after giving back `units`: never before `now` (a full budget).
///
/// ```
/// use sp_core::auth::{Quota, gcra_refund, gcra_spend};
///
/// let quota: Quota = "100/min".parse()?;
/// let spent = gcra_spend(0, 1_000, &quota, 80, false);
/// let back = gcra_refund(spent.tat_nanos, 1_000, &quota, 50);
/// assert_eq!(gcra_spend(back, 1_000, &quota, 0, false).remaining, 70);
/// assert_eq!(gcra_refund(back, 1_000, &quota, 500), 1_000, "never beyond full");
/// # Ok::<(), sp_core::Error>(())
/// ```
pub fn gcra_refund(tat_nanos: u128, now_nanos: u128, quota: &Quota, units: u32) -> u128 {
    let interval = quota.interval().as_nanos().max(1);
    tat_nanos
        .saturating_sub(interval * u128::from(units))
        .max(now_nanos)
}

/// Per-key GCRA in this process.
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    arrivals: Mutex<HashMap<String, u128>>,
}

impl LocalRateLimiter {
    /// Decides a request of `key` under `quota`.
    pub fn check_now(&self, key: &str, quota: &Quota) -> Decision {
        self.spend_now(key, quota, 1, false)
    }

    /// [`gcra_refund`] on `key`'s stored arrival time.
    pub fn refund_now(&self, key: &str, quota: &Quota, units: u32) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tat) = arrivals.get_mut(key) {
            *tat = gcra_refund(*tat, now_nanos(), quota, units);
        }
    }

    /// [`gcra_spend`] on `key`'s stored arrival time.
    pub fn spend_now(&self, key: &str, quota: &Quota, cost: u32, force: bool) -> Decision {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        let now = now_nanos();
        let tat = arrivals.get(key).copied().unwrap_or(0);
        let decision = gcra_spend(tat, now, quota, cost, force);
        if decision.allowed || force {
            arrivals.insert(key.to_owned(), decision.tat_nanos);
        }
        // Keys idle for longer than their period hold nothing worth keeping.
        if arrivals.len() > 100_000 {
            arrivals.retain(|_, tat| *tat > now);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let quota = Quota {
            count: 3,
            period: Duration::from_secs(3),
        };
        let start = 1_000_000_000_000u128;
        let mut tat = 0;
        for expected_remaining in [2, 1, 0] {
            let d = gcra_decide(tat, start, &quota);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
            tat = d.tat_nanos;
        }
        let refused = gcra_decide(tat, start, &quota);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(refused.tat_nanos, tat, "a refusal does not spend");
        let later = gcra_decide(tat, start + 1_000_000_000, &quota);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn forced_spending_goes_into_debt() {
        let quota = Quota {
            count: 10,
            period: Duration::from_secs(10),
        };
        let now = 1_000_000_000_000u128;
        let spent = gcra_spend(0, now, &quota, 25, true);
        assert!(!spent.allowed, "25 of 10 is over budget");
        let ask = gcra_spend(spent.tat_nanos, now, &quota, 0, false);
        assert!(!ask.allowed);
        assert_eq!(ask.retry_after, Duration::from_secs(15));
        assert!(gcra_spend(spent.tat_nanos, now + 15_000_000_000, &quota, 0, false).allowed);
    }

    #[test]
    fn keys_are_independent() {
        let limiter = LocalRateLimiter::default();
        let quota = Quota {
            count: 1,
            period: Duration::from_secs(60),
        };
        assert!(limiter.check_now("a", &quota).allowed);
        assert!(!limiter.check_now("a", &quota).allowed);
        assert!(limiter.check_now("b", &quota).allowed);
    }
}
