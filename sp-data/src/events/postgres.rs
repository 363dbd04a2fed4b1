//! The event log in PostgreSQL.

use async_trait::async_trait;
use sp_core::events::{Event, EventQuery, EventStore, NewEvent};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::{AssertSqlSafe, PgPool};

use super::rows::{Bind, EventRow, page_of, select_tail};
use crate::error::sqlx_error;

const COLUMNS: &str = "seq, id::text AS id, namespace, stream, \"offset\" AS \"offset\", \
     type AS event_type, source, subject, (extract(epoch FROM time) * 1000000)::int8 AS time, \
     correlation_id, schema_version::int8 AS schema_version, data::text AS data";

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

/// The event log in PostgreSQL, in the configured schema.
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = sp_core::config::DatabaseConfig {
///     url: Some("postgres://localhost/sp".into()),
///     ..Default::default()
/// };
/// let pg = sp_data::PgStore::connect_lazy(&config)?;
/// let events = sp_data::PgEventStore::open(&pg).await?;
/// # let _ = events;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PgEventStore {
    pool: PgPool,
}

impl PgEventStore {
    /// Runs the migrations and opens the log.
    pub async fn open(pg: &crate::PgStore) -> Result<Self> {
        pg.migrate().await?;
        Ok(PgEventStore {
            pool: pg.pool().clone(),
        })
    }
}

#[async_trait]
impl EventStore for PgEventStore {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut ids = Vec::with_capacity(events.len());
        for event in &events {
            // The head's row lock orders appenders of one stream until commit.
            let offset: i64 = sqlx::query_scalar(
                "INSERT INTO event_streams (namespace, stream, head) VALUES ($1, $2, 1) \
                 ON CONFLICT (namespace, stream) DO UPDATE SET head = event_streams.head + 1 \
                 RETURNING head",
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp(), $8, $9, $10::jsonb)",
            )
            .bind(id.as_uuid())
            .bind(event.namespace.as_str())
            .bind(&event.stream)
            .bind(offset)
            .bind(&event.event_type)
            .bind(&event.source)
            .bind(event.subject.as_deref())
            .bind(event.correlationid.as_deref())
            .bind(i32::try_from(event.schemaversion).map_err(Error::internal)?)
            .bind(event.data.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            ids.push(id.as_uuid());
        }
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = ANY($1) ORDER BY seq");
        let rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let everything = PageRequest {
            limit: u32::MAX - 1,
            cursor: None,
        };
        Ok(page_of(rows, &EventQuery::default(), &everything)?.items)
    }

    async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>> {
        let (tail, binds) = select_tail(query, page, |n| format!("${n}"))?;
        let sql = format!("SELECT {COLUMNS} FROM events {tail}");
        let mut select = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql));
        for bind in binds {
            select = match bind {
                Bind::Text(text) => select.bind(text),
                Bind::Int(n) => select.bind(n),
                Bind::Time(at) => select.bind(at.as_datetime()),
            };
        }
        let rows = select.fetch_all(&self.pool).await.map_err(db)?;
        page_of(rows, query, page)
    }

    async fn head(&self, namespace: &Namespace, stream: &str) -> Result<Option<u64>> {
        let head: Option<i64> = sqlx::query_scalar(
            "SELECT head FROM event_streams WHERE namespace = $1 AND stream = $2",
        )
        .bind(namespace.as_str())
        .bind(stream)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        head.map(|h| u64::try_from(h).map_err(Error::internal))
            .transpose()
    }
}
