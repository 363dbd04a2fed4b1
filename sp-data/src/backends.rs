//! Choosing backends from configuration.

use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

use sp_core::auth::{LocalRateLimiter, RateLimiter};
use sp_core::cache::{Cache, NoCache};
use sp_core::health::HealthCheck;
use sp_core::{Config, Error, Result};

use crate::SqliteStore;

/// The storage a process runs on: PostgreSQL when `database.url` is set, the embedded SQLite
/// store otherwise; Redis when `redis.url` is set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Database {
    /// The embedded default.
    Embedded(SqliteStore),
    /// PostgreSQL + pgvector.
    #[cfg(feature = "postgres")]
    Postgres(crate::PgStore),
}

/// Every backend a process holds.
#[derive(Clone)]
pub struct Backends {
    /// Rows, full text and vectors.
    pub database: Database,
    /// The shared cache, when Redis is configured.
    #[cfg(feature = "redis")]
    pub redis: Option<crate::RedisStore>,
    /// The cache: on Redis when configured, in this process otherwise, none when disabled.
    pub cache: Arc<dyn Cache>,
    /// Per-key rate limits: shared through Redis when configured, in this process otherwise.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("database", &self.database)
            .field("cache", &self.cache.backend())
            .finish_non_exhaustive()
    }
}

impl Backends {
    /// The migrations of the database `config` names against this build's, read without
    /// opening the stores (nothing is created or migrated): `sp migrate status`.
    pub async fn migration_status(config: &Config) -> Result<crate::MigrationStatus> {
        match &config.database.url {
            None => SqliteStore::migration_status(&config.data_dir).await,
            #[cfg(feature = "postgres")]
            Some(_) => {
                crate::PgStore::connect_lazy(&config.database)?
                    .migration_status()
                    .await
            }
            #[cfg(not(feature = "postgres"))]
            Some(_) => Err(disabled("database.url", "postgres")),
        }
    }

    /// The statements of the configured PostgreSQL database that took the most execution
    /// time (`pg_stat_statements`, see [`crate::PgStore::top_statements`]); the embedded store
    /// keeps no such statistics (`SP-OPS-003`).
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub async fn top_statements(config: &Config, limit: u32) -> Result<Vec<crate::StatementStats>> {
        match &config.database.url {
            None => Err(sp_core::Error::StatsUnavailable {
                reason: "this configuration uses the embedded store (SQLite), which keeps no \
                         statement statistics; `--db` reads PostgreSQL's `pg_stat_statements` \
                         (set `database.url`)"
                    .into(),
            }),
            #[cfg(feature = "postgres")]
            Some(_) => {
                crate::PgStore::connect_lazy(&config.database)?
                    .top_statements(limit)
                    .await
            }
            #[cfg(not(feature = "postgres"))]
            Some(_) => Err(disabled("database.url", "postgres")),
        }
    }

    /// Opens what `config` selects. Remote servers are connected lazily, so a database that is
    /// down at start makes the process unready, not dead.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut config = sp_core::Config::default();
    /// config.data_dir = dir.path().to_path_buf();
    /// let backends = sp_data::Backends::open(&config).await.unwrap();
    /// let names: Vec<_> = backends.health_checks().iter().map(|c| c.name().to_owned()).collect();
    /// assert_eq!(names, ["sqlite"]);
    /// # });
    /// ```
    pub async fn open(config: &Config) -> Result<Self> {
        let database = match &config.database.url {
            None => Database::Embedded(SqliteStore::open(&config.data_dir).await?),
            #[cfg(feature = "postgres")]
            Some(_) => Database::Postgres(crate::PgStore::connect_lazy(&config.database)?),
            #[cfg(not(feature = "postgres"))]
            Some(_) => return Err(disabled("database.url", "postgres")),
        };
        #[cfg(feature = "redis")]
        let redis = crate::RedisStore::from_config(&config.redis)?;
        // The cache and the shared rate limiter should be live when the server starts
        // taking requests; a Redis that is down only delays the start by this much.
        #[cfg(feature = "redis")]
        if let Some(redis) = &redis
            && !redis.wait_connected(Duration::from_secs(2)).await
        {
            tracing::warn!(
                "redis not reachable yet; cache bypassed and limits per process until it is"
            );
        }
        #[cfg(not(feature = "redis"))]
        if config.redis.configured() {
            return Err(disabled("redis", "redis"));
        }
        let cache: Arc<dyn Cache> = if !config.cache.enabled {
            Arc::new(NoCache::default())
        } else {
            #[cfg(feature = "redis")]
            let remote = redis.as_ref().map(|r| {
                let timeout = Duration::from_millis(config.cache.redis_timeout_ms);
                Arc::new(crate::RedisCache::new(r, timeout)) as Arc<dyn Cache>
            });
            #[cfg(not(feature = "redis"))]
            let remote = None;
            remote.unwrap_or_else(|| Arc::new(crate::MemoryCache::new(&config.cache)))
        };
        #[cfg(feature = "redis")]
        let shared = redis.as_ref().map(|r| {
            let timeout = Duration::from_millis(config.cache.redis_timeout_ms);
            Arc::new(crate::RedisRateLimiter::new(r, timeout)) as Arc<dyn RateLimiter>
        });
        #[cfg(not(feature = "redis"))]
        let shared = None;
        let rate_limiter = shared.unwrap_or_else(|| Arc::new(LocalRateLimiter::default()));
        Ok(Backends {
            database,
            #[cfg(feature = "redis")]
            redis,
            cache,
            rate_limiter,
        })
    }

    /// The readiness checks of every backend held.
    pub fn health_checks(&self) -> Vec<Arc<dyn HealthCheck>> {
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut checks: Vec<Arc<dyn HealthCheck>> = vec![match &self.database {
            Database::Embedded(store) => Arc::new(store.clone()),
            #[cfg(feature = "postgres")]
            Database::Postgres(store) => Arc::new(store.clone()),
        }];
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.redis {
            checks.push(Arc::new(redis.clone()));
        }
        checks
    }
}

#[allow(dead_code)]
fn disabled(key: &str, feature: &str) -> Error {
    Error::Config {
        key: key.into(),
        reason: format!("is set but this build lacks the `{feature}` feature of sp-data"),
    }
}
