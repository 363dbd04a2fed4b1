//! Usage sums in SQL, written once for both backends and stamped for each by
//! [`usage_store!`]: one upsert per row, a batch in one transaction.

use async_trait::async_trait;
use chrono::NaiveDate;
use sp_core::usage::{
    MAX_USAGE_ROWS, UsageCounts, UsageGroup, UsageKey, UsageQuery, UsageRow, UsageStore,
    too_many_rows,
};
use sp_core::{Error, Result, TenantId};

use sqlx::AssertSqlSafe;

use crate::sql::{Dialect, SqlDatabase};

/// Adds a batch row's counts to the stored sums (created at zero).
const UPSERT: &str = "INSERT INTO usage_daily (tenant, key_id, model, day, requests, \
     prompt_tokens, completion_tokens, embedding_tokens, cached_tokens, errors) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (tenant, key_id, model, day) DO UPDATE SET \
     requests = usage_daily.requests + excluded.requests, \
     prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
     completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens, \
     embedding_tokens = usage_daily.embedding_tokens + excluded.embedding_tokens, \
     cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens, \
     errors = usage_daily.errors + excluded.errors";

#[derive(sqlx::FromRow)]
struct SumRow {
    tenant: Option<String>,
    key_id: Option<String>,
    model: Option<String>,
    day: Option<String>,
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    embedding_tokens: i64,
    cached_tokens: i64,
    errors: i64,
}

impl TryFrom<SumRow> for UsageRow {
    type Error = Error;
    fn try_from(row: SumRow) -> Result<UsageRow> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let day = row
            .day
            .map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|e| Error::internal(format!("usage day `{d}`: {e}")))
            })
            .transpose()?;
        Ok(UsageRow {
            tenant: row.tenant.map(TenantId::new).transpose()?,
            key_id: row.key_id,
            model: row.model,
            day,
            counts: UsageCounts {
                requests: count(row.requests),
                prompt_tokens: count(row.prompt_tokens),
                completion_tokens: count(row.completion_tokens),
                embedding_tokens: count(row.embedding_tokens),
                cached_tokens: count(row.cached_tokens),
                errors: count(row.errors),
            },
        })
    }
}

/// The `SELECT … GROUP BY` of `groups` (column names come from the enum, never from input).
fn sum_query(groups: &[UsageGroup]) -> String {
    let column = |group: UsageGroup, name: &str| {
        if groups.contains(&group) {
            name.to_owned()
        } else {
            format!("NULL AS {name}")
        }
    };
    let grouped: Vec<&str> = groups
        .iter()
        .map(|g| match g {
            UsageGroup::Tenant => "tenant",
            UsageGroup::Key => "key_id",
            UsageGroup::Model => "model",
            UsageGroup::Day => "day",
        })
        .collect();
    let sum = |name: &str| format!("CAST(SUM({name}) AS BIGINT) AS {name}");
    format!(
        "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM usage_daily \
         WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR key_id = $2) \
         AND ($3 IS NULL OR model = $3) AND ($4 IS NULL OR day >= $4) \
         AND ($5 IS NULL OR day <= $5) GROUP BY {} LIMIT {}",
        column(UsageGroup::Tenant, "tenant"),
        column(UsageGroup::Key, "key_id"),
        column(UsageGroup::Model, "model"),
        column(UsageGroup::Day, "day"),
        sum("requests"),
        sum("prompt_tokens"),
        sum("completion_tokens"),
        sum("embedding_tokens"),
        sum("cached_tokens"),
        sum("errors"),
        grouped.join(", "),
        MAX_USAGE_ROWS + 1,
    )
}

/// A counter as the database's `BIGINT` (saturating).
fn db_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Usage sums in a SQL database: [`SqliteUsageStore`] on the embedded file,
/// [`PgUsageStore`] on PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::usage::{UsageCounts, UsageKey, UsageQuery, UsageStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let usage = sp_data::SqliteUsageStore::new(&db);
/// let key = UsageKey::today(sp_core::TenantId::default(), "k1", "smollm2");
/// usage.add(&[(key, UsageCounts::call(12, 3, 0))]).await?;
/// assert_eq!(usage.rows(&UsageQuery::default()).await?[0].counts.tokens(), 15);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlUsageStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Usage sums in the embedded SQLite database.
pub type SqliteUsageStore = SqlUsageStore<sqlx::Sqlite>;

