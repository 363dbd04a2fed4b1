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
    /// Tenants.
    pub tenants: Arc<dyn sp_core::tenants::TenantStore>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Usage sums per tenant, key, model and day.
    pub usage: Arc<dyn sp_core::usage::UsageStore>,
    /// Refresh tokens.
    pub refresh: Arc<dyn RefreshStore>,
    /// The service registry.
    pub registry: Arc<dyn RegistryStore>,
    /// The event log and its consumer groups.
    pub events: Arc<dyn EventBackend>,
    /// Workflow definitions and runs.
    pub workflows: Arc<dyn WorkflowStore>,
    /// Agent definitions, runs and their events.
    pub agents: Arc<dyn sp_core::agents::AgentStore>,
    /// The facts contexts learn.
    pub facts: Arc<dyn sp_core::facts::FactStore>,
    /// The PostgreSQL log, which can follow other processes' appends.
    #[cfg(feature = "postgres")]
    pg_events: Option<Arc<crate::PgEventStore>>,
    /// The PostgreSQL database, whose partitions need upkeep.
    #[cfg(feature = "postgres")]
    pg: Option<crate::PgStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("dimensions", &self.documents.dimensions())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Migrates once, then opens every store; documents hold `dimensions`-wide vectors (a
    /// store made with another width is refused with `DimensionMismatch`).
    pub async fn open_stores(&self, dimensions: usize) -> Result<Stores> {
        self.migrate().await?;
        #[cfg(feature = "postgres")]
        let pg_events = match self {
            Database::Postgres(pg) => Some(Arc::new(crate::PgEventStore::new(pg))),
            _ => None,
        };
        #[cfg(feature = "postgres")]
        let events = match &pg_events {
            Some(pg) => pg.clone() as Arc<dyn EventBackend>,
            None => self.event_store(),
        };
        #[cfg(not(feature = "postgres"))]
        let events = self.event_store();
        Ok(Stores {
            documents: self.document_store(dimensions).await?,
            contexts: self.context_store(),
            tenants: self.tenant_store(),
            keys: self.key_store(),
            audit: self.audit_store(),
            usage: self.usage_store(),
            refresh: self.refresh_store(),
            registry: self.registry_store(),
            events,
            workflows: self.workflow_store(),
            agents: self.agent_store(),
            facts: self.fact_store(),
            #[cfg(feature = "postgres")]
            pg_events,
            #[cfg(feature = "postgres")]
            pg: match self {
                Database::Postgres(pg) => Some(pg.clone()),
                _ => None,
            },
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

    /// On PostgreSQL, runs partition upkeep ([`crate::PgStore::upkeep_partitions`]) once
    /// before returning — so today's partitions exist before the first request is served —
    /// and then hourly until the returned task is aborted; `None` on the embedded database
    /// (its tables are not partitioned). A failed round is logged, not returned: rows land in
    /// the default partition meanwhile, and the next round moves them.
    pub async fn start_partition_upkeep(&self) -> Option<tokio::task::JoinHandle<()>> {
        #[cfg(feature = "postgres")]
        if let Some(pg) = self.pg.clone() {
            upkeep_round(&pg).await;
            return Some(sp_core::retention::spawn_hourly_after_first(move || {
                let pg = pg.clone();
                async move { upkeep_round(&pg).await }
            }));
        }
        None
    }
}

#[cfg(feature = "postgres")]
async fn upkeep_round(pg: &crate::PgStore) {
    match pg.upkeep_partitions(chrono::Utc::now().date_naive()).await {
        Ok(done) => {
            for table in done.iter().filter(|t| !t.created.is_empty()) {
                tracing::info!(
                    table = table.table,
                    created = ?table.created,
                    moved_rows = table.moved_rows,
                    "partitions made"
                );
            }
        }
        Err(err) => tracing::warn!(%err, "partition upkeep did not run"),
    }
}
