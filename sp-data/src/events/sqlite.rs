//! The event log in the embedded SQLite database.

use async_trait::async_trait;
use sp_core::events::{Event, EventQuery, EventStore, NewEvent};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqlitePool};

use super::rows::{Bind, EventRow, page_of, select_tail};
use crate::error::sqlx_error;

const COLUMNS: &str = "seq, id, namespace, stream, \"offset\" AS \"offset\", type AS event_type, \
     source, subject, time, correlation_id, schema_version, data";

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

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut ids = Vec::with_capacity(events.len());
        for event in &events {
            // The head moves first: the transaction takes the write lock at once.
            let offset: i64 = sqlx::query_scalar(
                "INSERT INTO event_streams (namespace, stream, head) VALUES (?, ?, 1) \
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id.to_string())
            .bind(event.namespace.as_str())
            .bind(&event.stream)
            .bind(offset)
            .bind(&event.event_type)
            .bind(&event.source)
            .bind(event.subject.as_deref())
            .bind(Timestamp::now().unix_micros())
            .bind(event.correlationid.as_deref())
            .bind(i64::from(event.schemaversion))
            .bind(event.data.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            ids.push(id.to_string());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY seq"
        );
        let rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
            .bind(serde_json::to_string(&ids).map_err(Error::internal)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>> {
        let (tail, binds) = select_tail(query, page, |_| "?".to_owned())?;
        let sql = format!("SELECT {COLUMNS} FROM events {tail}");
        let mut select = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql));
        for bind in binds {
            select = match bind {
                Bind::Text(text) => select.bind(text),
                Bind::Int(n) => select.bind(n),
                Bind::Time(at) => select.bind(at.unix_micros()),
            };
        }
        let rows = select.fetch_all(&self.pool).await.map_err(db)?;
        page_of(rows, query, page)
    }

    async fn head(&self, namespace: &Namespace, stream: &str) -> Result<Option<u64>> {
        let head: Option<i64> =
            sqlx::query_scalar("SELECT head FROM event_streams WHERE namespace = ? AND stream = ?")
                .bind(namespace.as_str())
                .bind(stream)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        head.map(|h| u64::try_from(h).map_err(Error::internal))
            .transpose()
    }
}
