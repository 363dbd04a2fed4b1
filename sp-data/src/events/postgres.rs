//! The event log in PostgreSQL.

use sp_core::events::{Event, NewEvent};
use sp_core::{Error, Id, Result};
use sqlx::{AssertSqlSafe, PgPool};

use super::rows::{COLUMNS, EventRow};
use crate::error::sqlx_error;

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
/// pg.migrate().await?;
/// let events = sp_data::PgEventStore::new(&pg);
/// # let _ = events;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PgEventStore {
    pool: PgPool,
    /// The `NOTIFY` channel of this schema's log.
    channel: String,
    /// This store's mark on its notifications, so its own follower skips them (the log has
    /// already handed its own appends to local subscribers).
    origin: String,
}

/// The `NOTIFY` channel of a schema's log: `sp_events.<schema>`, or, where that passes
/// PostgreSQL's 63-byte identifier limit (a schema name may take all 63), the schema's
/// SHA-256 prefix in its place — the same in every process, whatever its build.
fn channel_of(schema: &str) -> String {
    let plain = format!("sp_events.{schema}");
    if plain.len() <= 63 {
        return plain;
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(schema.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sp_events.{hex}")
}

/// What a `NOTIFY` carries: ids only (payloads are limited to 8000 bytes; events are not).
#[derive(serde::Serialize, serde::Deserialize)]
struct Appended {
    origin: String,
    ids: Vec<sqlx::types::Uuid>,
}

/// Ids per notification: 100 UUIDs fit well under the 8000-byte payload limit.
const IDS_PER_NOTIFY: usize = 100;

impl PgEventStore {
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The log in `pg` (migrated when it was opened).
    pub fn new(pg: &crate::PgStore) -> Self {
        PgEventStore {
            pool: pg.pool().clone(),
            channel: channel_of(pg.schema()),
            origin: Id::new().to_string(),
        }
    }

    /// Hands events other processes append to this schema's log to `log`'s live
    /// subscribers, as PostgreSQL notifies them (on commit), until the returned task is
    /// aborted. Live delivery is best effort: events appended while the listening connection
    /// is being re-established are not pushed; subscribers catch up by replaying the log.
    pub async fn follow(
        &self,
        log: std::sync::Arc<sp_core::events::EventLog>,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(db)?;
        listener.listen(&self.channel).await.map_err(db)?;
        let store = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let note = match listener.recv().await {
                    Ok(note) => note,
                    Err(err) => {
                        tracing::warn!(%err, "event notifications interrupted; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let Ok(appended) = serde_json::from_str::<Appended>(note.payload()) else {
                    continue;
                };
                if appended.origin == store.origin {
                    continue;
                }
                match store.by_ids(&appended.ids).await {
                    Ok(events) => log.publish(&events),
                    Err(err) => tracing::warn!(%err, "cannot read notified events"),
                }
            }
        }))
    }

    async fn by_ids(&self, ids: &[sqlx::types::Uuid]) -> Result<Vec<Event>> {
        select_by_ids(&self.pool, ids).await
    }
}

async fn select_by_ids<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    ids: &[sqlx::types::Uuid],
) -> Result<Vec<Event>> {
    // Notified events were appended moments ago: the time bound lets PostgreSQL look only in
    // the newest day partitions instead of probing every day's id index.
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE id = ANY($1) \
         AND time > now() - interval '1 hour' ORDER BY seq"
    );
    let rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(executor)
        .await
        .map_err(db)?;
    rows.into_iter().map(EventRow::into_event).collect()
}

impl PgEventStore {
    /// Appends and tells listening processes, on commit.
    pub(super) async fn append_events(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        // One statement per event moves the head, stores the event and returns it; a single
        // event also notifies listeners in it (and needs no explicit transaction), a batch
        // notifies once per IDS_PER_NOTIFY events before its commit.
        let single = events.len() == 1;
        let notify = if single {
            "pg_notify($10, json_build_object('origin', $11::text, \
             'ids', json_build_array(id))::text)::text"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "WITH head AS (INSERT INTO event_streams (namespace, stream, head) \
             VALUES ($2, $3, 1) ON CONFLICT (namespace, stream) \
             DO UPDATE SET head = event_streams.head + 1 RETURNING head), \
             stored AS (INSERT INTO events (id, namespace, stream, \"offset\", type, source, \
             subject, time, correlation_id, schema_version, data) \
             SELECT $1, $2, $3, head.head, $4, $5, $6, clock_timestamp(), $7, $8, $9::jsonb \
             FROM head RETURNING *) \
             SELECT {COLUMNS}, {notify} AS notified FROM stored"
        );
        let mut stored = Vec::with_capacity(events.len());
        let mut tx = if single {
            None
        } else {
            Some(self.pool.begin().await.map_err(db)?)
        };
        for event in &events {
            let query = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql.clone()))
                .bind(Id::new().as_uuid())
                .bind(event.namespace.as_str())
                .bind(&event.stream)
                .bind(&event.event_type)
                .bind(&event.source)
                .bind(event.subject.as_deref())
                .bind(event.correlationid.as_deref())
                .bind(i32::try_from(event.schemaversion).map_err(Error::internal)?)
                .bind(&event.data);
            let query = if single {
                query.bind(&self.channel).bind(&self.origin)
            } else {
                query
            };
            let row = match tx.as_mut() {
                Some(tx) => query.fetch_one(&mut **tx).await,
                None => query.fetch_one(&self.pool).await,
            }
            .map_err(db)?;
            stored.push(row.into_event()?);
        }
        if let Some(mut tx) = tx {
            // Delivered to listeners on commit, and only then.
            for chunk in stored.chunks(IDS_PER_NOTIFY) {
                let note = Appended {
                    origin: self.origin.clone(),
                    ids: chunk.iter().map(|e| e.id.as_uuid()).collect(),
                };
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(&self.channel)
                    .bind(serde_json::to_string(&note).map_err(Error::internal)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
        }
        Ok(stored)
    }
}

impl PgEventStore {
    /// Retention: drops the day partitions wholly before `before`, and the dead letters
    /// whose events went with them.
    pub(super) async fn prune_events(&self, before: sp_core::Timestamp) -> Result<u64> {
        let dropped = crate::partitions::drop_before(
            &self.pool,
            &crate::partitions::EVENTS,
            before.as_datetime().date_naive(),
            Some(
                "DELETE FROM event_dead_letters d \
                 WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)",
            ),
        )
        .await?;
        Ok(dropped.dropped_rows)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn channels_fit_postgres_identifiers() {
        assert_eq!(super::channel_of("sp"), "sp_events.sp");
        let longest = "s".repeat(63);
        let channel = super::channel_of(&longest);
        assert!(channel.len() <= 63, "{channel}");
        assert_ne!(channel, super::channel_of(&"t".repeat(63)));
    }
}
