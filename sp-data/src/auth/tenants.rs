//! Tenants in SQL, written once for both backends and stamped for each by [`tenant_store!`].

use async_trait::async_trait;
use sp_core::auth::Quota;
use sp_core::tenants::{StorageQuota, Tenant, TenantId, TenantQuotas, TenantStore};
use sp_core::{Error, Result};
use sqlx::AssertSqlSafe;

use crate::sql::{DbTime, Dialect, SqlDatabase};

/// The columns a tenant is read from.
const COLUMNS: &str = "id, name, created_at, rate_limit, token_limits, max_sections, max_bytes";

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    created_at: DbTime,
    rate_limit: Option<String>,
    /// `COUNT/UNIT` quotas, comma-separated.
    token_limits: Option<String>,
    max_sections: Option<i64>,
    max_bytes: Option<i64>,
}

/// A stored storage bound; a negative one means a corrupt row.
fn bound(stored: Option<i64>) -> Result<Option<u64>> {
    stored
        .map(|b| u64::try_from(b).map_err(|_| Error::internal(format!("storage quota {b} < 0"))))
        .transpose()
}

/// A storage bound as a column (validated quotas fit).
fn bound_column(bound: Option<u64>) -> Result<Option<i64>> {
    bound
        .map(|b| i64::try_from(b).map_err(Error::internal))
        .transpose()
}

impl TryFrom<TenantRow> for Tenant {
    type Error = Error;
    fn try_from(row: TenantRow) -> Result<Tenant> {
        let token_limits = row
            .token_limits
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|q| !q.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Quota>>>()?;
        Ok(Tenant {
            id: TenantId::new(row.id)?,
            name: row.name,
            created_at: row.created_at.0,
            quotas: TenantQuotas {
                rate_limit: row.rate_limit.as_deref().map(str::parse).transpose()?,
                token_limits,
                storage: StorageQuota {
                    max_sections: bound(row.max_sections)?,
                    max_bytes: bound(row.max_bytes)?,
                },
            },
        })
    }
}

/// The quota columns of `quotas`: requests, tokens, sections, bytes.
type QuotaColumns = (Option<String>, Option<String>, Option<i64>, Option<i64>);

/// The quota columns of `quotas`.
fn quota_columns(quotas: &TenantQuotas) -> Result<QuotaColumns> {
    let tokens = (!quotas.token_limits.is_empty()).then(|| {
        quotas
            .token_limits
            .iter()
            .map(Quota::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    Ok((
        quotas.rate_limit.map(|q| q.to_string()),
        tokens,
        bound_column(quotas.storage.max_sections)?,
        bound_column(quotas.storage.max_bytes)?,
    ))
}

/// Tenants in a SQL database: [`SqliteTenantStore`] on the embedded file,
/// [`PgTenantStore`] on PostgreSQL. The migration that creates the table creates the default
/// tenant.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::tenants::TenantStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let tenants = sp_data::SqliteTenantStore::new(&db);
/// assert!(tenants.find(&sp_core::TenantId::default()).await?.is_some());
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlTenantStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Tenants in the embedded SQLite database.
pub type SqliteTenantStore = SqlTenantStore<sqlx::Sqlite>;

/// Tenants in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgTenantStore = SqlTenantStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlTenantStore<DB> {
    /// Tenants in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlTenantStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`TenantStore`] for one driver.
macro_rules! tenant_store {
    ($db:ty) => {
        #[async_trait]
        impl TenantStore for SqlTenantStore<$db> {
            async fn insert(&self, tenant: &Tenant) -> Result<()> {
                let (rate, tokens, sections, bytes) = quota_columns(&tenant.quotas)?;
                sqlx::query(
                    "INSERT INTO tenants (id, name, created_at, rate_limit, token_limits, \
                     max_sections, max_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(tenant.id.as_str())
                .bind(&tenant.name)
                .bind(DbTime(tenant.created_at))
                .bind(rate)
                .bind(tokens)
                .bind(sections)
                .bind(bytes)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn set_quotas(&self, id: &TenantId, quotas: &TenantQuotas) -> Result<Tenant> {
                let (rate, tokens, sections, bytes) = quota_columns(quotas)?;
                let sql = format!(
                    "UPDATE tenants SET rate_limit = $1, token_limits = $2, max_sections = $3, \
                     max_bytes = $4 WHERE id = $5 RETURNING {COLUMNS}"
                );
                sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql))
                    .bind(rate)
                    .bind(tokens)
                    .bind(sections)
                    .bind(bytes)
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .map(Tenant::try_from)
                    .transpose()?
                    .ok_or_else(|| Error::NotFound {
                        kind: sp_core::Resource::Tenant,
                        id: id.to_string(),
                    })
            }

            async fn find(&self, id: &TenantId) -> Result<Option<Tenant>> {
                let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
                sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .map(Tenant::try_from)
                    .transpose()
            }

            async fn list(&self) -> Result<Vec<Tenant>> {
                let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY id");
                sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(Tenant::try_from)
                    .collect()
            }
        }
    };
}

tenant_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
tenant_store!(sqlx::Postgres);
