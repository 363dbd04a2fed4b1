//! Redis, for a cache shared by several `sp` processes.

use async_trait::async_trait;
use fred::prelude::{ClientLike, Config as FredConfig, ReconnectPolicy};
use sp_core::health::HealthCheck;
use sp_core::{Error, Result};

/// A Redis client that reconnects by itself, forever, with capped exponential backoff.
#[derive(Clone)]
pub struct RedisStore {
    client: fred::clients::Client,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts connecting to `url` in the background; fails only when the URL is malformed.
    /// Must be called inside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert!(sp_data::RedisStore::connect("redis://127.0.0.1:1").is_ok());
    /// assert!(sp_data::RedisStore::connect("not a url").is_err());
    /// # });
    /// ```
    pub fn connect(url: &str) -> Result<Self> {
        let mut config = FredConfig::from_url(url).map_err(|err| Error::Config {
            key: "redis.url".into(),
            reason: format!("not a valid Redis URL: {err}"),
        })?;
        // Keep retrying a server that is down at start instead of failing the process.
        config.fail_fast = false;
        let client = fred::types::Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(|err| Error::internal(format!("redis client: {err}")))?;
        // The connection task runs for the client's lifetime and reconnects on its own.
        drop(client.connect());
        Ok(RedisStore { client })
    }

    /// Waits up to `timeout` for the first connection; false when it did not come (the
    /// client keeps trying in the background either way).
    pub async fn wait_connected(&self, timeout: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.client.wait_for_connect()).await,
            Ok(Ok(()))
        )
    }

    /// The underlying client, for the stores built on this connection.
    pub fn client(&self) -> &fred::clients::Client {
        &self.client
    }
}

#[async_trait]
impl HealthCheck for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    async fn check(&self) -> Result<()> {
        if !self.client.is_connected() {
            return Err(Error::unavailable("redis", "not connected"));
        }
        self.client
            .ping::<String>(None)
            .await
            .map(|_| ())
            .map_err(|err| Error::unavailable("redis", err))
    }
}
