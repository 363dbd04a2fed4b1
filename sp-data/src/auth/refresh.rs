//! Refresh tokens in SQL, written once for both backends and stamped for each by
//! [`refresh_store!`].

use async_trait::async_trait;
use sp_core::auth::{RefreshRecord, RefreshStore, Scope};
use sp_core::{Result, Timestamp};
use sqlx::types::Json;

use crate::sql::{DbTime, Dialect, SqlDatabase};

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: String,
    key_id: String,
    family: String,
    scopes: Json<Vec<Scope>>,
    token_hash: String,
    created_at: DbTime,
    expires_at: DbTime,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
}

impl RefreshRow {
    fn into_record(self) -> (RefreshRecord, String) {
        (
            RefreshRecord {
                id: self.id,
                key_id: self.key_id,
                family: self.family,
                scopes: self.scopes.0,
                created_at: self.created_at.0,
                expires_at: self.expires_at.0,
                used_at: self.used_at.map(|at| at.0),
                revoked_at: self.revoked_at.map(|at| at.0),
            },
            self.token_hash,
        )
    }
}

/// Refresh tokens in a SQL database: [`SqliteRefreshStore`] on the embedded file,
/// [`PgRefreshStore`] on PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::auth::RefreshStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let tokens = sp_data::SqliteRefreshStore::new(&db);
/// assert!(!tokens.mark_used("rt_missing").await?);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlRefreshStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Refresh tokens in the embedded SQLite database.
pub type SqliteRefreshStore = SqlRefreshStore<sqlx::Sqlite>;

/// Refresh tokens in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgRefreshStore = SqlRefreshStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlRefreshStore<DB> {
    /// Tokens in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlRefreshStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`RefreshStore`] for one driver.
macro_rules! refresh_store {
    ($db:ty) => {
        #[async_trait]
        impl RefreshStore for SqlRefreshStore<$db> {
            async fn insert(&self, r: &RefreshRecord, token_hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO auth_refresh (id, key_id, family, scopes, token_hash, created_at, \
                     expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&r.id)
                .bind(&r.key_id)
                .bind(&r.family)
                .bind(Json(&r.scopes))
                .bind(token_hash)
                .bind(DbTime(r.created_at))
                .bind(DbTime(r.expires_at))
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>> {
                let row = sqlx::query_as::<_, RefreshRow>(
                    "SELECT id, key_id, family, scopes, token_hash, created_at, expires_at, \
                     used_at, revoked_at FROM auth_refresh WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(row.map(RefreshRow::into_record))
            }

            async fn mark_used(&self, id: &str) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE auth_refresh SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                )
                .bind(DbTime::now())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_family(&self, family: &str) -> Result<()> {
                sqlx::query(
                    "UPDATE auth_refresh SET revoked_at = COALESCE(revoked_at, $1) WHERE family = $2",
                )
                .bind(DbTime::now())
                .bind(family)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn prune(&self, before: Timestamp) -> Result<u64> {
                let done = sqlx::query("DELETE FROM auth_refresh WHERE expires_at < $1")
                    .bind(DbTime(before))
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

refresh_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
refresh_store!(sqlx::Postgres);
