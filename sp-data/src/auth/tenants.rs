//! Tenants in SQL, written once for both backends and stamped for each by [`tenant_store!`].

use async_trait::async_trait;
use sp_core::tenants::{Tenant, TenantId, TenantStore};
use sp_core::{Error, Result};

use crate::sql::{DbTime, Dialect, SqlDatabase};

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    created_at: DbTime,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = Error;
    fn try_from(row: TenantRow) -> Result<Tenant> {
        Ok(Tenant {
            id: TenantId::new(row.id)?,
            name: row.name,
            created_at: row.created_at.0,
        })
    }
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
                sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(tenant.id.as_str())
                    .bind(&tenant.name)
                    .bind(DbTime(tenant.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn find(&self, id: &TenantId) -> Result<Option<Tenant>> {
                sqlx::query_as::<_, TenantRow>(
                    "SELECT id, name, created_at FROM tenants WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?
                .map(Tenant::try_from)
                .transpose()
            }

            async fn list(&self) -> Result<Vec<Tenant>> {
                sqlx::query_as::<_, TenantRow>(
                    "SELECT id, name, created_at FROM tenants ORDER BY id",
                )
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
