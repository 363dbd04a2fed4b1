//! Workflows and their runs in SQL, written once for both backends (`$N` placeholders, the
//! column types of [`crate::sql`], sqlx's builder for lists) and stamped for SQLite and
//! PostgreSQL by [`workflow_store!`].

use async_trait::async_trait;
use serde_json::Value;
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    Lease, NewWorkflow, Run, RunStatus, Step, StepFailure, StepRun, StoredRun, Workflow,
    WorkflowStore,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::rows::{
    RunRow, StepRow, StoredRunRow, WorkflowRow, already_ended, definition, name_after, run_before,
    run_unknown, runs_page, to_json, workflow_unknown, workflows_page,
};
use crate::sql::{DbId, DbTime, Dialect, Leases, SqlDatabase};

const WORKFLOW: &str = "namespace, name, description, version, steps, created_at, updated_at";
const RUN: &str = "id, namespace, workflow, version, input, status, output, error, \
     correlation_id, created_at, updated_at, finished_at";
const STEP: &str =
    "run_id, step_id, status, attempts, interruptions, output, error, started_at, finished_at";

/// Workflows and runs in a SQL database: [`SqliteWorkflowStore`] on the embedded file,
/// [`PgWorkflowStore`] on PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let store = sp_data::SqliteWorkflowStore::new(&db);
/// # let _ = store;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlWorkflowStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Workflows and runs in the embedded SQLite database.
pub type SqliteWorkflowStore = SqlWorkflowStore<sqlx::Sqlite>;

/// Workflows and runs in PostgreSQL, in the configured schema.
#[cfg(feature = "postgres")]
pub type PgWorkflowStore = SqlWorkflowStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlWorkflowStore<DB> {
    /// The workflows of `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlWorkflowStore {
            pool: db.pool().clone(),
        }
    }
}

fn small(value: u32) -> Result<i32> {
    i32::try_from(value).map_err(Error::internal)
}

