//! The usage meter: sums calls in memory at once and writes them in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{UsageCounts, UsageKey, UsageStore};
use crate::error::Result;

/// Sums usage in memory as calls end ([`UsageMeter::record`] never waits) and writes the sums
/// to its store in one transaction per [`UsageMeter::flush`] — every second from
/// [`UsageMeter::spawn_flusher`], and at shutdown. A batch the store refuses is merged back
/// and written with the next: nothing recorded is dropped while the process lives. (A crash
/// loses at most the last second's sums; a commit whose answer is lost may count it twice.)
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::usage::{MemoryUsageStore, UsageCounts, UsageKey, UsageMeter, UsageQuery, UsageStore};
///
/// let store = Arc::new(MemoryUsageStore::default());
/// let meter = UsageMeter::new(store.clone());
/// let key = UsageKey::today(sp_core::TenantId::default(), "k1", "smollm2");
/// for _ in 0..3 {
///     meter.record(key.clone(), UsageCounts::call(10, 2, 0));
/// }
/// assert_eq!(meter.flush().await?, 1); // three calls, one row written
/// assert_eq!(store.rows(&UsageQuery::default()).await?[0].counts.requests, 3);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
pub struct UsageMeter {
    store: Arc<dyn UsageStore>,
    pending: std::sync::Mutex<HashMap<UsageKey, UsageCounts>>,
    /// One flush at a time, so a batch merged back after a failure is not overtaken.
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for UsageMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageMeter")
            .field("pending", &self.pending_rows())
            .finish_non_exhaustive()
    }
}

impl UsageMeter {
    /// A meter writing to `store`.
    pub fn new(store: Arc<dyn UsageStore>) -> Arc<Self> {
        Arc::new(UsageMeter {
            store,
            pending: std::sync::Mutex::default(),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// The store the meter writes to.
    pub fn store(&self) -> &Arc<dyn UsageStore> {
        &self.store
    }

    /// Adds one call's counts to what the next flush writes.
    pub fn record(&self, key: UsageKey, counts: UsageCounts) {
        self.lock().entry(key).or_default().add(&counts);
    }

    /// Rows waiting for the next flush.
    pub fn pending_rows(&self) -> usize {
        self.lock().len()
    }

    /// Writes what was recorded since the last flush; returns how many rows it wrote. On an
    /// error the batch is kept for the next flush.
    pub async fn flush(&self) -> Result<usize> {
        let _one = self.flushing.lock().await;
        let batch: Vec<(UsageKey, UsageCounts)> =
            std::mem::take(&mut *self.lock()).into_iter().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.store.add(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(err) => {
                let mut pending = self.lock();
                for (key, counts) in batch {
                    pending.entry(key).or_default().add(&counts);
                }
                Err(err)
            }
        }
    }

    /// Flushes every `every` for as long as the runtime runs (the server starts it).
    pub fn spawn_flusher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let meter = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                match meter.flush().await {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("usage rows are written again");
                    }
                    Ok(_) => {}
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(%err, pending = meter.pending_rows(),
                            "usage rows not written; kept for the next try");
                    }
                    Err(_) => {}
                }
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UsageKey, UsageCounts>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::Error;
    use crate::usage::{MemoryUsageStore, UsageQuery, UsageRow};

    /// A store that refuses its first `fail` batches.
    struct Flaky {
        fail: std::sync::atomic::AtomicU32,
        inner: MemoryUsageStore,
    }

    #[async_trait]
    impl UsageStore for Flaky {
        async fn add(&self, batch: &[(UsageKey, UsageCounts)]) -> Result<()> {
            use std::sync::atomic::Ordering;
            if self
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(Error::unavailable("database", "down"));
            }
            self.inner.add(batch).await
        }
        async fn rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
            self.inner.rows(query).await
        }
        async fn prune(&self, before: chrono::NaiveDate) -> Result<u64> {
            self.inner.prune(before).await
        }
    }

    #[tokio::test]
    async fn a_refused_batch_is_written_with_the_next() {
        let store = Arc::new(Flaky {
            fail: 2.into(),
            inner: MemoryUsageStore::default(),
        });
        let meter = UsageMeter::new(store.clone());
        let key = UsageKey::today(crate::TenantId::default(), "k", "m");
        meter.record(key.clone(), UsageCounts::call(5, 1, 0));
        assert!(meter.flush().await.is_err());
        meter.record(key.clone(), UsageCounts::call(5, 1, 0));
        assert!(meter.flush().await.is_err());
        assert_eq!(meter.pending_rows(), 1);
        meter.record(key, UsageCounts::call(5, 1, 0));
        assert_eq!(meter.flush().await.expect("written"), 1);
        let rows = store.rows(&UsageQuery::default()).await.expect("rows");
        assert_eq!(rows[0].counts, {
            let mut three = UsageCounts::call(15, 3, 0);
            three.requests = 3;
            three
        });
        assert_eq!(meter.pending_rows(), 0);
    }
}
