//! API keys in SQL, written once for both backends and stamped for each by [`key_store!`].

use async_trait::async_trait;
use sp_core::auth::{ApiKey, KeyStore, Quota, Scope};
use sp_core::{Error, Result, TenantId, Timestamp};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::sql::{DbTime, Dialect, SqlDatabase};

const COLUMNS: &str = "id, name, tenant, scopes, models, tools, rate_limit, token_limit, \
                       token_hash, created_at, expires_at, revoked_at, previous_hash, \
                       previous_until, rotated_at";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    tenant: String,
    scopes: Json<Vec<Scope>>,
    models: Option<Json<Vec<String>>>,
    tools: Option<Json<Vec<String>>>,
    rate_limit: Option<String>,
    token_limit: Option<String>,
    token_hash: String,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    previous_hash: Option<String>,
    previous_until: Option<DbTime>,
    rotated_at: Option<DbTime>,
}

impl KeyRow {
    fn into_key(self) -> Result<(ApiKey, String)> {
        let key = ApiKey {
            id: self.id,
            name: self.name,
            tenant: TenantId::new(self.tenant)?,
            scopes: self.scopes.0,
            models: self.models.map(|m| m.0),
            tools: self.tools.map(|t| t.0),
            token_limit: self
                .token_limit
                .as_deref()
                .map(str::parse::<Quota>)
                .transpose()?,
            rate_limit: self
                .rate_limit
                .as_deref()
                .map(str::parse::<Quota>)
                .transpose()?,
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|at| at.0),
            revoked_at: self.revoked_at.map(|at| at.0),
            rotated_at: self.rotated_at.map(|at| at.0),
            previous_expires_at: self.previous_until.map(|at| at.0),
            previous_token_hash: self.previous_hash,
        };
        Ok((key, self.token_hash))
    }
}

fn key_not_found(id: &str) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Key,
        id: id.to_owned(),
    }
}

/// API keys in a SQL database: [`SqliteKeyStore`] on the embedded file, [`PgKeyStore`] on
/// PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::auth::KeyStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let keys = sp_data::SqliteKeyStore::new(&db);
/// assert!(keys.find("sp_missing").await?.is_none());
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlKeyStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// API keys in the embedded SQLite database.
pub type SqliteKeyStore = SqlKeyStore<sqlx::Sqlite>;

/// API keys in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgKeyStore = SqlKeyStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlKeyStore<DB> {
    /// Keys in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlKeyStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`KeyStore`] for one driver.
macro_rules! key_store {
    ($db:ty) => {
        #[async_trait]
        impl KeyStore for SqlKeyStore<$db> {
            async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO auth_keys (id, name, scopes, rate_limit, token_limit, token_hash, \
                     created_at, expires_at, tenant, models, tools) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(Json(&key.scopes))
                .bind(key.rate_limit.map(|q| q.to_string()))
                .bind(key.token_limit.map(|q| q.to_string()))
                .bind(token_hash)
                .bind(DbTime(key.created_at))
                .bind(key.expires_at.map(DbTime))
                .bind(key.tenant.as_str())
                .bind(key.models.as_ref().map(Json))
                .bind(key.tools.as_ref().map(Json))
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>> {
                let sql = format!("SELECT {COLUMNS} FROM auth_keys WHERE id = $1");
                sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .map(KeyRow::into_key)
                    .transpose()
            }

            async fn list(&self) -> Result<Vec<ApiKey>> {
                let sql = format!("SELECT {COLUMNS} FROM auth_keys ORDER BY created_at DESC, id");
                sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(|row| row.into_key().map(|(key, _)| key))
                    .collect()
            }

            async fn revoke(&self, id: &str) -> Result<ApiKey> {
                sqlx::query(
                    "UPDATE auth_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
                )
                .bind(DbTime::now())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                self.find(id)
                    .await?
                    .map(|(key, _)| key)
                    .ok_or_else(|| key_not_found(id))
            }

            async fn rotate(
                &self,
                id: &str,
                token_hash: &str,
                previous_until: Timestamp,
            ) -> Result<ApiKey> {
                // One statement: the hash it replaces is the one it keeps as the previous.
                let done = sqlx::query(
                    "UPDATE auth_keys SET previous_hash = token_hash, previous_until = $1, \
                     token_hash = $2, rotated_at = $3 WHERE id = $4 AND revoked_at IS NULL",
                )
                .bind(DbTime(previous_until))
                .bind(token_hash)
                .bind(DbTime::now())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                let key = self
                    .find(id)
                    .await?
                    .map(|(key, _)| key)
                    .ok_or_else(|| key_not_found(id))?;
                if done.rows_affected() == 0 {
                    return Err(Error::Conflict(format!("key `{id}` is revoked")));
                }
                Ok(key)
            }
        }
    };
}

key_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
key_store!(sqlx::Postgres);
