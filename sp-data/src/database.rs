//! Opening a database and its stores one by one: the per-backend `match` written once here,
//! so callers (the CLI, metrics, the Python bindings, [`Stores`](crate::Stores)) never match
//! on the backend themselves.

use std::sync::Arc;

use sp_core::Result;
use sp_core::auth::{AuditStore, KeyStore, RefreshStore};
use sp_core::context::ContextStore;
use sp_core::events::EventBackend;
use sp_core::hub::RegistryStore;
use sp_core::knowledge::DocumentStore;
use sp_core::workflows::WorkflowStore;

use crate::Database;

/// Runs `$body` with `$db` bound to the backend's store, for every backend: the SQL stores are
/// generic over the driver, so one expression serves both arms.
macro_rules! on_backend {
    ($database:expr, $db:ident => $body:expr) => {
        match $database {
            Database::Embedded($db) => $body,
            #[cfg(feature = "postgres")]
            Database::Postgres($db) => $body,
        }
    };
}

/// How full a database's connection pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The backend's name: `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: usize,
}

impl Database {
    /// Opens `location`: a `postgres://` (or `postgresql://`) URL is PostgreSQL, with its tables
    /// in `schema` (the configured default when `None`), connected lazily; anything else is the
    /// directory of the embedded database.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// let db = sp_data::Database::open(&dir.path().display().to_string(), None).await?;
    /// assert_eq!(db.pool_stats().backend, "sqlite");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(location: &str, schema: Option<&str>) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let mut config = sp_core::config::DatabaseConfig {
                    url: Some(location.to_owned()),
                    ..Default::default()
                };
                if let Some(schema) = schema {
                    config.schema = schema.to_owned();
                }
                return Ok(Database::Postgres(crate::PgStore::connect_lazy(&config)?));
            }
            #[cfg(not(feature = "postgres"))]
            return Err(sp_core::Error::Config {
                key: "database.url".into(),
                reason: "this build has no PostgreSQL support (feature `postgres`)".into(),
            });
        }
        let _ = schema;
        Ok(Database::Embedded(
            crate::SqliteStore::open(std::path::Path::new(location)).await?,
        ))
    }

    /// Applies the pending migrations. The embedded database migrates when it is opened, so
    /// this only acts on PostgreSQL (concurrent processes wait on its advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Database::Embedded(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => pg.migrate().await,
        }
    }

    /// The documents, holding `dimensions`-wide vectors (a store made with another width is
    /// refused with `DimensionMismatch`), on a migrated database.
    pub async fn document_store(&self, dimensions: usize) -> Result<Arc<dyn DocumentStore>> {
        Ok(match self {
            Database::Embedded(db) => {
                Arc::new(crate::SqliteDocumentStore::open(db, dimensions).await?)
            }
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => Arc::new(crate::PgDocumentStore::open(pg, dimensions).await?),
        })
    }

    /// The agent contexts, on a migrated database.
    pub fn context_store(&self) -> Arc<dyn ContextStore> {
        on_backend!(self, db => Arc::new(crate::SqlContextStore::new(db)))
    }

    /// The API keys, on a migrated database.
    pub fn key_store(&self) -> Arc<dyn KeyStore> {
        on_backend!(self, db => Arc::new(crate::SqlKeyStore::new(db)))
    }

    /// The tenants, on a migrated database.
    pub fn tenant_store(&self) -> Arc<dyn sp_core::tenants::TenantStore> {
        on_backend!(self, db => Arc::new(crate::SqlTenantStore::new(db)))
    }

    /// The audit log, on a migrated database.
    pub fn audit_store(&self) -> Arc<dyn AuditStore> {
        on_backend!(self, db => Arc::new(crate::SqlAuditStore::new(db)))
    }

    /// The usage sums, on a migrated database.
    pub fn usage_store(&self) -> Arc<dyn sp_core::usage::UsageStore> {
        on_backend!(self, db => Arc::new(crate::SqlUsageStore::new(db)))
    }

    /// Replicas' heartbeats, on a migrated database.
    pub fn replica_store(&self) -> Arc<dyn sp_core::replicas::ReplicaStore> {
        on_backend!(self, db => Arc::new(crate::SqlReplicaStore::new(db)))
    }

    /// The refresh tokens, on a migrated database.
    pub fn refresh_store(&self) -> Arc<dyn RefreshStore> {
        on_backend!(self, db => Arc::new(crate::SqlRefreshStore::new(db)))
    }

    /// The service registry, on a migrated database.
    pub fn registry_store(&self) -> Arc<dyn RegistryStore> {
        on_backend!(self, db => Arc::new(crate::SqlRegistryStore::new(db)))
    }

    /// The agent definitions, runs and run events, on a migrated database.
    pub fn agent_store(&self) -> Arc<dyn sp_core::agents::AgentStore> {
        on_backend!(self, db => Arc::new(crate::SqlAgentStore::new(db)))
    }

    /// The facts contexts learn, on a migrated database.
    pub fn fact_store(&self) -> Arc<dyn sp_core::facts::FactStore> {
        on_backend!(self, db => Arc::new(crate::SqlFactStore::new(db)))
    }

    /// The workflow definitions and runs, on a migrated database.
    pub fn workflow_store(&self) -> Arc<dyn WorkflowStore> {
        on_backend!(self, db => Arc::new(crate::SqlWorkflowStore::new(db)))
    }

    /// The event log's store, on a migrated database.
    pub fn event_store(&self) -> Arc<dyn EventBackend> {
        match self {
            Database::Embedded(db) => Arc::new(crate::SqliteEventStore::new(db)),
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => Arc::new(crate::PgEventStore::new(pg)),
        }
    }

    /// The connection pool's size and idle connections, for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Database::Embedded(db) => PoolStats {
                backend: "sqlite",
                size: db.pool().size(),
                idle: db.pool().num_idle(),
            },
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => PoolStats {
                backend: "postgres",
                size: pg.pool().size(),
                idle: pg.pool().num_idle(),
            },
        }
    }
}
