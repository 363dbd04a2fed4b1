//! A circuit breaker per service: after `failure_threshold` consecutive failures it opens and
//! refuses calls for `open_for`; then one probe goes through (half-open) and its outcome closes
//! or reopens it. Time is passed in, so the state machine is tested without sleeping.

use std::time::{Duration, Instant};

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open it.
    pub failure_threshold: u32,
    /// How long it stays open before letting a probe through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker's public state, for listings and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused.
    Open,
    /// One probe may go through.
    HalfOpen,
}

/// One service's breaker.
///
/// ```
/// use std::time::{Duration, Instant};
/// use sp_core::hub::{Breaker, BreakerConfig, BreakerState};
///
/// let config = BreakerConfig { failure_threshold: 2, open_for: Duration::from_secs(10) };
/// let mut breaker = Breaker::default();
/// let t0 = Instant::now();
/// for _ in 0..2 {
///     breaker.admit(&config, t0).unwrap();
///     breaker.record(&config, false, t0);
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert!(breaker.admit(&config, t0).is_err());
/// let later = t0 + Duration::from_secs(10);
/// breaker.admit(&config, later).unwrap(); // the probe
/// breaker.record(&config, true, later);
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    state: State,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: State::Closed { failures: 0 },
        }
    }
}

impl Breaker {
    /// The state.
    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go now; `Err(wait)` when the breaker refuses it.
    pub fn admit(&mut self, config: &BreakerConfig, now: Instant) -> Result<(), Duration> {
        match self.state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } | State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Ok(())
            }
            // One probe at a time; the others wait for its verdict.
            State::HalfOpen { probing: true } => Err(Duration::from_secs(1).min(config.open_for)),
        }
    }

    /// Records an admitted call's outcome.
    pub fn record(&mut self, config: &BreakerConfig, success: bool, now: Instant) {
        self.state = match (self.state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < config.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (_, false) => State::Open {
                until: now + config.open_for,
            },
        };
    }
}
