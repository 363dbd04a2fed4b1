//! Logging a Redis outage once when it starts and once when it ends, not per request.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the last call to Redis failed, for one user of it (`what`).
#[derive(Debug)]
pub(crate) struct Outage {
    what: &'static str,
    fallback: &'static str,
    down: AtomicBool,
}

impl Outage {
    /// For `what` (e.g. "redis cache"), which meanwhile does `fallback`.
    pub(crate) const fn new(what: &'static str, fallback: &'static str) -> Self {
        Outage {
            what,
            fallback,
            down: AtomicBool::new(false),
        }
    }

    /// A call failed: warns when this starts an outage.
    pub(crate) fn failed(&self, reason: impl std::fmt::Display) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(%reason, "{} unavailable; {} until it returns", self.what, self.fallback);
        }
    }

    /// A call succeeded: says so when this ends an outage.
    pub(crate) fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("{} is back", self.what);
        }
    }
}
