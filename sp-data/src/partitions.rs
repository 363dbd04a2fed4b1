//! Time partitions of PostgreSQL's growing tables (migration 0019): the event log and the
//! audit log by UTC day, the usage sums by month. Upkeep makes the partitions of the coming
//! periods ahead and moves any row the DEFAULT partition caught (rows from before the
//! migration, or from days no upkeep made ahead) into its own; retention drops whole
//! partitions (`DROP TABLE`, no row deleted one by one).
//!
//! Every round holds a transaction-scoped advisory lock per table and schema, so replicas
//! sharing the database take turns, and a short `lock_timeout`, so a round that would queue
//! behind a long reader gives up (and runs next hour) instead of stalling the appends queued
//! behind it.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, Months, NaiveDate};
use sp_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::error::sqlx_error;

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

/// How long one partition covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Month,
}

/// A partitioned table: its name, partition key and period.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Partitioned {
    table: &'static str,
    /// The partition key: a `TIMESTAMPTZ`, or (`text_days`) `TEXT` holding `YYYY-MM-DD`.
    column: &'static str,
    text_days: bool,
    period: Period,
}

/// The event log, by the append time.
pub(crate) const EVENTS: Partitioned = Partitioned {
    table: "events",
    column: "time",
    text_days: false,
    period: Period::Day,
};

/// The audit log, by the answer time.
pub(crate) const AUDIT: Partitioned = Partitioned {
    table: "audit_log",
    column: "at",
    text_days: false,
    period: Period::Day,
};

/// The usage sums, by their day (a row per tenant, key and model a day: months are plenty).
pub(crate) const USAGE: Partitioned = Partitioned {
    table: "usage_daily",
    column: "day",
    text_days: true,
    period: Period::Month,
};

/// Every partitioned table.
pub(crate) const ALL: [Partitioned; 3] = [EVENTS, AUDIT, USAGE];

/// Periods made ahead of the current one, so rows land in their partition and not the
/// default even when upkeep misses a few rounds.
const AHEAD: u64 = 3;

/// What a round did to one table.
///
/// ```
/// let upkeep = sp_data::PartitionUpkeep::default();
/// assert!(upkeep.created.is_empty() && upkeep.dropped.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionUpkeep {
    /// The table.
    pub table: String,
    /// Partitions made, by name (`events_p20261208`, `usage_daily_p202612`).
    pub created: Vec<String>,
    /// Rows moved out of the default partition into their own.
    pub moved_rows: u64,
    /// Partitions dropped by retention.
    pub dropped: Vec<String>,
    /// Rows the dropped partitions held (PostgreSQL's estimate for large partitions, whose
    /// exact count would read them whole).
    pub dropped_rows: u64,
}

