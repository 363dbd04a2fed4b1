//! Workflows and their runs in PostgreSQL.

use async_trait::async_trait;
use serde_json::Value;
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    Lease, NewWorkflow, Run, RunStatus, Step, StepFailure, StepRun, StoredRun, Workflow,
    WorkflowStore,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{PgConnection, PgPool};

use super::rows::{
    RunRow, StepRow, StoredRunRow, WorkflowRow, already_ended, definition, name_after, run_before,
    run_unknown, runs_page, to_json, workflow_unknown, workflows_page,
};
use crate::error::sqlx_error;

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

const WORKFLOW: &str = "namespace, name, description, version::int8 AS version, \
     steps::text AS steps, (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, \
     (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at";
const RUN: &str = "id::text AS id, namespace, workflow, version::int8 AS version, \
     input::text AS input, status, output::text AS output, error::text AS error, correlation_id, \
     (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, \
     (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at, \
     (extract(epoch FROM finished_at) * 1000000)::int8 AS finished_at";
const STEP: &str = "run_id::text AS run_id, step_id, status, attempts::int8 AS attempts, \
     output::text AS output, error::text AS error, \
     (extract(epoch FROM started_at) * 1000000)::int8 AS started_at, \
     (extract(epoch FROM finished_at) * 1000000)::int8 AS finished_at";

/// Workflows and runs in PostgreSQL, in the configured schema.
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = sp_core::config::DatabaseConfig {
///     url: Some("postgres://localhost/sp".into()),
///     ..Default::default()
/// };
/// let pg = sp_data::PgStore::connect_lazy(&config)?;
/// let store = sp_data::PgWorkflowStore::open(&pg).await?;
/// # let _ = store;
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PgWorkflowStore {
    pool: PgPool,
}

impl PgWorkflowStore {
    /// Runs the migrations and opens the store.
    pub async fn open(pg: &crate::PgStore) -> Result<Self> {
        pg.migrate().await?;
        Ok(PgWorkflowStore {
            pool: pg.pool().clone(),
        })
    }
}

async fn run_in(
    conn: &mut PgConnection,
    namespace: Option<&Namespace>,
    id: Id,
) -> Result<(Run, String)> {
    let row: Option<StoredRunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN}, definition::text AS definition FROM workflow_runs \
         WHERE id = $1 AND ($2::text IS NULL OR namespace = $2)"
    )))
    .bind(id.as_uuid())
    .bind(namespace.map(Namespace::as_str))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(StoredRunRow { run, definition }) = row else {
        return Err(run_unknown(id));
    };
    let steps: Vec<StepRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STEP} FROM workflow_steps WHERE run_id = $1 ORDER BY ordinal"
    )))
    .bind(id.as_uuid())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok((run.into_run(steps)?, definition))
}

fn time(at: Option<Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    at.map(|t| t.as_datetime())
}

