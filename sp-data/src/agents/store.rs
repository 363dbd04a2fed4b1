//! Agents and their runs in SQL, written once for both backends and stamped for SQLite and
//! PostgreSQL by [`agent_store!`]. A run's events and its summary change in one transaction,
//! guarded by the summary's event count: two writers can never both record event `n`.

use async_trait::async_trait;
use sp_core::agents::{
    Agent, AgentRun, AgentStore, NewAgent, RecordedEvent, RunEvent, RunProgress,
};
use sp_core::knowledge::Namespace;
use sp_core::workflows::Lease;
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::rows::{AgentRow, EventRow, RunRow, agent_unknown, agents_page, run_unknown, runs_page};
use crate::sql::{DbId, DbTime, Dialect, Leases, SqlDatabase};
use crate::workflows::rows::to_json;

const RUN: &str = "id, namespace, agent, version, status, input, output, error, steps, \
     prompt_tokens, completion_tokens, cached_tokens, correlation_id, events, created_at, updated_at";
const NOT_FINAL: &str = "status IN ('running', 'waiting_approval')";

/// Agents and runs in a SQL database: [`SqliteAgentStore`] on the embedded file,
/// [`PgAgentStore`] on PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::agents::{AgentStore, NewAgent};
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let store = sp_data::SqliteAgentStore::new(&db);
/// assert_eq!(store.define(&NewAgent::new("helper", "Be brief.")).await?.version, 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlAgentStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Agents and runs in the embedded SQLite database.
pub type SqliteAgentStore = SqlAgentStore<sqlx::Sqlite>;

/// Agents and runs in PostgreSQL, in the configured schema.
#[cfg(feature = "postgres")]
pub type PgAgentStore = SqlAgentStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlAgentStore<DB> {
    /// The agents of `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlAgentStore {
            pool: db.pool().clone(),
        }
    }
}

fn wide(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(Error::internal)
}

fn small(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(Error::internal)
}

