//! The cache backends: the same behaviour suite on the in-process cache and on the Redis of
//! the services script; bounds and eviction of the in-process one; Redis stopped mid-test
//! (bypassed, no error) and back (used again) on an instance of the test's own.

use std::sync::Arc;
use std::time::Duration;

use sp_core::cache::{Cache, Cached};
use sp_core::config::{CacheConfig, Eviction};
use sp_data::{MemoryCache, RedisCache, RedisStore};

fn redis_cache(url: &str) -> RedisCache {
    let store = RedisStore::connect(url).expect("redis url");
    RedisCache::new(&store, Duration::from_millis(250))
}

/// Waits until `cache` answers (the client connects in the background).
async fn until_up(cache: &dyn Cache) {
    for _ in 0..100 {
        cache.set("probe", b"1", Duration::from_secs(5)).await;
        if cache.get("probe").await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cache never came up");
}

async fn behaves_like_a_cache(cache: Arc<dyn Cache>) {
    let before = cache.stats();
    let unique = sp_core::Id::new().to_string();
    let key = |k: &str| format!("{unique}:{k}");
    assert_eq!(cache.get(&key("a")).await, None);
    cache
        .set(&key("a"), b"alpha", Duration::from_secs(30))
        .await;
    assert_eq!(cache.get(&key("a")).await.as_deref(), Some(&b"alpha"[..]));
    cache.set(&key("a"), b"beta", Duration::from_secs(30)).await;
    assert_eq!(cache.get(&key("a")).await.as_deref(), Some(&b"beta"[..]));
    cache.delete(&key("a")).await;
    assert_eq!(cache.get(&key("a")).await, None);
    // Entries expire on their own TTL.
    cache
        .set(&key("short"), b"x", Duration::from_millis(100))
        .await;
    cache.set(&key("long"), b"y", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get(&key("short")).await, None);
    assert!(cache.get(&key("long")).await.is_some());
    // Namespaced keys do not collide.
    let one = Cached::new(cache.clone(), &format!("{unique}-one"));
    let two = Cached::new(cache.clone(), &format!("{unique}-two"));
    one.set_json("k", &1u32, Duration::from_secs(30)).await;
    two.set_json("k", &2u32, Duration::from_secs(30)).await;
    assert_eq!(one.get_json::<u32>("k").await, Some(1));
    assert_eq!(two.get_json::<u32>("k").await, Some(2));
    let stats = cache.stats();
    assert!(stats.hits - before.hits >= 5, "{stats:?}");
    assert!(stats.misses - before.misses >= 3, "{stats:?}");
    assert_eq!(stats.bypassed, before.bypassed);
}

#[tokio::test]
async fn memory_cache_behaves_like_a_cache() {
    behaves_like_a_cache(Arc::new(MemoryCache::new(&CacheConfig::default()))).await;
}

#[tokio::test]
async fn redis_cache_behaves_like_a_cache() {
    let cache = redis_cache(&sp_tests::service_url("REDIS_URL"));
    until_up(&cache).await;
    behaves_like_a_cache(Arc::new(cache)).await;
}

#[tokio::test]
async fn memory_cache_is_bounded_by_entries_and_bytes() {
    for eviction in [Eviction::TinyLfu, Eviction::Lru] {
        let by_entries = MemoryCache::new(&CacheConfig {
            max_entries: 50,
            max_bytes: 1 << 30,
            eviction,
            ..CacheConfig::default()
        });
        for i in 0..500 {
            by_entries
                .set(&format!("k{i}"), b"tiny", Duration::from_secs(60))
                .await;
        }
        assert!(
            by_entries.entry_count().await <= 50,
            "{}",
            by_entries.entry_count().await
        );

        let by_bytes = MemoryCache::new(&CacheConfig {
            max_entries: 1_000_000,
            max_bytes: 64 * 1024,
            eviction,
            ..CacheConfig::default()
        });
        let value = vec![7u8; 4096];
        for i in 0..200 {
            by_bytes
                .set(&format!("k{i}"), &value, Duration::from_secs(60))
                .await;
        }
        assert!(by_bytes.weighted_size().await <= 64 * 1024);
        assert!(by_bytes.entry_count().await <= 16);
    }
}

#[tokio::test]
async fn lru_keeps_what_was_used_recently() {
    let cache = MemoryCache::new(&CacheConfig {
        max_entries: 10,
        max_bytes: 1 << 30,
        eviction: Eviction::Lru,
        ..CacheConfig::default()
    });
    for i in 0..10 {
        cache
            .set(&format!("k{i}"), b"v", Duration::from_secs(60))
            .await;
    }
    cache.entry_count().await;
    assert!(cache.get("k0").await.is_some());
    cache.entry_count().await;
    for i in 10..15 {
        cache
            .set(&format!("k{i}"), b"v", Duration::from_secs(60))
            .await;
        cache.entry_count().await;
    }
    assert!(
        cache.get("k0").await.is_some(),
        "k0 was used last; LRU keeps it"
    );
    assert!(
        cache.get("k1").await.is_none(),
        "k1 was the least recently used"
    );
}

/// A Redis of this test's own, stopped mid-test and started again.
struct OwnRedis(&'static str);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        sp_tests::script("services.sh", &["redis", "destroy", self.0]);
    }
}

#[tokio::test]
async fn redis_down_is_bypassed_and_used_again_when_back() {
    let name = "cache-outage";
    let url = sp_tests::script("services.sh", &["redis", "start", name]);
    let _own = OwnRedis(name);
    let cache = Arc::new(redis_cache(&url));
    until_up(cache.as_ref()).await;
    let cached = Cached::new(cache.clone(), "outage");
    cached.set_json("k", &1u32, Duration::from_secs(60)).await;
    assert_eq!(cached.get_json::<u32>("k").await, Some(1));

    sp_tests::script("services.sh", &["redis", "stop", name]);
    // Down: every operation is a quick miss, and a computation still answers.
    let started = std::time::Instant::now();
    assert_eq!(cached.get_json::<u32>("k").await, None);
    let computed: u32 = cached
        .get_or_compute_json("other", Duration::from_secs(60), || async { Ok(5) })
        .await
        .expect("no error while Redis is down");
    assert_eq!(computed, 5);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(cache.stats().bypassed >= 2, "{:?}", cache.stats());

    // Back: the client reconnects by itself and the cache is used again.
    sp_tests::script("services.sh", &["redis", "start", name]);
    until_up(cache.as_ref()).await;
    cached.set_json("k", &2u32, Duration::from_secs(60)).await;
    assert_eq!(cached.get_json::<u32>("k").await, Some(2));
}