#[async_trait]
impl WorkflowStore for PgWorkflowStore {
    async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow> {
        let now = Timestamp::now().as_datetime();
        let row: WorkflowRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO workflows AS w (namespace, name, description, version, steps, \
             created_at, updated_at) VALUES ($1, $2, $3, 1, $4::jsonb, $5, $5) \
             ON CONFLICT (namespace, name) DO UPDATE SET description = excluded.description, \
             steps = excluded.steps, version = w.version + 1, updated_at = excluded.updated_at \
             RETURNING {WORKFLOW}"
        )))
        .bind(workflow.namespace.as_str())
        .bind(&workflow.name)
        .bind(&workflow.description)
        .bind(to_json(&workflow.steps)?)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.into_workflow()
    }

    async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow> {
        let row: Option<WorkflowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {WORKFLOW} FROM workflows WHERE namespace = $1 AND name = $2"
        )))
        .bind(namespace.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.ok_or_else(|| workflow_unknown(name))?.into_workflow()
    }

    async fn workflows(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Workflow>> {
        let after = name_after(page)?;
        let rows: Vec<WorkflowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {WORKFLOW} FROM workflows WHERE namespace = $1 \
             AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3"
        )))
        .bind(namespace.as_str())
        .bind(after.as_deref())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        workflows_page(rows, page)
    }

    async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()> {
        let gone = sqlx::query("DELETE FROM workflows WHERE namespace = $1 AND name = $2")
            .bind(namespace.as_str())
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if gone.rows_affected() == 0 {
            return Err(workflow_unknown(name));
        }
        Ok(())
    }

    async fn create_run(&self, run: &Run, steps: &[Step], lease: &Lease) -> Result<()> {
        let ids: Vec<&str> = run.steps.iter().map(|s| s.id.as_str()).collect();
        // One statement: the run and its steps (numbered in order) or nothing.
        sqlx::query(
            "WITH run AS (INSERT INTO workflow_runs (id, namespace, workflow, version, \
             definition, input, status, correlation_id, owner, lease_until, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, $12) \
             RETURNING id) \
             INSERT INTO workflow_steps (run_id, step_id, ordinal, status, attempts) \
             SELECT run.id, s.step_id, (s.n - 1)::int4, 'pending', 0 \
             FROM run, unnest($13::text[]) WITH ORDINALITY AS s(step_id, n)",
        )
        .bind(run.id.as_uuid())
        .bind(run.namespace.as_str())
        .bind(&run.workflow)
        .bind(i32::try_from(run.version).map_err(Error::internal)?)
        .bind(to_json(&steps)?)
        .bind(to_json(&run.input)?)
        .bind(run.status.as_str())
        .bind(&run.correlation_id)
        .bind(&lease.owner)
        .bind(lease.until.as_datetime())
        .bind(run.created_at.as_datetime())
        .bind(run.updated_at.as_datetime())
        .bind(&ids)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        Ok(run_in(&mut conn, Some(namespace), id).await?.0)
    }

    async fn stored_run(&self, id: Id) -> Result<StoredRun> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let (run, steps) = run_in(&mut conn, None, id).await?;
        Ok(StoredRun {
            run,
            definition: definition(&steps),
        })
    }

    async fn runs(
        &self,
        namespace: &Namespace,
        workflow: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>> {
        let before = run_before(page)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN} FROM workflow_runs WHERE namespace = $1 \
             AND ($2::text IS NULL OR workflow = $2) AND ($3::uuid IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        )))
        .bind(namespace.as_str())
        .bind(workflow)
        .bind(before.map(|id| id.as_uuid()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let ids: Vec<sqlx::types::Uuid> = rows
            .iter()
            .map(|r| r.id.parse().map_err(Error::internal))
            .collect::<Result<_>>()?;
        let steps: Vec<StepRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {STEP} FROM workflow_steps WHERE run_id = ANY($1) ORDER BY run_id, ordinal"
        )))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        runs_page(rows, steps, page)
    }

    async fn save_step(&self, run: Id, owner: &str, step: &StepRun) -> Result<bool> {
        // One statement: the step changes only while the run is running and ours.
        let saved = sqlx::query(
            "WITH held AS (UPDATE workflow_runs SET updated_at = now() \
             WHERE id = $1 AND owner = $2 AND status = 'running' RETURNING id) \
             UPDATE workflow_steps s SET status = $3, attempts = $4, output = $5::jsonb, \
             error = $6::jsonb, started_at = $7, finished_at = $8 \
             FROM held WHERE s.run_id = held.id AND s.step_id = $9",
        )
        .bind(run.as_uuid())
        .bind(owner)
        .bind(step.status.as_str())
        .bind(i32::try_from(step.attempts).map_err(Error::internal)?)
        .bind(step.output.as_ref().map(to_json).transpose()?)
        .bind(step.error.as_ref().map(to_json).transpose()?)
        .bind(time(step.started_at))
        .bind(time(step.finished_at))
        .bind(&step.id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(saved.rows_affected() > 0)
    }

    async fn finish_run(
        &self,
        run: Id,
        owner: &str,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&StepFailure>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let ended = sqlx::query(
            "UPDATE workflow_runs SET status = $1, output = $2::jsonb, error = $3::jsonb, \
             updated_at = now(), finished_at = now() \
             WHERE id = $4 AND owner = $5 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(output.map(to_json).transpose()?)
        .bind(error.map(to_json).transpose()?)
        .bind(run.as_uuid())
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if ended.rows_affected() == 0 {
            return Ok(false);
        }
        end_steps(&mut tx, run, "skipped").await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn cancel_run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let cancelled = sqlx::query(
            "UPDATE workflow_runs SET status = 'cancelled', updated_at = now(), \
             finished_at = now() WHERE id = $1 AND namespace = $2 AND status = 'running'",
        )
        .bind(id.as_uuid())
        .bind(namespace.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if cancelled.rows_affected() == 0 {
            let (run, _) = run_in(&mut tx, Some(namespace), id).await?;
            return Err(already_ended(id, run.status.as_str()));
        }
        end_steps(&mut tx, id, "cancelled").await?;
        let (run, _) = run_in(&mut tx, Some(namespace), id).await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let ids: Vec<sqlx::types::Uuid> = runs.iter().map(Id::as_uuid).collect();
        sqlx::query(
            "UPDATE workflow_runs SET lease_until = $1 \
             WHERE owner = $2 AND status = 'running' AND id = ANY($3)",
        )
        .bind(until.as_datetime())
        .bind(owner)
        .bind(&ids)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
        // SKIP LOCKED: processes recovering at once take different runs.
        let ids: Vec<(sqlx::types::Uuid,)> = sqlx::query_as(
            "UPDATE workflow_runs SET owner = $1, lease_until = $2 WHERE id IN \
             (SELECT id FROM workflow_runs WHERE status = 'running' AND lease_until < $3 \
              ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .bind(&lease.owner)
        .bind(lease.until.as_datetime())
        .bind(now.as_datetime())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(ids.into_iter().map(|(id,)| Id::from_uuid(id)).collect())
    }
}

/// Gives the run's unfinished steps their final `status`.
async fn end_steps(conn: &mut PgConnection, run: Id, status: &str) -> Result<()> {
    sqlx::query(
        "UPDATE workflow_steps SET status = $1, finished_at = now() \
         WHERE run_id = $2 AND status IN ('pending', 'running')",
    )
    .bind(status)
    .bind(run.as_uuid())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}
