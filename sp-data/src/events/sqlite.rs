//! The event log in the embedded SQLite database.

use sp_core::events::{Event, NewEvent};
use sp_core::{Error, Id, Result};
use sqlx::{AssertSqlSafe, SqlitePool};

use super::rows::{COLUMNS, EventRow};
use crate::error::sqlx_error;
use crate::sql::{DbId, DbTime};

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

/// The event log in the embedded database.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let events = sp_data::SqliteEventStore::new(&db);
/// # let _ = events;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The log in `db`.
    pub fn new(db: &crate::SqliteStore) -> Self {
        SqliteEventStore {
            pool: db.pool().clone(),
        }
    }
}

impl SqliteEventStore {
    /// Appends in one transaction: each event moves its stream's head, then is stored.
    pub(super) async fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let mut ids = Vec::with_capacity(events.len());
        for event in &events {
            let offset: i64 = sqlx::query_scalar(
                "INSERT INTO event_streams (namespace, stream, head) VALUES ($1, $2, 1) \
                 ON CONFLICT (namespace, stream) DO UPDATE SET head = head + 1 RETURNING head",
            )
            .bind(event.namespace.as_str())
            .bind(&event.stream)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let id = Id::new();
            sqlx::query(
                "INSERT INTO events (id, namespace, stream, \"offset\", type, source, subject, \
                 time, correlation_id, schema_version, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(DbId(id))
            .bind(event.namespace.as_str())
            .bind(&event.stream)
            .bind(offset)
            .bind(&event.event_type)
            .bind(&event.source)
            .bind(event.subject.as_deref())
            .bind(DbTime::now())
            .bind(event.correlationid.as_deref())
            .bind(i32::try_from(event.schemaversion).map_err(Error::internal)?)
            .bind(&event.data)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            ids.push(id.to_string());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each($1)) ORDER BY seq"
        );
        let rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
            .bind(serde_json::to_string(&ids).map_err(Error::internal)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}

impl SqliteEventStore {
    /// Retention: the events appended before `before` and their dead letters (first: they
    /// refer to the events), in one transaction.
    pub(super) async fn prune_events(&self, before: sp_core::Timestamp) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query(
            "DELETE FROM event_dead_letters WHERE event_id IN \
             (SELECT id FROM events WHERE time < $1)",
        )
        .bind(DbTime(before))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let done = sqlx::query("DELETE FROM events WHERE time < $1")
            .bind(DbTime(before))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(done.rows_affected())
    }
}
