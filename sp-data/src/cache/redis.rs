//! The cache on Redis, shared by every `sp` process pointed at the same server.

use std::time::Duration;

use async_trait::async_trait;
use fred::bytes::Bytes;
use fred::prelude::{ClientLike, Expiration, KeysInterface, Options};
use sp_core::cache::{Cache, CacheCounters, CacheStats};

use super::outage::Outage;
use crate::RedisStore;

/// A cache on Redis. When Redis is down or slow every operation is skipped (a get is a
/// miss), counted as bypassed, and a warning is logged once per outage; it is used again as
/// soon as the client has reconnected, without a restart.
pub struct RedisCache {
    client: fred::clients::Client,
    options: Options,
    counters: CacheCounters,
    outage: Outage,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache on `redis`' connection; commands slower than `timeout` are abandoned.
    pub fn new(redis: &RedisStore, timeout: Duration) -> Self {
        RedisCache {
            client: redis.client().clone(),
            options: Options {
                timeout: Some(timeout),
                // One try: a retry loop would hold the caller while Redis is away.
                max_attempts: Some(1),
                ..Options::default()
            },
            counters: CacheCounters::default(),
            outage: Outage::new("redis cache", "bypassing it"),
        }
    }

    fn connected(&self) -> bool {
        if self.client.is_connected() {
            return true;
        }
        self.failed("not connected");
        false
    }

    fn failed(&self, reason: impl std::fmt::Display) {
        self.counters.record_bypass();
        self.outage.failed(reason);
    }

    fn succeeded(&self) {
        self.outage.succeeded();
    }
}

#[async_trait]
impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        if !self.connected() {
            return None;
        }
        match self
            .client
            .with_options(&self.options)
            .get::<Option<Bytes>, _>(key)
            .await
        {
            Ok(found) => {
                self.succeeded();
                self.counters.record_get(found.is_some());
                found.map(|b| b.to_vec())
            }
            Err(err) => {
                self.failed(err);
                None
            }
        }
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        if !self.connected() {
            return;
        }
        let expiry = Expiration::PX(ttl.as_millis().clamp(1, i64::MAX as u128) as i64);
        match self
            .client
            .with_options(&self.options)
            .set::<(), _, _>(
                key,
                Bytes::copy_from_slice(value),
                Some(expiry),
                None,
                false,
            )
            .await
        {
            Ok(()) => self.succeeded(),
            Err(err) => self.failed(err),
        }
    }

    async fn delete(&self, key: &str) {
        if !self.connected() {
            return;
        }
        match self
            .client
            .with_options(&self.options)
            .del::<i64, _>(key)
            .await
        {
            Ok(_) => self.succeeded(),
            Err(err) => self.failed(err),
        }
    }

    fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}
