//! The audit log on SQLite and PostgreSQL.

use std::str::FromStr;

use async_trait::async_trait;
use sp_core::auth::{AuditEntry, AuditStore};
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::error::{sqlx_error, stored_time};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    at: i64,
    key_id: String,
    method: String,
    route: String,
    path: String,
    status: i64,
    request_id: String,
    duration_ms: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: Id::from_str(&row.id)?,
            at: stored_time(row.at)?,
            key_id: row.key_id,
            method: row.method,
            route: row.route,
            path: row.path,
            status: u16::try_from(row.status).unwrap_or(0),
            request_id: row.request_id,
            duration_ms: u32::try_from(row.duration_ms).unwrap_or(u32::MAX),
        })
    }
}

fn page_of(rows: Vec<AuditRow>, page: &PageRequest) -> Result<Page<AuditEntry>> {
    let entries = rows
        .into_iter()
        .map(AuditEntry::try_from)
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(entries, page.limit, |e| e.id)
}

/// The audit log in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteAuditStore {
    pool: SqlitePool,
}

impl SqliteAuditStore {
    /// The log in `db`.
    pub fn new(db: &crate::SqliteStore) -> Self {
        SqliteAuditStore {
            pool: db.pool().clone(),
        }
    }
}

#[async_trait]
impl AuditStore for SqliteAuditStore {
    async fn record(&self, e: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, key_id, method, route, path, status, request_id, duration_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.id.to_string())
        .bind(e.at.unix_micros())
        .bind(&e.key_id)
        .bind(&e.method)
        .bind(&e.route)
        .bind(&e.path)
        .bind(i64::from(e.status))
        .bind(&e.request_id)
        .bind(i64::from(e.duration_ms))
        .execute(&self.pool)
        .await
        .map_err(|err| sqlx_error("sqlite", err))?;
        Ok(())
    }

    async fn list(&self, key_id: Option<&str>, page: &PageRequest) -> Result<Page<AuditEntry>> {
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let sql = "SELECT id, at, key_id, method, route, path, status, request_id, duration_ms \
             FROM audit_log WHERE (? IS NULL OR key_id = ?) AND id < ? ORDER BY id DESC LIMIT ?";
        let rows = sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql))
            .bind(key_id)
            .bind(key_id)
            .bind(after.map_or_else(|| "g".to_owned(), |id| id.to_string()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| sqlx_error("sqlite", err))?;
        page_of(rows, page)
    }
}

#[cfg(feature = "postgres")]
pub use pg::PgAuditStore;

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use sqlx::PgPool;

    /// The audit log in PostgreSQL.
    #[derive(Debug, Clone)]
    pub struct PgAuditStore {
        pool: PgPool,
    }

    impl PgAuditStore {
        /// Runs the migrations and opens the log.
        pub async fn open(pg: &crate::PgStore) -> Result<Self> {
            pg.migrate().await?;
            Ok(PgAuditStore {
                pool: pg.pool().clone(),
            })
        }
    }

    #[async_trait]
    impl AuditStore for PgAuditStore {
        async fn record(&self, e: &AuditEntry) -> Result<()> {
            sqlx::query(
                "INSERT INTO audit_log (id, at, key_id, method, route, path, status, request_id, duration_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.id.as_uuid())
            .bind(e.at.as_datetime())
            .bind(&e.key_id)
            .bind(&e.method)
            .bind(&e.route)
            .bind(&e.path)
            .bind(i32::from(e.status))
            .bind(&e.request_id)
            .bind(i32::try_from(e.duration_ms).unwrap_or(i32::MAX))
            .execute(&self.pool)
            .await
            .map_err(|err| sqlx_error("postgres", err))?;
            Ok(())
        }

        async fn list(&self, key_id: Option<&str>, page: &PageRequest) -> Result<Page<AuditEntry>> {
            let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
            let sql = "SELECT id::text AS id, (extract(epoch FROM at) * 1000000)::int8 AS at, key_id, \
                 method, route, path, status::int8 AS status, request_id, duration_ms::int8 AS duration_ms \
                 FROM audit_log WHERE ($1::text IS NULL OR key_id = $1) AND ($2::uuid IS NULL OR id < $2) \
                 ORDER BY id DESC LIMIT $3";
            let rows = sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql))
                .bind(key_id)
                .bind(after.map(|id| id.as_uuid()))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(|err| sqlx_error("postgres", err))?;
            page_of(rows, page)
        }
    }
}
