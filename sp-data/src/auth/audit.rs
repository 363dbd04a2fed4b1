//! The audit log in SQL, written once for both backends and stamped for each by
//! [`audit_store!`].

use async_trait::async_trait;
use sp_core::auth::{AuditEntry, AuditFilter, AuditStore};
use sp_core::{Id, Page, PageRequest, Result, TenantId, Timestamp};

use crate::sql::{DbId, DbTime, Dialect, SqlDatabase};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: DbId,
    at: DbTime,
    key_id: String,
    tenant: String,
    method: String,
    route: String,
    path: String,
    status: i32,
    request_id: String,
    duration_ms: i32,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = sp_core::Error;
    fn try_from(row: AuditRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: row.id.0,
            at: row.at.0,
            key_id: row.key_id,
            tenant: TenantId::new(row.tenant)?,
            method: row.method,
            route: row.route,
            path: row.path,
            status: u16::try_from(row.status).unwrap_or(0),
            request_id: row.request_id,
            duration_ms: u32::try_from(row.duration_ms).unwrap_or(u32::MAX),
        })
    }
}

/// The audit log in a SQL database: [`SqliteAuditStore`] on the embedded file,
/// [`PgAuditStore`] on PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::auth::AuditStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let audit = sp_data::SqliteAuditStore::new(&db);
/// let page = audit.list(&Default::default(), &sp_core::PageRequest::default()).await?;
/// assert!(page.items.is_empty());
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlAuditStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// The audit log in the embedded SQLite database.
pub type SqliteAuditStore = SqlAuditStore<sqlx::Sqlite>;

/// The audit log in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgAuditStore = SqlAuditStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlAuditStore<DB> {
    /// The log in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlAuditStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`AuditStore`] for one driver.
macro_rules! audit_store {
    ($db:ty) => {
        #[async_trait]
        impl AuditStore for SqlAuditStore<$db> {
            async fn record(&self, e: &AuditEntry) -> Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (id, at, key_id, method, route, path, status, \
                     request_id, duration_ms, tenant) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(DbId(e.id))
                .bind(DbTime(e.at))
                .bind(&e.key_id)
                .bind(&e.method)
                .bind(&e.route)
                .bind(&e.path)
                .bind(i32::from(e.status))
                .bind(&e.request_id)
                .bind(i32::try_from(e.duration_ms).unwrap_or(i32::MAX))
                .bind(e.tenant.as_str())
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn list(
                &self,
                filter: &AuditFilter,
                page: &PageRequest,
            ) -> Result<Page<AuditEntry>> {
                let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
                let rows = sqlx::query_as::<_, AuditRow>(
                    "SELECT id, at, key_id, tenant, method, route, path, status, request_id, \
                     duration_ms FROM audit_log WHERE ($1 IS NULL OR key_id = $1) \
                     AND ($2 IS NULL OR tenant = $2) AND id < $3 ORDER BY id DESC LIMIT $4",
                )
                .bind(filter.key_id.as_deref())
                .bind(filter.tenant.as_ref().map(|t| t.as_str()))
                .bind(DbId::before(after))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                let entries = rows
                    .into_iter()
                    .map(AuditEntry::try_from)
                    .collect::<Result<Vec<_>>>()?;
                Page::from_rows(entries, page.limit, |e| e.id)
            }

            async fn prune(&self, before: Timestamp) -> Result<u64> {
                self.prune_entries(before).await
            }
        }
    };
}

audit_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
audit_store!(sqlx::Postgres);

impl SqlAuditStore<sqlx::Sqlite> {
    /// Retention: deletes the entries answered before `before`.
    async fn prune_entries(&self, before: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(DbTime(before))
            .execute(&self.pool)
            .await
            .map_err(<sqlx::Sqlite as Dialect>::error)?;
        Ok(done.rows_affected())
    }
}

#[cfg(feature = "postgres")]
impl SqlAuditStore<sqlx::Postgres> {
    /// Retention: drops the day partitions wholly before `before`.
    async fn prune_entries(&self, before: Timestamp) -> Result<u64> {
        let day = before.as_datetime().date_naive();
        let dropped =
            crate::partitions::drop_before(&self.pool, &crate::partitions::AUDIT, day, None)
                .await?;
        Ok(dropped.dropped_rows)
    }
}