/// Stamps [`AgentStore`] for one driver; the body is the same SQL for each.
macro_rules! agent_store {
    ($db:ty) => {
        impl SqlAgentStore<$db> {
            async fn run_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                namespace: Option<&Namespace>,
                id: Id,
            ) -> Result<AgentRun> {
                let row: Option<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {RUN} FROM agent_runs WHERE id = $1 AND ($2 IS NULL OR namespace = $2)"
                )))
                .bind(DbId(id))
                .bind(namespace.map(Namespace::as_str))
                .fetch_optional(conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.ok_or_else(|| run_unknown(id))?.into_run()
            }

            async fn insert_events(
                conn: &mut <$db as sqlx::Database>::Connection,
                run: Id,
                after: u64,
                events: &[RunEvent],
                at: DbTime,
            ) -> Result<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut rows = Vec::with_capacity(events.len());
                for (i, event) in events.iter().enumerate() {
                    rows.push((wide(after + i as u64 + 1)?, to_json(event)?));
                }
                let mut insert =
                    QueryBuilder::<$db>::new("INSERT INTO agent_run_events (run_id, seq, at, event) ");
                insert.push_values(rows, |mut row, (seq, event)| {
                    row.push_bind(DbId(run)).push_bind(seq).push_bind(at).push_bind(event);
                });
                insert
                    .build()
                    .execute(conn)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            /// Sets the summary of run `id` when it is not final, has `after` events and —
            /// when `owner` is given — is leased to it; true when it did.
            #[allow(clippy::too_many_arguments)]
            async fn advance(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: Id,
                namespace: Option<&Namespace>,
                owner: Option<&str>,
                after: u64,
                added: usize,
                progress: &RunProgress,
                lease: Option<&Lease>,
                at: DbTime,
            ) -> Result<bool> {
                let updated = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE agent_runs SET status = $1, output = $2, error = $3, steps = $4, \
                     prompt_tokens = $5, completion_tokens = $6, cached_tokens = $7, \
                     events = $8, updated_at = $9, owner = COALESCE($10, owner), \
                     lease_until = COALESCE($11, lease_until) \
                     WHERE id = $12 AND events = $13 AND {NOT_FINAL} \
                     AND ($14 IS NULL OR owner = $14) AND ($15 IS NULL OR namespace = $15)"
                )))
                .bind(progress.status.as_str())
                .bind(progress.output.as_deref())
                .bind(progress.error.as_ref().map(to_json).transpose()?)
                .bind(small(progress.steps)?)
                .bind(i64::from(progress.usage.prompt_tokens))
                .bind(i64::from(progress.usage.completion_tokens))
                .bind(i64::from(progress.usage.cached_tokens))
                .bind(wide(after + added as u64)?)
                .bind(at)
                .bind(lease.map(|l| l.owner.clone()))
                .bind(lease.map(|l| DbTime(l.until)))
                .bind(DbId(id))
                .bind(wide(after)?)
                .bind(owner)
                .bind(namespace.map(Namespace::as_str))
                .execute(conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(updated.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl AgentStore for SqlAgentStore<$db> {
            async fn define(&self, agent: &NewAgent) -> Result<Agent> {
                let row: AgentRow = sqlx::query_as(
                    "INSERT INTO agents AS a (namespace, name, version, definition, created_at, \
                     updated_at) VALUES ($1, $2, 1, $3, $4, $4) \
                     ON CONFLICT (namespace, name) DO UPDATE SET definition = excluded.definition, \
                     version = a.version + 1, updated_at = excluded.updated_at \
                     RETURNING version, definition, created_at, updated_at",
                )
                .bind(agent.namespace.as_str())
                .bind(&agent.name)
                .bind(to_json(agent)?)
                .bind(DbTime::now())
                .fetch_one(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.into_agent()
            }

            async fn agent(&self, namespace: &Namespace, name: &str) -> Result<Agent> {
                let row: Option<AgentRow> = sqlx::query_as(
                    "SELECT version, definition, created_at, updated_at FROM agents \
                     WHERE namespace = $1 AND name = $2",
                )
                .bind(namespace.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.ok_or_else(|| agent_unknown(name))?.into_agent()
            }

            async fn agents(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Agent>> {
                let after: String = page
                    .cursor
                    .as_ref()
                    .map(|c| c.decode::<String>())
                    .transpose()?
                    .unwrap_or_default();
                let rows: Vec<AgentRow> = sqlx::query_as(
                    "SELECT version, definition, created_at, updated_at FROM agents \
                     WHERE namespace = $1 AND name > $2 ORDER BY name LIMIT $3",
                )
                .bind(namespace.as_str())
                .bind(after)
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                agents_page(rows, page)
            }

            async fn remove_agent(&self, namespace: &Namespace, name: &str) -> Result<()> {
                let gone = sqlx::query("DELETE FROM agents WHERE namespace = $1 AND name = $2")
                    .bind(namespace.as_str())
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                if gone.rows_affected() == 0 {
                    return Err(agent_unknown(name));
                }
                Ok(())
            }

            async fn create_run(&self, run: &AgentRun, events: &[RunEvent], lease: &Lease) -> Result<()> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let at = DbTime::now();
                sqlx::query(
                    "INSERT INTO agent_runs (id, namespace, agent, version, status, input, output, \
                     error, steps, prompt_tokens, completion_tokens, cached_tokens, correlation_id, \
                     events, owner, lease_until, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                     $17, $18)",
                )
                .bind(DbId(run.id))
                .bind(run.namespace.as_str())
                .bind(&run.agent)
                .bind(small(run.version)?)
                .bind(run.status.as_str())
                .bind(&run.input)
                .bind(run.output.as_deref())
                .bind(run.error.as_ref().map(to_json).transpose()?)
                .bind(small(run.steps)?)
                .bind(i64::from(run.usage.prompt_tokens))
                .bind(i64::from(run.usage.completion_tokens))
                .bind(i64::from(run.usage.cached_tokens))
                .bind(&run.correlation_id)
                .bind(wide(events.len() as u64)?)
                .bind(&lease.owner)
                .bind(DbTime(lease.until))
                .bind(DbTime(run.created_at))
                .bind(DbTime(run.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                Self::insert_events(&mut tx, run.id, 0, events, at).await?;
                tx.commit().await.map_err(db)
            }

            async fn append(
                &self,
                run: Id,
                owner: &str,
                after: u64,
                events: &[RunEvent],
                progress: &RunProgress,
            ) -> Result<bool> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let at = DbTime::now();
                let held = Self::advance(
                    &mut tx, run, None, Some(owner), after, events.len(), progress, None, at,
                )
                .await?;
                if !held {
                    return Ok(false);
                }
                Self::insert_events(&mut tx, run, after, events, at).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn append_unleased(
                &self,
                namespace: &Namespace,
                run: Id,
                after: u64,
                event: &RunEvent,
                progress: &RunProgress,
                lease: Option<&Lease>,
            ) -> Result<AgentRun> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let at = DbTime::now();
                let written = Self::advance(
                    &mut tx, run, Some(namespace), None, after, 1, progress, lease, at,
                )
                .await?;
                if !written {
                    let known = Self::run_in(&mut tx, Some(namespace), run).await?;
                    return Err(if known.status.is_final() {
                        Error::Conflict(format!(
                            "run {run} already ended ({})",
                            known.status.as_str()
                        ))
                    } else {
                        Error::Conflict(format!(
                            "run {run} moved on (event {} recorded meanwhile)",
                            known.events
                        ))
                    });
                }
                Self::insert_events(&mut tx, run, after, std::slice::from_ref(event), at).await?;
                let stored = Self::run_in(&mut tx, Some(namespace), run).await?;
                tx.commit().await.map_err(db)?;
                Ok(stored)
            }

            async fn run(&self, namespace: &Namespace, id: Id) -> Result<AgentRun> {
                let mut conn = self.pool.acquire().await.map_err(<$db as Dialect>::error)?;
                Self::run_in(&mut conn, Some(namespace), id).await
            }

            async fn events(
                &self,
                namespace: &Namespace,
                id: Id,
                after: u64,
                limit: u32,
            ) -> Result<Vec<RecordedEvent>> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin().await.map_err(db)?;
                Self::run_in(&mut tx, Some(namespace), id).await?;
                let rows: Vec<EventRow> = sqlx::query_as(
                    "SELECT seq, at, event FROM agent_run_events WHERE run_id = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3",
                )
                .bind(DbId(id))
                .bind(wide(after)?)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                rows.into_iter().map(EventRow::into_event).collect()
            }

            async fn stored_run(&self, id: Id) -> Result<(AgentRun, Vec<RecordedEvent>)> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let run = Self::run_in(&mut tx, None, id).await?;
                let rows: Vec<EventRow> = sqlx::query_as(
                    "SELECT seq, at, event FROM agent_run_events WHERE run_id = $1 ORDER BY seq",
                )
                .bind(DbId(id))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                let events = rows
                    .into_iter()
                    .map(EventRow::into_event)
                    .collect::<Result<Vec<_>>>()?;
                Ok((run, events))
            }

            async fn runs(
                &self,
                namespace: &Namespace,
                agent: Option<&str>,
                page: &PageRequest,
            ) -> Result<Page<AgentRun>> {
                let before: Option<Id> =
                    page.cursor.as_ref().map(|c| c.decode::<Id>()).transpose()?;
                let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {RUN} FROM agent_runs WHERE namespace = $1 \
                     AND ($2 IS NULL OR agent = $2) AND id < $3 ORDER BY id DESC LIMIT $4"
                )))
                .bind(namespace.as_str())
                .bind(agent)
                .bind(DbId::before(before))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                runs_page(rows, page)
            }

            async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
                <$db as Leases>::renew_leases(&self.pool, "agent_runs", owner, runs, until).await
            }

            async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
                <$db as Leases>::claim_lapsed(&self.pool, "agent_runs", lease, now, limit).await
            }
        }
    };
}

agent_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
agent_store!(sqlx::Postgres);
