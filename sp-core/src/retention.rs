//! Retention: the hourly round that removes what the growing logs keep past their settings —
//! events (`retention.events_days`), usage sums (`retention.usage_days`) and audit entries
//! (`auth.audit_retention_days`). Each store removes in its own way (PostgreSQL drops whole
//! partitions, the embedded store deletes rows); this module only decides the cut-offs and
//! when.

use std::sync::Arc;
use std::time::Duration;

use crate::Timestamp;
use crate::auth::AuditStore;
use crate::events::EventBackend;
use crate::usage::UsageStore;

/// How often housekeeping rounds run (retention, expired refresh tokens, partitions ahead).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Runs `job` now and then every [`HOUSEKEEPING_EVERY`], a late round delaying the next
/// rather than bunching up, for as long as the runtime runs.
///
/// ```no_run
/// # async fn demo() {
/// let task = sp_core::retention::spawn_hourly(|| async { tracing::info!("tidied") });
/// # task.abort();
/// # }
/// ```
pub fn spawn_hourly<F, Fut>(job: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    spawn_every_hour_from(tokio::time::Instant::now(), job)
}

/// [`spawn_hourly`] for a job that has just run (at start-up): its first round is an hour
/// from now, not at once again.
pub fn spawn_hourly_after_first<F, Fut>(job: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    spawn_every_hour_from(tokio::time::Instant::now() + HOUSEKEEPING_EVERY, job)
}

fn spawn_every_hour_from<F, Fut>(
    first: tokio::time::Instant,
    mut job: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(first, HOUSEKEEPING_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            job().await;
        }
    })
}

/// The logs one retention round trims, each with the days it keeps (0 keeps all).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::events::{EventLog, EventsConfig, MemoryEventStore, NewEvent};
/// use sp_core::retention::Retention;
///
/// let store = Arc::new(MemoryEventStore::default());
/// let log = EventLog::new(store.clone(), EventsConfig::default());
/// log.append(NewEvent::new("orders", "order.placed", serde_json::json!({}))).await?;
/// let retention = Retention::default().events(store, 30);
/// let in_a_year = sp_core::Timestamp::from_unix_micros(
///     sp_core::Timestamp::now().unix_micros() + 365 * 86_400_000_000,
/// ).unwrap();
/// assert_eq!(retention.run(in_a_year).await.events, 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Retention {
    audit: Option<(Arc<dyn AuditStore>, u32)>,
    events: Option<(Arc<dyn EventBackend>, u32)>,
    usage: Option<(Arc<dyn UsageStore>, u32)>,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention")
            .field("audit_days", &self.audit.as_ref().map(|(_, days)| days))
            .field("events_days", &self.events.as_ref().map(|(_, days)| days))
            .field("usage_days", &self.usage.as_ref().map(|(_, days)| days))
            .finish()
    }
}

/// What one round removed, per log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Audit entries.
    pub audit: u64,
    /// Events.
    pub events: u64,
    /// Usage rows (one per tenant, key, model and day).
    pub usage: u64,
}

impl Retention {
    /// Audit entries are kept `days` (0: all).
    pub fn audit(mut self, store: Arc<dyn AuditStore>, days: u32) -> Self {
        self.audit = (days > 0).then_some((store, days));
        self
    }

    /// Events are kept `days` (0: all).
    pub fn events(mut self, store: Arc<dyn EventBackend>, days: u32) -> Self {
        self.events = (days > 0).then_some((store, days));
        self
    }

    /// Usage sums are kept `days` (0: all).
    pub fn usage(mut self, store: Arc<dyn UsageStore>, days: u32) -> Self {
        self.usage = (days > 0).then_some((store, days));
        self
    }

    /// Whether any log has a retention (a round would do something).
    pub fn any(&self) -> bool {
        self.audit.is_some() || self.events.is_some() || self.usage.is_some()
    }

    /// One round as of `now`: each log loses what is older than its days. A store that
    /// fails is logged and left for the next round; the others still run.
    pub async fn run(&self, now: Timestamp) -> Pruned {
        let mut pruned = Pruned::default();
        if let Some((store, days)) = &self.audit {
            pruned.audit = logged("audit entries", store.prune(cutoff(now, *days)).await);
        }
        if let Some((store, days)) = &self.events {
            pruned.events = logged("events", store.prune(cutoff(now, *days)).await);
        }
        if let Some((store, days)) = &self.usage {
            let day = cutoff(now, *days).as_datetime().date_naive();
            pruned.usage = logged("usage rows", store.prune(day).await);
        }
        pruned
    }

    /// Runs a round now and then every hour, for as long as the runtime runs.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let retention = Arc::new(self);
        spawn_hourly(move || {
            let retention = retention.clone();
            async move {
                retention.run(Timestamp::now()).await;
            }
        })
    }
}

/// `days` before `now` (the epoch when that is earlier).
fn cutoff(now: Timestamp, days: u32) -> Timestamp {
    let micros = now
        .unix_micros()
        .saturating_sub(i64::from(days) * 86_400_000_000);
    Timestamp::from_unix_micros(micros.max(0)).unwrap_or(now)
}

fn logged(what: &'static str, outcome: crate::Result<u64>) -> u64 {
    match outcome {
        Ok(0) => 0,
        Ok(pruned) => {
            tracing::info!(pruned, what, "removed past retention");
            pruned
        }
        Err(err) => {
            tracing::warn!(%err, what, "retention did not run");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{MemoryUsageStore, UsageCounts, UsageKey, UsageQuery};

    #[tokio::test]
    async fn usage_keeps_the_days_within_its_retention() {
        let store = Arc::new(MemoryUsageStore::default());
        let today = chrono::Utc::now().date_naive();
        let mut batch = Vec::new();
        for age in [0, 29, 31, 400] {
            let mut key = UsageKey::today(crate::TenantId::default(), "k", "m");
            key.day = today - chrono::Days::new(age);
            batch.push((key, UsageCounts::call(1, 1, 0)));
        }
        store.add(&batch).await.expect("add");
        let retention = Retention::default().usage(store.clone(), 30);
        assert_eq!(retention.run(Timestamp::now()).await.usage, 2);
        let by_day = UsageQuery {
            group_by: vec![crate::usage::UsageGroup::Day],
            ..UsageQuery::default()
        };
        let rows = store.rows(&by_day).await.expect("rows");
        let kept: Vec<_> = rows.iter().filter_map(|row| row.day).collect();
        assert_eq!(kept, [today - chrono::Days::new(29), today]);
    }

    #[test]
    fn zero_days_keeps_everything_and_a_cutoff_never_precedes_the_epoch() {
        let store: Arc<dyn UsageStore> = Arc::new(MemoryUsageStore::default());
        assert!(!Retention::default().usage(store.clone(), 0).any());
        assert!(Retention::default().usage(store, 1).any());
        let early = Timestamp::from_unix_micros(1_000).expect("time");
        assert_eq!(cutoff(early, 1).unix_micros(), 0);
    }
}
