//! API keys on SQLite and PostgreSQL.

use async_trait::async_trait;
use sp_core::auth::{ApiKey, KeyStore, Quota, Scope};
use sp_core::{Error, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::error::{sqlx_error, stored_time};

/// Both backends select this shape (PostgreSQL casts to text and microseconds).
#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    rate_limit: Option<String>,
    token_limit: Option<String>,
    token_hash: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl KeyRow {
    fn into_key(self) -> Result<(ApiKey, String)> {
        let time = stored_time;
        let scopes: Vec<Scope> = serde_json::from_str(&self.scopes).map_err(Error::internal)?;
        let key = ApiKey {
            id: self.id,
            name: self.name,
            scopes,
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
            created_at: time(self.created_at)?,
            expires_at: self.expires_at.map(time).transpose()?,
            revoked_at: self.revoked_at.map(time).transpose()?,
        };
        Ok((key, self.token_hash))
    }
}

fn scopes_json(key: &ApiKey) -> Result<String> {
    serde_json::to_string(&key.scopes).map_err(Error::internal)
}

fn key_not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "key",
        id: id.to_owned(),
    }
}

/// API keys in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    pool: SqlitePool,
}

impl SqliteKeyStore {
    /// Keys in `db`.
    pub fn new(db: &crate::SqliteStore) -> Self {
        SqliteKeyStore {
            pool: db.pool().clone(),
        }
    }
}

const SQLITE_COLUMNS: &str =
    "id, name, scopes, rate_limit, token_limit, token_hash, created_at, expires_at, revoked_at";

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_keys (id, name, scopes, rate_limit, token_limit, token_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(scopes_json(key)?)
        .bind(key.rate_limit.map(|q| q.to_string()))
        .bind(key.token_limit.map(|q| q.to_string()))
        .bind(token_hash)
        .bind(key.created_at.unix_micros())
        .bind(key.expires_at.map(|t| t.unix_micros()))
        .execute(&self.pool)
        .await
        .map_err(|e| sqlx_error("sqlite", e))?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>> {
        let sql = format!("SELECT {SQLITE_COLUMNS} FROM auth_keys WHERE id = ?");
        sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| sqlx_error("sqlite", e))?
            .map(KeyRow::into_key)
            .transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKey>> {
        let sql = format!("SELECT {SQLITE_COLUMNS} FROM auth_keys ORDER BY created_at DESC, id");
        sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| sqlx_error("sqlite", e))?
            .into_iter()
            .map(|row| row.into_key().map(|(key, _)| key))
            .collect()
    }

    async fn revoke(&self, id: &str) -> Result<ApiKey> {
        sqlx::query("UPDATE auth_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
            .bind(Timestamp::now().unix_micros())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| sqlx_error("sqlite", e))?;
        self.find(id)
            .await?
            .map(|(key, _)| key)
            .ok_or_else(|| key_not_found(id))
    }
}

#[cfg(feature = "postgres")]
pub use pg::PgKeyStore;

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use sqlx::PgPool;

    /// API keys in PostgreSQL.
    #[derive(Debug, Clone)]
    pub struct PgKeyStore {
        pool: PgPool,
    }

    impl PgKeyStore {
        /// Runs the migrations and opens the store.
        pub async fn open(pg: &crate::PgStore) -> Result<Self> {
            pg.migrate().await?;
            Ok(PgKeyStore {
                pool: pg.pool().clone(),
            })
        }
    }

    const PG_COLUMNS: &str = "id, name, scopes::text AS scopes, rate_limit, token_limit, token_hash, \
         (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, \
         (extract(epoch FROM expires_at) * 1000000)::int8 AS expires_at, \
         (extract(epoch FROM revoked_at) * 1000000)::int8 AS revoked_at";

    fn db(err: sqlx::Error) -> Error {
        sqlx_error("postgres", err)
    }

    #[async_trait]
    impl KeyStore for PgKeyStore {
        async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
            sqlx::query(
                "INSERT INTO auth_keys (id, name, scopes, rate_limit, token_limit, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)",
            )
            .bind(&key.id)
            .bind(&key.name)
            .bind(scopes_json(key)?)
            .bind(key.rate_limit.map(|q| q.to_string()))
            .bind(key.token_limit.map(|q| q.to_string()))
            .bind(token_hash)
            .bind(key.created_at.as_datetime())
            .bind(key.expires_at.map(|t| t.as_datetime()))
            .execute(&self.pool)
            .await
            .map_err(db)?;
            Ok(())
        }

        async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>> {
            let sql = format!("SELECT {PG_COLUMNS} FROM auth_keys WHERE id = $1");
            sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .map(KeyRow::into_key)
                .transpose()
        }

        async fn list(&self) -> Result<Vec<ApiKey>> {
            let sql = format!("SELECT {PG_COLUMNS} FROM auth_keys ORDER BY created_at DESC, id");
            sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?
                .into_iter()
                .map(|row| row.into_key().map(|(key, _)| key))
                .collect()
        }

        async fn revoke(&self, id: &str) -> Result<ApiKey> {
            sqlx::query(
                "UPDATE auth_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1",
            )
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
            self.find(id)
                .await?
                .map(|(key, _)| key)
                .ok_or_else(|| key_not_found(id))
        }
    }
}

/// A key store that remembers lookups for a moment, so authenticating a request does not
/// cost a database round trip every time (~65 µs on SQLite here). A revocation through this
/// store applies at once; one made elsewhere (another process, `sp keys revoke`) within
/// `ttl` (1 s in the server).
pub struct CachedKeyStore {
    inner: std::sync::Arc<dyn KeyStore>,
    found: moka::sync::Cache<String, Option<(ApiKey, String)>>,
}

impl std::fmt::Debug for CachedKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKeyStore").finish_non_exhaustive()
    }
}

impl CachedKeyStore {
    /// Remembers up to 10,000 lookups of `inner` for `ttl` each.
    pub fn new(inner: std::sync::Arc<dyn KeyStore>, ttl: std::time::Duration) -> Self {
        CachedKeyStore {
            inner,
            found: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }
}

#[async_trait]
impl KeyStore for CachedKeyStore {
    async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
        self.inner.insert(key, token_hash).await?;
        self.found.invalidate(&key.id);
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>> {
        if let Some(found) = self.found.get(id) {
            return Ok(found);
        }
        let found = self.inner.find(id).await?;
        // Unknown ids are remembered too, so a flood of forged tokens stays off the database.
        self.found.insert(id.to_owned(), found.clone());
        Ok(found)
    }

    async fn list(&self) -> Result<Vec<ApiKey>> {
        self.inner.list().await
    }

    async fn revoke(&self, id: &str) -> Result<ApiKey> {
        let revoked = self.inner.revoke(id).await;
        self.found.invalidate(id);
        revoked
    }
}
