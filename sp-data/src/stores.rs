//! Every store of one database, opened by one call: the composition root the server, the CLI
//! and the Python bindings share instead of wiring stores by hand.

use std::sync::Arc;

use sp_core::Result;
use sp_core::auth::{AuditStore, KeyStore, RefreshStore};
use sp_core::context::ContextStore;
use sp_core::events::{EventBackend, EventLog};
use sp_core::hub::RegistryStore;
use sp_core::knowledge::DocumentStore;
use sp_core::workflows::WorkflowStore;

use crate::Database;

/// The stores of one database, each behind its `sp-core` trait.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::context::NewContext;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::Database::Embedded(sp_data::SqliteStore::open(dir.path()).await?);
/// let stores = db.open_stores(384).await?;
/// let ctx = stores.contexts.create(NewContext::default()).await?;
/// assert_eq!(stores.documents.dimensions(), 384);
/// # let _ = ctx;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Stores {
    /// Documents, chunks, full text and vectors.
    pub documents: Arc<dyn DocumentStore>,
    /// Agent contexts, messages and memory blocks.
    pub contexts: Arc<dyn ContextStore>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Refresh tokens.
    pub refresh: Arc<dyn RefreshStore>,
    /// The service registry.
    pub registry: Arc<dyn RegistryStore>,
    /// The event log and its consumer groups.
    pub events: Arc<dyn EventBackend>,
    /// Workflow definitions and runs.
    pub workflows: Arc<dyn WorkflowStore>,
    /// The PostgreSQL log, which can follow other processes' appends.
    #[cfg(feature = "postgres")]
    pg_events: Option<Arc<crate::PgEventStore>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("dimensions", &self.documents.dimensions())
            .finish_non_exhaustive()
    }
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

    /// The API keys alone (for the CLI's `sp keys`), on a migrated database.
    pub fn key_store(&self) -> Arc<dyn KeyStore> {
        match self {
            Database::Embedded(db) => Arc::new(crate::SqliteKeyStore::new(db)),
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => Arc::new(crate::PgKeyStore::new(pg)),
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

    /// Applies the pending migrations. The embedded database migrates when it is opened, so
    /// this only acts on PostgreSQL (concurrent processes wait on its advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Database::Embedded(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => pg.migrate().await,
        }
    }

    /// Migrates once, then opens every store; documents hold `dimensions`-wide vectors (a
    /// store made with another width is refused with `DimensionMismatch`).
    pub async fn open_stores(&self, dimensions: usize) -> Result<Stores> {
        self.migrate().await?;
        Ok(match self {
            Database::Embedded(db) => Stores {
                documents: Arc::new(crate::SqliteDocumentStore::open(db, dimensions).await?),
                contexts: Arc::new(crate::SqliteContextStore::new(db)),
                keys: Arc::new(crate::SqliteKeyStore::new(db)),
                audit: Arc::new(crate::SqliteAuditStore::new(db)),
                refresh: Arc::new(crate::SqliteRefreshStore::new(db)),
                registry: Arc::new(crate::SqliteRegistryStore::new(db)),
                events: Arc::new(crate::SqliteEventStore::new(db)),
                workflows: Arc::new(crate::SqliteWorkflowStore::new(db)),
                #[cfg(feature = "postgres")]
                pg_events: None,
            },
            #[cfg(feature = "postgres")]
            Database::Postgres(pg) => {
                let events = Arc::new(crate::PgEventStore::new(pg));
                Stores {
                    documents: Arc::new(crate::PgDocumentStore::open(pg, dimensions).await?),
                    contexts: Arc::new(crate::PgContextStore::new(pg)),
                    keys: Arc::new(crate::PgKeyStore::new(pg)),
                    audit: Arc::new(crate::PgAuditStore::new(pg)),
                    refresh: Arc::new(crate::PgRefreshStore::new(pg)),
                    registry: Arc::new(crate::PgRegistryStore::new(pg)),
                    events: events.clone(),
                    workflows: Arc::new(crate::PgWorkflowStore::new(pg)),
                    pg_events: Some(events),
                }
            }
        })
    }
}

impl Stores {
    /// Hands events that other processes append to this database's log to `log`'s live
    /// subscribers, on PostgreSQL (the embedded database has no other writers); the task runs
    /// until the returned handle is aborted.
    pub async fn follow_events(
        &self,
        log: Arc<EventLog>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>> {
        #[cfg(feature = "postgres")]
        if let Some(events) = &self.pg_events {
            return events.follow(log).await.map(Some);
        }
        let _ = log;
        Ok(None)
    }
}
