//! Redis Cluster: the rate limiter and the cache on a real three-master cluster (each master
//! with a replica) on loopback — one budget shared by two clients, keys spread over every
//! master, and a master killed mid-traffic: limits keep answering (per process) and come back
//! to the shared budget once the replica has taken over.

use std::time::{Duration, Instant};

use sp_core::auth::{Quota, RateLimiter};
use sp_core::cache::Cache;
use sp_core::config::RedisConfig;
use sp_data::{RedisCache, RedisRateLimiter, RedisStore};
use sp_tests::OwnRedisCluster;

fn client(cluster: &OwnRedisCluster, seeds: usize) -> RedisStore {
    let config = RedisConfig {
        url: None,
        cluster_nodes: cluster.nodes[..seeds].to_vec(),
    };
    RedisStore::from_config(&config)
        .expect("config")
        .expect("a cluster is configured")
}

async fn connected(cluster: &OwnRedisCluster, seeds: usize) -> RedisStore {
    let store = client(cluster, seeds);
    assert!(store.is_cluster());
    assert!(
        store.wait_connected(Duration::from_secs(10)).await,
        "the cluster client never connected"
    );
    store
}

/// Spends one unit of `key` on `first` then `second` in turn until one refuses; how many
/// were allowed.
async fn allowed_until_refused(
    first: &RedisRateLimiter,
    second: &RedisRateLimiter,
    key: &str,
    quota: &Quota,
) -> usize {
    let mut allowed = 0;
    for turn in 0..20 {
        let limiter = if turn % 2 == 0 { first } else { second };
        if !limiter.spend(key, quota, 1, false).await.allowed {
            break;
        }
        allowed += 1;
    }
    allowed
}

#[tokio::test]
async fn limits_and_cache_share_one_cluster_and_survive_a_master_failover() {
    let cluster = OwnRedisCluster::start("limits-failover");
    // One client knows a single seed and discovers the rest; the other knows them all.
    let (one, two) = (connected(&cluster, 1).await, connected(&cluster, 6).await);
    let timeout = Duration::from_millis(500);
    let (first, second) = (
        RedisRateLimiter::new(&one, timeout),
        RedisRateLimiter::new(&two, timeout),
    );
    let quota: Quota = "5/min".parse().expect("quota");

    // One budget across both clients, whichever master holds the key.
    let mut holders = std::collections::BTreeSet::new();
    for n in 0..12 {
        let key = format!("key-{n}");
        assert_eq!(
            allowed_until_refused(&first, &second, &key, &quota).await,
            5,
            "{key}: one budget for both clients"
        );
        holders.insert(
            cluster
                .master_of(&format!("sp:ratelimit:{{{key}}}"))
                .expect("a master"),
        );
    }
    assert_eq!(holders.len(), 3, "budgets spread over every master");

    // The cache: values written through one client read through the other.
    let (cache_one, cache_two) = (
        RedisCache::new(&one, timeout),
        RedisCache::new(&two, timeout),
    );
    for n in 0..20 {
        let key = format!("sp:test:{n}");
        cache_one
            .set(&key, n.to_string().as_bytes(), Duration::from_secs(60))
            .await;
        assert_eq!(
            cache_two.get(&key).await,
            Some(n.to_string().into_bytes()),
            "{key}"
        );
    }

    // Kill the master of a set of fresh keys' budgets. Their limits keep holding meanwhile
    // (each client on its own), and once the replica is promoted the budget is shared again.
    let victim = cluster
        .master_of("sp:ratelimit:{after-0}")
        .expect("a master");
    let on_victim: Vec<String> = (0..400)
        .map(|n| format!("after-{n}"))
        .filter(|key| {
            cluster
                .master_of(&format!("sp:ratelimit:{{{key}}}"))
                .as_ref()
                == Some(&victim)
        })
        .take(40)
        .collect();
    assert!(on_victim.len() >= 20, "{on_victim:?}");
    let masters_before = cluster.masters();
    OwnRedisCluster::cli(&victim, &["shutdown", "nosave"]);
    let killed = Instant::now();
    let mut probes = on_victim.iter();
    let during = probes.next().expect("a key");
    let mut decisions = Vec::new();
    for _ in 0..6 {
        decisions.push(first.spend(during, &quota, 1, false).await.allowed);
    }
    assert_eq!(
        decisions,
        [true, true, true, true, true, false],
        "limits hold while the slot's master is down"
    );
    let recovered = loop {
        let probe = probes
            .next()
            .expect("shared budget back before the probes ran out");
        let promoted = cluster
            .master_of(&format!("sp:ratelimit:{{{probe}}}"))
            .is_some_and(|master| master != victim);
        if promoted && allowed_until_refused(&second, &first, probe, &quota).await == 5 {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no shared budget 30 s after the master died"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let masters_after = cluster.masters();
    assert!(!masters_after.contains(&victim), "{masters_after:?}");
    assert_eq!(
        masters_after.len(),
        3,
        "a replica took over: {masters_after:?}"
    );
    assert_ne!(masters_before, masters_after);
    println!("shared limits back {recovered:?} after the master died");
}

#[test]
fn cluster_seeds_must_be_host_and_port() {
    for bad in ["127.0.0.1", ":7000", "host:0", "host:port", "host:70000"] {
        let config = RedisConfig {
            url: None,
            cluster_nodes: vec![bad.into()],
        };
        let err = RedisStore::from_config(&config).expect_err(bad);
        assert_eq!(err.code(), sp_core::ErrorCode::InvalidConfig, "{bad}");
        assert!(err.to_string().contains("redis.cluster_nodes"), "{err}");
    }
}