impl Partitioned {
    /// The first day of the period holding `day`.
    fn start(&self, day: NaiveDate) -> NaiveDate {
        match self.period {
            Period::Day => day,
            Period::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the period after the one starting at `start`.
    fn after(&self, start: NaiveDate) -> NaiveDate {
        match self.period {
            Period::Day => start.checked_add_days(Days::new(1)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
        .unwrap_or(NaiveDate::MAX)
    }

    fn name(&self, start: NaiveDate) -> String {
        match self.period {
            Period::Day => format!("{}_p{}", self.table, start.format("%Y%m%d")),
            Period::Month => format!("{}_p{}", self.table, start.format("%Y%m")),
        }
    }

    /// The period start a partition's name encodes; `None` for the default partition and
    /// for tables sp did not make.
    fn parse(&self, name: &str) -> Option<NaiveDate> {
        let digits = name.strip_prefix(self.table)?.strip_prefix("_p")?;
        match self.period {
            Period::Day if digits.len() == 8 => NaiveDate::parse_from_str(digits, "%Y%m%d").ok(),
            Period::Month if digits.len() == 6 => {
                NaiveDate::parse_from_str(&format!("{digits}01"), "%Y%m%d").ok()
            }
            _ => None,
        }
    }

    /// `day`'s midnight (UTC) or day string as a SQL literal. Safe to format into a
    /// statement: it is written from a date, never from input.
    fn bound(&self, day: NaiveDate) -> String {
        if self.text_days {
            format!("'{day}'")
        } else {
            format!("'{day} 00:00:00+00'::timestamptz")
        }
    }

    /// A SQL expression of a row's UTC day as `YYYY-MM-DD`.
    fn day_of_row(&self) -> String {
        if self.text_days {
            self.column.to_owned()
        } else {
            format!("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD')", self.column)
        }
    }

    fn default_partition(&self) -> String {
        format!("{}_default", self.table)
    }

    /// The rows of the period starting at `start`, as a `WHERE` condition.
    fn covers(&self, start: NaiveDate) -> String {
        format!(
            "{col} >= {lo} AND {col} < {hi}",
            col = self.column,
            lo = self.bound(start),
            hi = self.bound(self.after(start))
        )
    }
}

async fn execute(conn: &mut PgConnection, sql: String) -> Result<u64> {
    // Safe: every statement here is made of fixed table names and date literals.
    let done = sqlx::query(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(done.rows_affected())
}

/// Takes this table's upkeep lock (until the transaction ends) and bounds lock waits.
async fn begin(
    pool: &PgPool,
    table: &Partitioned,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('sp.partitions.' || current_schema() || '.' || $1))",
    )
    .bind(table.table)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(tx)
}

/// The table's partitions sp made, by period start.
async fn existing(
    conn: &mut PgConnection,
    table: &Partitioned,
) -> Result<Vec<(NaiveDate, String)>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = $1::regclass",
    )
    .bind(table.table)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut starts: Vec<(NaiveDate, String)> = names
        .into_iter()
        .filter_map(|name| table.parse(&name).map(|start| (start, name)))
        .collect();
    starts.sort();
    Ok(starts)
}

/// Makes the partition of the period starting at `start`; rows of it the default partition
/// holds move in. Returns how many moved.
async fn create(conn: &mut PgConnection, table: &Partitioned, start: NaiveDate) -> Result<u64> {
    let name = table.name(start);
    let default = table.default_partition();
    let covers = table.covers(start);
    let bounds = format!(
        "FROM ({}) TO ({})",
        table.bound(start),
        table.bound(table.after(start))
    );
    let caught: bool = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM {default} WHERE {covers})"
    )))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    if !caught {
        execute(
            conn,
            format!(
                "CREATE TABLE {name} PARTITION OF {} FOR VALUES {bounds}",
                table.table
            ),
        )
        .await?;
        return Ok(0);
    }
    // The default partition holds rows of this period, so the partition cannot be created
    // over them: they move into a table of their own, which is then attached. The default
    // stays locked meanwhile, so no row of the period lands there in between.
    execute(
        conn,
        format!("LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"),
    )
    .await?;
    execute(
        conn,
        format!(
            "CREATE TABLE {name} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
            table.table
        ),
    )
    .await?;
    let moved = execute(
        conn,
        format!(
            "WITH moved AS (DELETE FROM {default} WHERE {covers} RETURNING *) \
             INSERT INTO {name} SELECT * FROM moved"
        ),
    )
    .await?;
    execute(
        conn,
        format!(
            "ALTER TABLE {} ATTACH PARTITION {name} FOR VALUES {bounds}",
            table.table
        ),
    )
    .await?;
    Ok(moved)
}

/// Makes the partitions missing in `conn`'s transaction: the current period's and the next
/// [`AHEAD`] after `today`, and those of the rows the default partition caught.
async fn make_missing(
    conn: &mut PgConnection,
    table: &Partitioned,
    today: NaiveDate,
    upkeep: &mut PartitionUpkeep,
) -> Result<()> {
    let have: BTreeSet<NaiveDate> = existing(conn, table)
        .await?
        .into_iter()
        .map(|(start, _)| start)
        .collect();
    let mut wanted = BTreeSet::new();
    let mut start = table.start(today);
    for _ in 0..=AHEAD {
        wanted.insert(start);
        start = table.after(start);
    }
    let caught: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT DISTINCT {} FROM {}",
        table.day_of_row(),
        table.default_partition()
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for day in caught {
        let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(Error::internal)?;
        wanted.insert(table.start(day));
    }
    for start in wanted.difference(&have) {
        upkeep.moved_rows += create(conn, table, *start).await?;
        upkeep.created.push(table.name(*start));
    }
    Ok(())
}

