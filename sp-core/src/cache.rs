//! The cache layer: a [`Cache`] trait (Redis and in-process implementations live in
//! `sp-data`) and [`Cached`], which adds namespaced keys, typed values and single-flight
//! get-or-compute on top of any of them.
//!
//! A cache never fails a request: a backend that cannot answer counts a bypass, logs a
//! warning once per outage, and behaves as a miss until it is back.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Bytes by key, with a time to live. Implementations swallow their own failures (a failed
/// get is a miss, a failed set is dropped) and count them in [`CacheStats::bypassed`].
#[async_trait]
pub trait Cache: Send + Sync {
    /// `"memory"`, `"redis"`: for logs and metrics.
    fn backend(&self) -> &'static str;

    /// The value under `key`, unless absent, expired or unreachable.
    async fn get(&self, key: &str) -> Option<Vec<u8>>;

    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration);

    /// Forgets `key`.
    async fn delete(&self, key: &str);

    /// Counters since start.
    fn stats(&self) -> CacheStats;
}

/// What a cache has done since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Gets that found a value.
    pub hits: u64,
    /// Gets that found nothing.
    pub misses: u64,
    /// Operations skipped because the backend could not answer.
    pub bypassed: u64,
}

/// Thread-safe counters behind [`CacheStats`], for implementations.
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
}

impl CacheCounters {
    /// Counts a get's outcome.
    pub fn record_get(&self, found: bool) {
        let counter = if found { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a skipped operation.
    pub fn record_bypass(&self) {
        self.bypassed.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
        }
    }
}

/// A cache seen through a key namespace (`sp:{namespace}:{key}`), with typed values and
/// single-flight computation: concurrent misses on one key in this process compute once.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sp_core::cache::{Cached, NoCache};
///
/// let cache = Cached::new(Arc::new(NoCache::default()), "embeddings");
/// assert_eq!(cache.key("q"), "sp:embeddings:q");
/// let v: u32 = cache
///     .get_or_compute_json("q", Duration::from_secs(60), || async { Ok(7) })
///     .await?;
/// assert_eq!(v, 7);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
pub struct Cached {
    inner: Arc<dyn Cache>,
    prefix: String,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("backend", &self.inner.backend())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Cached {
    /// `inner` with keys under `namespace`.
    pub fn new(inner: Arc<dyn Cache>, namespace: &str) -> Self {
        Cached {
            inner,
            prefix: format!("sp:{namespace}:"),
            flights: Mutex::default(),
        }
    }

    /// The backend underneath.
    pub fn backend(&self) -> &Arc<dyn Cache> {
        &self.inner
    }

    /// The full key of `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Raw bytes.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.get(&self.key(key)).await
    }

    /// Stores raw bytes.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        self.inner.set(&self.key(key), value, ttl).await;
    }

    /// Forgets a key.
    pub async fn delete(&self, key: &str) {
        self.inner.delete(&self.key(key)).await;
    }

    /// A JSON value; one that no longer decodes (an older shape) is a miss.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_slice(&self.get(key).await?).ok()
    }

    /// Stores a JSON value.
    pub async fn set_json<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.set(key, &bytes, ttl).await,
            Err(err) => tracing::warn!(%err, key, "value not cached: it does not serialise"),
        }
    }

    /// The cached bytes of `key`, or `compute`'s, stored for `ttl`. Concurrent callers of one
    /// key wait for the first one's result instead of computing it again. Errors of
    /// `compute` are returned and not cached.
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<Vec<u8>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>>>,
    {
        if let Some(found) = self.get(key).await {
            return Ok(found);
        }
        let flight = Arc::clone(
            self.flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key.to_owned())
                .or_default(),
        );
        let guard = flight.lock().await;
        // The caller that held the flight before us may have filled it.
        let result = match self.get(key).await {
            Some(found) => Ok(found),
            None => {
                let computed = compute().await;
                if let Ok(bytes) = &computed {
                    self.set(key, bytes, ttl).await;
                }
                computed
            }
        };
        drop(guard);
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        // Two references left (the map's and ours): nobody else waits on this key.
        if Arc::strong_count(&flight) == 2 {
            flights.remove(key);
        }
        result
    }

    /// [`get_or_compute`](Self::get_or_compute) for JSON values.
    pub async fn get_or_compute_json<T, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let bytes = self
            .get_or_compute(key, ttl, || async {
                serde_json::to_vec(&compute().await?).map_err(Error::internal)
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(Error::internal)
    }
}

/// A cache that holds nothing: every get misses. For deployments that turn caching off.
#[derive(Debug, Default)]
pub struct NoCache {
    counters: CacheCounters,
}

#[async_trait]
impl Cache for NoCache {
    fn backend(&self) -> &'static str {
        "none"
    }

    async fn get(&self, _key: &str) -> Option<Vec<u8>> {
        self.counters.record_get(false);
        None
    }

    async fn set(&self, _key: &str, _value: &[u8], _ttl: Duration) {}

    async fn delete(&self, _key: &str) {}

    fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A plain map, enough to exercise [`Cached`] here; `sp-data` tests the real backends.
    #[derive(Default)]
    struct MapCache(tokio::sync::Mutex<HashMap<String, Vec<u8>>>, CacheCounters);

    #[async_trait]
    impl Cache for MapCache {
        fn backend(&self) -> &'static str {
            "map"
        }
        async fn get(&self, key: &str) -> Option<Vec<u8>> {
            let found = self.0.lock().await.get(key).cloned();
            self.1.record_get(found.is_some());
            found
        }
        async fn set(&self, key: &str, value: &[u8], _ttl: Duration) {
            self.0.lock().await.insert(key.to_owned(), value.to_vec());
        }
        async fn delete(&self, key: &str) {
            self.0.lock().await.remove(key);
        }
        fn stats(&self) -> CacheStats {
            self.1.snapshot()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_compute_once() {
        let cached = Arc::new(Cached::new(Arc::new(MapCache::default()), "t"));
        let computed = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cached, computed) = (Arc::clone(&cached), Arc::clone(&computed));
                tokio::spawn(async move {
                    cached
                        .get_or_compute_json("k", Duration::from_secs(5), || async {
                            computed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(41 + 1)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 42u32);
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        assert!(cached.flights.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn errors_are_returned_and_not_cached() {
        let cached = Cached::new(Arc::new(MapCache::default()), "t");
        let ttl = Duration::from_secs(5);
        let failed: Result<u32> = cached
            .get_or_compute_json("k", ttl, || async { Err(Error::internal("boom")) })
            .await;
        assert!(failed.is_err());
        let ok: u32 = cached
            .get_or_compute_json("k", ttl, || async { Ok(3) })
            .await
            .unwrap();
        assert_eq!(ok, 3);
        assert_eq!(cached.get_json::<u32>("k").await, Some(3));
        assert_eq!(cached.backend().get("sp:t:k").await, Some(b"3".to_vec()));
    }
}