/// Stamps [`WorkflowStore`] for one driver; the body is the same SQL and control flow for each.
macro_rules! workflow_store {
    ($db:ty) => {
        impl SqlWorkflowStore<$db> {
            async fn run_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                namespace: Option<&Namespace>,
                id: Id,
            ) -> Result<(Run, Value)> {
                let db = <$db as Dialect>::error;
                let row: Option<StoredRunRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {RUN}, definition FROM workflow_runs \
                     WHERE id = $1 AND ($2 IS NULL OR namespace = $2)"
                )))
                .bind(DbId(id))
                .bind(namespace.map(Namespace::as_str))
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
                let Some(StoredRunRow { run, definition }) = row else {
                    return Err(run_unknown(id));
                };
                let steps: Vec<StepRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {STEP} FROM workflow_steps WHERE run_id = $1 ORDER BY ordinal"
                )))
                .bind(DbId(id))
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                Ok((run.into_run(steps)?, definition))
            }

            /// Gives the run's unfinished steps their final `status`.
            async fn end_steps(
                conn: &mut <$db as sqlx::Database>::Connection,
                run: Id,
                status: &str,
                now: DbTime,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE workflow_steps SET status = $1, finished_at = $2 \
                     WHERE run_id = $3 AND status IN ('pending', 'running')",
                )
                .bind(status)
                .bind(now)
                .bind(DbId(run))
                .execute(conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }
        }

        #[async_trait]
        impl WorkflowStore for SqlWorkflowStore<$db> {
            async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow> {
                let row: WorkflowRow = sqlx::query_as(AssertSqlSafe(format!(
                    "INSERT INTO workflows AS w ({WORKFLOW}) VALUES ($1, $2, $3, 1, $4, $5, $5) \
                     ON CONFLICT (namespace, name) DO UPDATE SET description = excluded.description, \
                     steps = excluded.steps, version = w.version + 1, updated_at = excluded.updated_at \
                     RETURNING {WORKFLOW}"
                )))
                .bind(workflow.namespace.as_str())
                .bind(&workflow.name)
                .bind(&workflow.description)
                .bind(to_json(&workflow.steps)?)
                .bind(DbTime::now())
                .fetch_one(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.into_workflow()
            }

            async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow> {
                let row: Option<WorkflowRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {WORKFLOW} FROM workflows WHERE namespace = $1 AND name = $2"
                )))
                .bind(namespace.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.ok_or_else(|| workflow_unknown(name))?.into_workflow()
            }

            async fn workflows(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Workflow>> {
                // Names sort after the empty string: the first page starts there.
                let after = name_after(page)?.unwrap_or_default();
                let rows: Vec<WorkflowRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {WORKFLOW} FROM workflows WHERE namespace = $1 AND name > $2 \
                     ORDER BY name LIMIT $3"
                )))
                .bind(namespace.as_str())
                .bind(after)
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                workflows_page(rows, page)
            }

            async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()> {
                let gone = sqlx::query("DELETE FROM workflows WHERE namespace = $1 AND name = $2")
                    .bind(namespace.as_str())
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                if gone.rows_affected() == 0 {
                    return Err(workflow_unknown(name));
                }
                Ok(())
            }

            async fn create_run(&self, run: &Run, steps: &[Step], lease: &Lease) -> Result<()> {
                let db = <$db as Dialect>::error;
                // One transaction: the run and its steps (numbered in order), or nothing.
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO workflow_runs (id, namespace, workflow, version, definition, input, \
                     status, correlation_id, owner, lease_until, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(DbId(run.id))
                .bind(run.namespace.as_str())
                .bind(&run.workflow)
                .bind(small(run.version)?)
                .bind(to_json(&steps)?)
                .bind(to_json(&run.input)?)
                .bind(run.status.as_str())
                .bind(&run.correlation_id)
                .bind(&lease.owner)
                .bind(DbTime(lease.until))
                .bind(DbTime(run.created_at))
                .bind(DbTime(run.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if !run.steps.is_empty() {
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO workflow_steps (run_id, step_id, ordinal, status, attempts) ",
                    );
                    let mut ordinal = 0i32;
                    insert.push_values(&run.steps, |mut row, step| {
                        row.push_bind(DbId(run.id))
                            .push_bind(step.id.clone())
                            .push_bind(ordinal)
                            .push_bind(step.status.as_str())
                            .push_bind(0i32);
                        ordinal += 1;
                    });
                    insert.build().execute(&mut *tx).await.map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
                let mut conn = self.pool.acquire().await.map_err(<$db as Dialect>::error)?;
                Ok(Self::run_in(&mut conn, Some(namespace), id).await?.0)
            }

            async fn stored_run(&self, id: Id) -> Result<StoredRun> {
                let mut conn = self.pool.acquire().await.map_err(<$db as Dialect>::error)?;
                let (run, steps) = Self::run_in(&mut conn, None, id).await?;
                Ok(StoredRun {
                    run,
                    definition: definition(steps),
                })
            }

            async fn runs(
                &self,
                namespace: &Namespace,
                workflow: Option<&str>,
                page: &PageRequest,
            ) -> Result<Page<Run>> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {RUN} FROM workflow_runs WHERE namespace = $1 \
                     AND ($2 IS NULL OR workflow = $2) AND id < $3 ORDER BY id DESC LIMIT $4"
                )))
                .bind(namespace.as_str())
                .bind(workflow)
                .bind(DbId::before(run_before(page)?))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                let mut steps = Vec::new();
                if !rows.is_empty() {
                    let mut select = QueryBuilder::<$db>::new(format!(
                        "SELECT {STEP} FROM workflow_steps WHERE run_id IN ("
                    ));
                    let mut ids = select.separated(", ");
                    for row in &rows {
                        ids.push_bind(row.id);
                    }
                    select.push(") ORDER BY run_id, ordinal");
                    steps = select
                        .build_query_as::<StepRow>()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                runs_page(rows, steps, page)
            }

            async fn save_step(&self, run: Id, owner: &str, step: &StepRun) -> Result<bool> {
                let db = <$db as Dialect>::error;
                // The step changes only while the run is running and ours: the run's row is
                // touched first, in the same transaction.
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let held = sqlx::query(
                    "UPDATE workflow_runs SET updated_at = $1 \
                     WHERE id = $2 AND owner = $3 AND status = 'running'",
                )
                .bind(DbTime::now())
                .bind(DbId(run))
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if held.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE workflow_steps SET status = $1, attempts = $2, output = $3, error = $4, \
                     started_at = $5, finished_at = $6, interruptions = $9 \
                     WHERE run_id = $7 AND step_id = $8",
                )
                .bind(step.status.as_str())
                .bind(small(step.attempts)?)
                .bind(step.output.as_ref().map(to_json).transpose()?)
                .bind(step.error.as_ref().map(to_json).transpose()?)
                .bind(step.started_at.map(DbTime))
                .bind(step.finished_at.map(DbTime))
                .bind(DbId(run))
                .bind(&step.id)
                .bind(small(step.interruptions)?)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn finish_run(
                &self,
                run: Id,
                owner: &str,
                status: RunStatus,
                output: Option<&Value>,
                error: Option<&StepFailure>,
            ) -> Result<bool> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let now = DbTime::now();
                let ended = sqlx::query(
                    "UPDATE workflow_runs SET status = $1, output = $2, error = $3, updated_at = $4, \
                     finished_at = $4 WHERE id = $5 AND owner = $6 AND status = 'running'",
                )
                .bind(status.as_str())
                .bind(output.map(to_json).transpose()?)
                .bind(error.map(to_json).transpose()?)
                .bind(now)
                .bind(DbId(run))
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if ended.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::end_steps(&mut tx, run, "skipped", now).await?;
                tx.commit().await.map_err(db)?;
                Ok(true)
            }

            async fn cancel_run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let now = DbTime::now();
                let cancelled = sqlx::query(
                    "UPDATE workflow_runs SET status = 'cancelled', updated_at = $1, finished_at = $1 \
                     WHERE id = $2 AND namespace = $3 AND status = 'running'",
                )
                .bind(now)
                .bind(DbId(id))
                .bind(namespace.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if cancelled.rows_affected() == 0 {
                    let (run, _) = Self::run_in(&mut tx, Some(namespace), id).await?;
                    return Err(already_ended(id, run.status.as_str()));
                }
                Self::end_steps(&mut tx, id, "cancelled", now).await?;
                let (run, _) = Self::run_in(&mut tx, Some(namespace), id).await?;
                tx.commit().await.map_err(db)?;
                Ok(run)
            }

            async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
                <$db as Leases>::renew_leases(&self.pool, "workflow_runs", owner, runs, until).await
            }

            async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
                <$db as Leases>::claim_lapsed(&self.pool, "workflow_runs", lease, now, limit).await
            }
        }
    };
}

workflow_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
workflow_store!(sqlx::Postgres);
