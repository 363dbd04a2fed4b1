//! Leases on runs, written once for every leased table (workflow runs, agent runs): a process
//! renews the leases of the runs it drives, and takes over runs whose lease lapsed. The
//! table needs `id`, `status`, `owner` and `lease_until`; only `status = 'running'` runs are
//! renewed and claimed.

use sp_core::workflows::Lease;
use sp_core::{Id, Result, Timestamp};
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::{DbId, DbTime, Dialect};

/// Renewing and claiming leases on one driver.
pub(crate) trait Leases: Dialect {
    /// Extends `owner`'s lease to `until` on those of `runs` it still holds and that are
    /// running. `table` is one of the store's own table names, never input.
    async fn renew_leases(
        pool: &sqlx::Pool<Self>,
        table: &'static str,
        owner: &str,
        runs: &[Id],
        until: Timestamp,
    ) -> Result<()>;

    /// Takes over up to `limit` running runs whose lease lapsed before `now`, leasing them
    /// to `lease.owner`; returns their ids. PostgreSQL skips rows another process is
    /// claiming, so recovering processes take different runs; SQLite's single writer needs
    /// no lock.
    async fn claim_lapsed(
        pool: &sqlx::Pool<Self>,
        table: &'static str,
        lease: &Lease,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Id>>;
}

/// Stamps [`Leases`] for one driver; the body is the same SQL for each.
macro_rules! leases {
    ($db:ty) => {
        impl Leases for $db {
            async fn renew_leases(
                pool: &sqlx::Pool<Self>,
                table: &'static str,
                owner: &str,
                runs: &[Id],
                until: Timestamp,
            ) -> Result<()> {
                if runs.is_empty() {
                    return Ok(());
                }
                let mut renew =
                    QueryBuilder::<$db>::new(format!("UPDATE {table} SET lease_until = "));
                renew.push_bind(DbTime(until));
                renew.push(" WHERE owner = ");
                renew.push_bind(owner.to_owned());
                renew.push(" AND status = 'running' AND id IN (");
                let mut ids = renew.separated(", ");
                for id in runs {
                    ids.push_bind(DbId(*id));
                }
                renew.push(")");
                renew
                    .build()
                    .execute(pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn claim_lapsed(
                pool: &sqlx::Pool<Self>,
                table: &'static str,
                lease: &Lease,
                now: Timestamp,
                limit: u32,
            ) -> Result<Vec<Id>> {
                let ids: Vec<(DbId,)> = sqlx::query_as(AssertSqlSafe(format!(
                    "UPDATE {table} SET owner = $1, lease_until = $2 WHERE id IN \
                     (SELECT id FROM {table} WHERE status = 'running' AND lease_until < $3 \
                      ORDER BY lease_until LIMIT $4{}) RETURNING id",
                    <$db as Dialect>::SKIP_LOCKED
                )))
                .bind(&lease.owner)
                .bind(DbTime(lease.until))
                .bind(DbTime(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(ids.into_iter().map(|(id,)| id.0).collect())
            }
        }
    };
}

leases!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
leases!(sqlx::Postgres);