/// Usage sums in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgUsageStore = SqlUsageStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlUsageStore<DB> {
    /// The sums in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlUsageStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`UsageStore`] for one driver.
macro_rules! usage_store {
    ($db:ty) => {
        #[async_trait]
        impl UsageStore for SqlUsageStore<$db> {
            async fn add(&self, batch: &[(UsageKey, UsageCounts)]) -> Result<()> {
                // One order for every writer: two batches that share rows take their row
                // locks in the same sequence, so concurrent flushes (two processes on one
                // PostgreSQL) wait for each other instead of deadlocking.
                let mut ordered: Vec<&(UsageKey, UsageCounts)> = batch.iter().collect();
                ordered.sort_by(|(a, _), (b, _)| {
                    (a.tenant.as_str(), &a.key_id, &a.model, a.day).cmp(&(
                        b.tenant.as_str(),
                        &b.key_id,
                        &b.model,
                        b.day,
                    ))
                });
                let mut tx = self.pool.begin().await.map_err(<$db as Dialect>::error)?;
                for (key, counts) in ordered {
                    sqlx::query(UPSERT)
                        .bind(key.tenant.as_str())
                        .bind(&key.key_id)
                        .bind(&key.model)
                        .bind(key.day.to_string())
                        .bind(db_count(counts.requests))
                        .bind(db_count(counts.prompt_tokens))
                        .bind(db_count(counts.completion_tokens))
                        .bind(db_count(counts.embedding_tokens))
                        .bind(db_count(counts.cached_tokens))
                        .bind(db_count(counts.errors))
                        .execute(&mut *tx)
                        .await
                        .map_err(<$db as Dialect>::error)?;
                }
                tx.commit().await.map_err(<$db as Dialect>::error)
            }

            async fn rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
                // Safe: `sum_query` writes only fixed column names; every value is bound.
                let sql = AssertSqlSafe(sum_query(query.groups()));
                let rows = sqlx::query_as::<_, SumRow>(sql)
                    .bind(query.tenant.as_ref().map(|t| t.as_str()))
                    .bind(query.key_id.as_deref())
                    .bind(query.model.as_deref())
                    .bind(query.from.map(|d| d.to_string()))
                    .bind(query.to.map(|d| d.to_string()))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                if rows.len() > MAX_USAGE_ROWS {
                    return Err(too_many_rows());
                }
                let mut rows = rows
                    .into_iter()
                    .map(UsageRow::try_from)
                    .collect::<Result<Vec<_>>>()?;
                UsageRow::sort(&mut rows);
                Ok(rows)
            }

            async fn prune(&self, before: chrono::NaiveDate) -> Result<u64> {
                self.prune_days(before).await
            }
        }
    };
}

usage_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
usage_store!(sqlx::Postgres);

impl SqlUsageStore<sqlx::Sqlite> {
    /// Retention: deletes the sums of days before `before` (`YYYY-MM-DD` sorts as dates).
    async fn prune_days(&self, before: chrono::NaiveDate) -> Result<u64> {
        let done = sqlx::query("DELETE FROM usage_daily WHERE day < $1")
            .bind(before.to_string())
            .execute(&self.pool)
            .await
            .map_err(<sqlx::Sqlite as Dialect>::error)?;
        Ok(done.rows_affected())
    }
}

#[cfg(feature = "postgres")]
impl SqlUsageStore<sqlx::Postgres> {
    /// Retention: drops the month partitions wholly before `before`.
    async fn prune_days(&self, before: chrono::NaiveDate) -> Result<u64> {
        let dropped =
            crate::partitions::drop_before(&self.pool, &crate::partitions::USAGE, before, None)
                .await?;
        Ok(dropped.dropped_rows)
    }
}
