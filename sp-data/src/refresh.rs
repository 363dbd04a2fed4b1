//! Refresh tokens on SQLite and PostgreSQL.

use async_trait::async_trait;
use sp_core::auth::{RefreshRecord, RefreshStore, Scope};
use sp_core::{Error, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::error::{sqlx_error, stored_time};

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: String,
    key_id: String,
    family: String,
    scopes: String,
    token_hash: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl RefreshRow {
    fn into_record(self) -> Result<(RefreshRecord, String)> {
        let time = stored_time;
        let scopes: Vec<Scope> = serde_json::from_str(&self.scopes).map_err(Error::internal)?;
        Ok((
            RefreshRecord {
                id: self.id,
                key_id: self.key_id,
                family: self.family,
                scopes,
                created_at: time(self.created_at)?,
                expires_at: time(self.expires_at)?,
                used_at: self.used_at.map(time).transpose()?,
                revoked_at: self.revoked_at.map(time).transpose()?,
            },
            self.token_hash,
        ))
    }
}

/// Refresh tokens in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteRefreshStore {
    pool: SqlitePool,
}

impl SqliteRefreshStore {
    /// Tokens in `db`.
    pub fn new(db: &crate::SqliteStore) -> Self {
        SqliteRefreshStore {
            pool: db.pool().clone(),
        }
    }
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

#[async_trait]
impl RefreshStore for SqliteRefreshStore {
    async fn insert(&self, r: &RefreshRecord, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_refresh (id, key_id, family, scopes, token_hash, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id)
        .bind(&r.key_id)
        .bind(&r.family)
        .bind(serde_json::to_string(&r.scopes).map_err(Error::internal)?)
        .bind(token_hash)
        .bind(r.created_at.unix_micros())
        .bind(r.expires_at.unix_micros())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>> {
        let sql = "SELECT id, key_id, family, scopes, token_hash, created_at, expires_at, used_at, \
                   revoked_at FROM auth_refresh WHERE id = ?";
        sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(RefreshRow::into_record)
            .transpose()
    }

    async fn mark_used(&self, id: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE auth_refresh SET used_at = ? WHERE id = ? AND used_at IS NULL")
                .bind(Timestamp::now().unix_micros())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_family(&self, family: &str) -> Result<()> {
        sqlx::query(
            "UPDATE auth_refresh SET revoked_at = COALESCE(revoked_at, ?) WHERE family = ?",
        )
        .bind(Timestamp::now().unix_micros())
        .bind(family)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[cfg(feature = "postgres")]
pub use pg::PgRefreshStore;

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use sqlx::PgPool;

    /// Refresh tokens in PostgreSQL.
    #[derive(Debug, Clone)]
    pub struct PgRefreshStore {
        pool: PgPool,
    }

    impl PgRefreshStore {
        /// Runs the migrations and opens the store.
        pub async fn open(pg: &crate::PgStore) -> Result<Self> {
            pg.migrate().await?;
            Ok(PgRefreshStore {
                pool: pg.pool().clone(),
            })
        }
    }

    fn db(err: sqlx::Error) -> Error {
        sqlx_error("postgres", err)
    }

    #[async_trait]
    impl RefreshStore for PgRefreshStore {
        async fn insert(&self, r: &RefreshRecord, token_hash: &str) -> Result<()> {
            sqlx::query(
                "INSERT INTO auth_refresh (id, key_id, family, scopes, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
            )
            .bind(&r.id)
            .bind(&r.key_id)
            .bind(&r.family)
            .bind(serde_json::to_string(&r.scopes).map_err(Error::internal)?)
            .bind(token_hash)
            .bind(r.created_at.as_datetime())
            .bind(r.expires_at.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(db)?;
            Ok(())
        }

        async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>> {
            let sql = "SELECT id, key_id, family, scopes::text AS scopes, token_hash, \
                 (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, \
                 (extract(epoch FROM expires_at) * 1000000)::int8 AS expires_at, \
                 (extract(epoch FROM used_at) * 1000000)::int8 AS used_at, \
                 (extract(epoch FROM revoked_at) * 1000000)::int8 AS revoked_at \
                 FROM auth_refresh WHERE id = $1";
            sqlx::query_as::<_, RefreshRow>(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .map(RefreshRow::into_record)
                .transpose()
        }

        async fn mark_used(&self, id: &str) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE auth_refresh SET used_at = now() WHERE id = $1 AND used_at IS NULL",
            )
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
            Ok(done.rows_affected() == 1)
        }

        async fn revoke_family(&self, family: &str) -> Result<()> {
            sqlx::query("UPDATE auth_refresh SET revoked_at = COALESCE(revoked_at, now()) WHERE family = $1")
                .bind(family)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            Ok(())
        }
    }
}
