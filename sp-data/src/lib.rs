//! # sp-data
//!
//! Storage behind the `sp-core` traits: an embedded default that needs no server (SQLite,
//! always compiled), PostgreSQL with pgvector, and Redis. [`Backends::open`] picks them from a
//! [`sp_core::Config`]: `DATABASE_URL` selects PostgreSQL, `REDIS_URL` Redis.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let mut config = sp_core::Config::default();
//! config.data_dir = dir.path().to_path_buf();
//! let backends = sp_data::Backends::open(&config).await?;
//! let report = sp_core::health::run_checks(
//!     &backends.health_checks(),
//!     std::time::Duration::from_secs(2),
//! ).await;
//! assert!(report.is_healthy());
//! # Ok::<(), sp_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | [`PgStore`]: PostgreSQL + pgvector through sqlx |
//! | `redis` | yes | [`RedisStore`]: Redis through fred |
//!
//! The embedded store is always compiled.

mod agents;
pub mod auth;
mod backends;
mod backup;
pub mod cache;
pub mod context;
mod database;
mod error;
pub mod events;
mod facts;
pub mod hub;
pub mod knowledge;
mod migrations;
#[cfg(feature = "postgres")]
mod partitions;
#[cfg(feature = "postgres")]
mod postgres;
mod postgres_stats;
#[cfg(feature = "redis")]
mod redis;
mod replicas;
mod serve_lock;
pub mod sql;
mod sqlite;
mod stores;
mod transfer;
mod usage;
pub mod workflows;

#[cfg(feature = "postgres")]
pub use agents::PgAgentStore;
pub use agents::{SqlAgentStore, SqliteAgentStore};
#[cfg(feature = "redis")]
pub use auth::RedisRateLimiter;
pub use auth::{
    CachedKeyStore, CachedTenantStore, SqlAuditStore, SqlKeyStore, SqlRefreshStore, SqlTenantStore,
    SqliteAuditStore, SqliteKeyStore, SqliteRefreshStore, SqliteTenantStore,
};
#[cfg(feature = "postgres")]
pub use auth::{PgAuditStore, PgKeyStore, PgRefreshStore, PgTenantStore};
pub use backends::{Backends, Database};
pub use backup::{BackupManifest, MANIFEST_FILE, backup_embedded, restore_embedded, verify_backup};
pub use cache::MemoryCache;
#[cfg(feature = "redis")]
pub use cache::RedisCache;
#[cfg(feature = "postgres")]
pub use context::PgContextStore;
pub use context::{SqlContextStore, SqliteContextStore};
pub use database::PoolStats;
#[cfg(feature = "postgres")]
pub use events::PgEventStore;
pub use events::SqliteEventStore;
#[cfg(feature = "postgres")]
pub use facts::PgFactStore;
pub use facts::{SqlFactStore, SqliteFactStore};
#[cfg(feature = "postgres")]
pub use hub::PgRegistryStore;
pub use hub::{
    HttpTransport, McpToolServer, SqlRegistryStore, SqliteRegistryStore, mcp_endpoint,
    mcp_endpoint_of,
};
#[cfg(feature = "postgres")]
pub use knowledge::PgDocumentStore;
pub use knowledge::SqliteDocumentStore;
pub use knowledge::{GraphParams, ReembedProgress, VectorIndexConfig};
pub use migrations::{MigrationInfo, MigrationStatus};
#[cfg(feature = "postgres")]
pub use partitions::PartitionUpkeep;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use postgres_stats::StatementStats;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
#[cfg(feature = "postgres")]
pub use replicas::PgReplicaStore;
pub use replicas::{SqlReplicaStore, SqliteReplicaStore};
pub use serve_lock::{SERVE_LOCK_FILE, ServeLock};
pub use sqlite::{DATABASE_FILE, SqliteStore};
pub use stores::Stores;
pub use transfer::{
    EXPORT_FORMAT, EXPORT_VERSION, TransferSummary, export_store, exported_tables, import_store,
};
#[cfg(feature = "postgres")]
pub use usage::PgUsageStore;
pub use usage::{SqlUsageStore, SqliteUsageStore};
#[cfg(feature = "postgres")]
pub use workflows::PgWorkflowStore;
pub use workflows::{SqlWorkflowStore, SqliteWorkflowStore};
