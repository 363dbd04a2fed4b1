//! PostgreSQL's own account of where the database spends its time, for operators: the
//! statements of this database that took the most execution time, from `pg_stat_statements`
//! (what `sp status --db` prints).

use serde::Serialize;
#[cfg(feature = "postgres")]
use sp_core::{Error, Result};

#[cfg(feature = "postgres")]
use crate::{PgStore, error::sqlx_error};

/// One normalised statement (constants replaced by `$n`) and what it cost since the
/// statistics were last reset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementStats {
    /// The statement text as `pg_stat_statements` normalised it.
    pub query: String,
    /// Times it ran.
    pub calls: i64,
    /// Milliseconds spent executing it, all calls together.
    pub total_ms: f64,
    /// Milliseconds per call.
    pub mean_ms: f64,
    /// Rows it returned or changed, all calls together.
    pub rows: i64,
    /// Share of the pages it read that were already in `shared_buffers` (`None` when it read
    /// none).
    pub cache_hit_ratio: Option<f64>,
}

#[cfg(feature = "postgres")]
const EXTENSION_MISSING: &str = "the `pg_stat_statements` extension is not created in this \
    database: set `shared_preload_libraries = 'pg_stat_statements'` in postgresql.conf, restart \
    PostgreSQL, then run `CREATE EXTENSION pg_stat_statements` in it";

#[cfg(feature = "postgres")]
impl PgStore {
    /// The `limit` statements of this database with the most total execution time, most
    /// first. `SP-OPS-003` when the database does not collect them (the extension not
    /// created, or not preloaded).
    ///
    /// ```no_run
    /// # async fn run(store: sp_data::PgStore) -> sp_core::Result<()> {
    /// for statement in store.top_statements(10).await? {
    ///     println!("{:>10.1} ms {:>6} calls  {}", statement.total_ms, statement.calls, statement.query);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn top_statements(&self, limit: u32) -> Result<Vec<StatementStats>> {
        let created: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')",
        )
        .fetch_one(self.pool())
        .await
        .map_err(|err| sqlx_error("postgres", err))?;
        if !created {
            return Err(Error::StatsUnavailable {
                reason: EXTENSION_MISSING.into(),
            });
        }
        // Only this database's statements: the view covers the whole cluster.
        let rows: Vec<(String, i64, f64, f64, i64, Option<f64>)> = sqlx::query_as(
            "SELECT query, calls, total_exec_time, mean_exec_time, rows, \
                    CASE WHEN shared_blks_hit + shared_blks_read = 0 THEN NULL \
                         ELSE shared_blks_hit::float8 / (shared_blks_hit + shared_blks_read) END \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY total_exec_time DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(
            |err| match err.as_database_error().and_then(|db| db.code()) {
                // object_not_in_prerequisite_state: created but not in shared_preload_libraries.
                Some(code) if code == "55000" => Error::StatsUnavailable {
                    reason: format!(
                        "`pg_stat_statements` is created but not loaded: {}",
                        err.as_database_error()
                            .map(|db| db.message().to_owned())
                            .unwrap_or_default()
                    ),
                },
                _ => sqlx_error("postgres", err),
            },
        )?;
        Ok(rows
            .into_iter()
            .map(
                |(query, calls, total_ms, mean_ms, rows, cache_hit_ratio)| StatementStats {
                    query,
                    calls,
                    total_ms,
                    mean_ms,
                    rows,
                    cache_hit_ratio,
                },
            )
            .collect())
    }
}