/// One upkeep round of `table` as of `today`: partitions made ahead, caught rows moved.
pub(crate) async fn upkeep(
    pool: &PgPool,
    table: &Partitioned,
    today: NaiveDate,
) -> Result<PartitionUpkeep> {
    let mut upkeep = PartitionUpkeep {
        table: table.table.to_owned(),
        ..PartitionUpkeep::default()
    };
    let mut tx = begin(pool, table).await?;
    make_missing(&mut tx, table, today, &mut upkeep).await?;
    tx.commit().await.map_err(db)?;
    Ok(upkeep)
}

/// Retention of `table`: after an upkeep round (so caught rows are in their partitions),
/// drops every partition whose whole period is before `before` (a day); `extra` runs in the
/// same transaction after the drops (the events' dead letters go with them).
pub(crate) async fn drop_before(
    pool: &PgPool,
    table: &Partitioned,
    before: NaiveDate,
    extra: Option<&str>,
) -> Result<PartitionUpkeep> {
    let mut upkeep = PartitionUpkeep {
        table: table.table.to_owned(),
        ..PartitionUpkeep::default()
    };
    let mut tx = begin(pool, table).await?;
    let today = chrono::Utc::now().date_naive();
    make_missing(&mut tx, table, today, &mut upkeep).await?;
    for (start, name) in existing(&mut tx, table).await? {
        if table.after(start) > before {
            continue;
        }
        upkeep.dropped_rows += rows_of(&mut tx, &name).await?;
        execute(&mut tx, format!("DROP TABLE {name}")).await?;
        upkeep.dropped.push(name);
    }
    if let (Some(extra), false) = (extra, upkeep.dropped.is_empty()) {
        execute(&mut tx, extra.to_owned()).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(upkeep)
}

/// The rows a partition holds: counted when PostgreSQL's statistics say it is small (or has
/// none yet), else their estimate.
async fn rows_of(conn: &mut PgConnection, name: &str) -> Result<u64> {
    let estimate: f32 =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = $1::regclass")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
    if estimate >= 100_000.0 {
        // Saturating: a float estimate of a count.
        return Ok(estimate as u64);
    }
    let counted: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {name}")))
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    u64::try_from(counted).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn names_round_trip_and_other_tables_are_not_ours() {
        let start = day("2026-12-08");
        assert_eq!(EVENTS.name(start), "events_p20261208");
        assert_eq!(EVENTS.parse("events_p20261208"), Some(start));
        assert_eq!(USAGE.name(start), "usage_daily_p202612");
        assert_eq!(USAGE.parse("usage_daily_p202612"), Some(day("2026-12-01")));
        for name in [
            "events_default",
            "events_p2026120",
            "audit_log_p20261208",
            "events_pxx",
        ] {
            assert_eq!(EVENTS.parse(name), None, "{name}");
        }
    }

    #[test]
    fn periods_cover_days_and_months_without_gaps() {
        assert_eq!(EVENTS.after(day("2026-12-31")), day("2027-01-01"));
        assert_eq!(USAGE.start(day("2026-02-17")), day("2026-02-01"));
        assert_eq!(USAGE.after(day("2026-12-01")), day("2027-01-01"));
        assert_eq!(
            USAGE.covers(day("2026-12-01")),
            "day >= '2026-12-01' AND day < '2027-01-01'"
        );
        assert_eq!(
            AUDIT.covers(day("2026-12-08")),
            "at >= '2026-12-08 00:00:00+00'::timestamptz AND at < '2026-12-09 00:00:00+00'::timestamptz"
        );
    }
}
