//! What this process's event log did since it started, for metrics: events appended,
//! committed by consumer groups, dead-lettered, and live followers that fell behind. Plain
//! counters: reading them costs nothing and needs no store.

use std::sync::atomic::{AtomicU64, Ordering};

static APPENDED: AtomicU64 = AtomicU64::new(0);
static COMMITTED: AtomicU64 = AtomicU64::new(0);
static DEAD_LETTERED: AtomicU64 = AtomicU64::new(0);
static FOLLOWERS_LAGGED: AtomicU64 = AtomicU64::new(0);

/// The counts since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCounters {
    /// Events appended to the log by this process.
    pub appended: u64,
    /// Events consumer groups moved past (acknowledged or delivered) in this process.
    pub committed: u64,
    /// Events that went to a dead-letter queue here.
    pub dead_lettered: u64,
    /// Live followers whose queue overflowed (told to replay from the log).
    pub followers_lagged: u64,
}

/// This process's event counts.
///
/// ```
/// let before = sp_core::events::counters();
/// assert!(sp_core::events::counters().appended >= before.appended);
/// ```
pub fn counters() -> EventCounters {
    EventCounters {
        appended: APPENDED.load(Ordering::Relaxed),
        committed: COMMITTED.load(Ordering::Relaxed),
        dead_lettered: DEAD_LETTERED.load(Ordering::Relaxed),
        followers_lagged: FOLLOWERS_LAGGED.load(Ordering::Relaxed),
    }
}

pub(super) fn appended(events: usize) {
    APPENDED.fetch_add(events as u64, Ordering::Relaxed);
}

pub(super) fn committed() {
    COMMITTED.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn dead_lettered() {
    DEAD_LETTERED.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn follower_lagged() {
    FOLLOWERS_LAGGED.fetch_add(1, Ordering::Relaxed);
}
