//! The in-process cache (moka): bounded by entries and by bytes, TinyLFU or LRU eviction,
//! a time to live per entry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::policy::EvictionPolicy;
use sp_core::cache::{Cache, CacheCounters, CacheStats};
use sp_core::config::{CacheConfig, Eviction};

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// A cache in this process's memory.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use sp_core::cache::Cache;
///
/// let cache = sp_data::MemoryCache::new(&sp_core::config::CacheConfig::default());
/// cache.set("k", b"v", Duration::from_secs(60)).await;
/// assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
/// # });
/// ```
pub struct MemoryCache {
    entries: moka::future::Cache<String, Entry>,
    counters: CacheCounters,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryCache {
    /// A cache bounded by `config.max_entries` and `config.max_bytes`.
    pub fn new(config: &CacheConfig) -> Self {
        // moka bounds one total weight. Weighing each entry at least max_bytes / max_entries
        // makes that one bound enforce both: never more bytes than max_bytes, never more
        // entries than max_entries.
        let floor = (config.max_bytes / config.max_entries.max(1)).max(1);
        let weigh = move |key: &String, entry: &Entry| -> u32 {
            let bytes = (key.len() + entry.value.len()) as u64;
            u32::try_from(bytes.max(floor)).unwrap_or(u32::MAX)
        };
        let policy = match config.eviction {
            Eviction::TinyLfu => EvictionPolicy::tiny_lfu(),
            Eviction::Lru => EvictionPolicy::lru(),
        };
        MemoryCache {
            entries: moka::future::Cache::builder()
                .max_capacity(config.max_bytes)
                .weigher(weigh)
                .eviction_policy(policy)
                .expire_after(PerEntryTtl)
                .build(),
            counters: CacheCounters::default(),
        }
    }

    /// Entries held (after pending evictions run).
    pub async fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }

    /// Bytes held, as weighed (after pending evictions run).
    pub async fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let found = self.entries.get(key).await.map(|e| e.value.to_vec());
        self.counters.record_get(found.is_some());
        found
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let entry = Entry {
            value: Arc::from(value),
            ttl,
        };
        self.entries.insert(key.to_owned(), entry).await;
    }

    async fn delete(&self, key: &str) {
        self.entries.invalidate(key).await;
    }

    fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}
