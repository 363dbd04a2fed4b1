//! Workflows and their runs in the embedded SQLite database.

use async_trait::async_trait;
use serde_json::Value;
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    Lease, NewWorkflow, Run, RunStatus, Step, StepFailure, StepRun, StoredRun, Workflow,
    WorkflowStore,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use super::rows::{
    RunRow, StepRow, StoredRunRow, WorkflowRow, already_ended, definition, name_after, run_before,
    run_unknown, runs_page, to_json, workflow_unknown, workflows_page,
};
use crate::error::sqlx_error;

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

const WORKFLOW: &str = "namespace, name, description, version, steps, created_at, updated_at";
const RUN: &str = "id, namespace, workflow, version, input, status, output, error, \
     correlation_id, created_at, updated_at, finished_at";
const STEP: &str = "run_id, step_id, status, attempts, output, error, started_at, finished_at";

/// Workflows and runs in the embedded database.
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
pub struct SqliteWorkflowStore {
    pool: SqlitePool,
}

impl SqliteWorkflowStore {
    /// The workflows of `db`.
    pub fn new(db: &crate::SqliteStore) -> Self {
        SqliteWorkflowStore {
            pool: db.pool().clone(),
        }
    }
}

async fn run_in(
    conn: &mut SqliteConnection,
    namespace: Option<&Namespace>,
    id: Id,
) -> Result<(Run, String)> {
    let row: Option<StoredRunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RUN}, definition FROM workflow_runs \
         WHERE id = ? AND (? IS NULL OR namespace = ?)"
    )))
    .bind(id.to_string())
    .bind(namespace.map(Namespace::as_str))
    .bind(namespace.map(Namespace::as_str))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(StoredRunRow { run, definition }) = row else {
        return Err(run_unknown(id));
    };
    let steps: Vec<StepRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STEP} FROM workflow_steps WHERE run_id = ? ORDER BY ordinal"
    )))
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok((run.into_run(steps)?, definition))
}

fn micros(at: Option<Timestamp>) -> Option<i64> {
    at.map(|t| t.unix_micros())
}

#[async_trait]
impl WorkflowStore for SqliteWorkflowStore {
    async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow> {
        let now = Timestamp::now().unix_micros();
        let row: WorkflowRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO workflows ({WORKFLOW}) VALUES (?, ?, ?, 1, ?, ?, ?) \
             ON CONFLICT (namespace, name) DO UPDATE SET description = excluded.description, \
             steps = excluded.steps, version = version + 1, updated_at = excluded.updated_at \
             RETURNING {WORKFLOW}"
        )))
        .bind(workflow.namespace.as_str())
        .bind(&workflow.name)
        .bind(&workflow.description)
        .bind(to_json(&workflow.steps)?)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.into_workflow()
    }

    async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow> {
        let row: Option<WorkflowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {WORKFLOW} FROM workflows WHERE namespace = ? AND name = ?"
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
            "SELECT {WORKFLOW} FROM workflows WHERE namespace = ? AND (? IS NULL OR name > ?) \
             ORDER BY name LIMIT ?"
        )))
        .bind(namespace.as_str())
        .bind(after.as_deref())
        .bind(after.as_deref())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        workflows_page(rows, page)
    }

    async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()> {
        let gone = sqlx::query("DELETE FROM workflows WHERE namespace = ? AND name = ?")
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO workflow_runs (id, namespace, workflow, version, definition, input, \
             status, correlation_id, owner, lease_until, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run.id.to_string())
        .bind(run.namespace.as_str())
        .bind(&run.workflow)
        .bind(i64::from(run.version))
        .bind(to_json(&steps)?)
        .bind(to_json(&run.input)?)
        .bind(run.status.as_str())
        .bind(&run.correlation_id)
        .bind(&lease.owner)
        .bind(lease.until.unix_micros())
        .bind(run.created_at.unix_micros())
        .bind(run.updated_at.unix_micros())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for (ordinal, step) in run.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO workflow_steps (run_id, step_id, ordinal, status, attempts) \
                 VALUES (?, ?, ?, ?, 0)",
            )
            .bind(run.id.to_string())
            .bind(&step.id)
            .bind(ordinal as i64)
            .bind(step.status.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
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
        let before = run_before(page)?.map(|id| id.to_string());
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN} FROM workflow_runs WHERE namespace = ? \
             AND (? IS NULL OR workflow = ?) AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?"
        )))
        .bind(namespace.as_str())
        .bind(workflow)
        .bind(workflow)
        .bind(before.as_deref())
        .bind(before.as_deref())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut steps = Vec::new();
        if !rows.is_empty() {
            let mut select = sqlx::QueryBuilder::<Sqlite>::new(format!(
                "SELECT {STEP} FROM workflow_steps WHERE run_id IN ("
            ));
            let mut ids = select.separated(", ");
            for row in &rows {
                ids.push_bind(row.id.clone());
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let now = Timestamp::now().unix_micros();
        let held = sqlx::query(
            "UPDATE workflow_runs SET updated_at = ? \
             WHERE id = ? AND owner = ? AND status = 'running'",
        )
        .bind(now)
        .bind(run.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if held.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE workflow_steps SET status = ?, attempts = ?, output = ?, error = ?, \
             started_at = ?, finished_at = ? WHERE run_id = ? AND step_id = ?",
        )
        .bind(step.status.as_str())
        .bind(i64::from(step.attempts))
        .bind(step.output.as_ref().map(to_json).transpose()?)
        .bind(step.error.as_ref().map(to_json).transpose()?)
        .bind(micros(step.started_at))
        .bind(micros(step.finished_at))
        .bind(run.to_string())
        .bind(&step.id)
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let now = Timestamp::now().unix_micros();
        let ended = sqlx::query(
            "UPDATE workflow_runs SET status = ?, output = ?, error = ?, updated_at = ?, \
             finished_at = ? WHERE id = ? AND owner = ? AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(output.map(to_json).transpose()?)
        .bind(error.map(to_json).transpose()?)
        .bind(now)
        .bind(now)
        .bind(run.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if ended.rows_affected() == 0 {
            return Ok(false);
        }
        end_steps(&mut tx, run, "skipped", now).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn cancel_run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let now = Timestamp::now().unix_micros();
        let cancelled = sqlx::query(
            "UPDATE workflow_runs SET status = 'cancelled', updated_at = ?, finished_at = ? \
             WHERE id = ? AND namespace = ? AND status = 'running'",
        )
        .bind(now)
        .bind(now)
        .bind(id.to_string())
        .bind(namespace.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if cancelled.rows_affected() == 0 {
            let (run, _) = run_in(&mut tx, Some(namespace), id).await?;
            return Err(already_ended(id, run.status.as_str()));
        }
        end_steps(&mut tx, id, "cancelled", now).await?;
        let (run, _) = run_in(&mut tx, Some(namespace), id).await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut renew =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("UPDATE workflow_runs SET lease_until = ");
        renew.push_bind(until.unix_micros());
        renew.push(" WHERE owner = ");
        renew.push_bind(owner.to_owned());
        renew.push(" AND status = 'running' AND id IN (");
        let mut ids = renew.separated(", ");
        for id in runs {
            ids.push_bind(id.to_string());
        }
        renew.push(")");
        renew.build().execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "UPDATE workflow_runs SET owner = ?, lease_until = ? WHERE id IN \
             (SELECT id FROM workflow_runs WHERE status = 'running' AND lease_until < ? \
              ORDER BY lease_until LIMIT ?) RETURNING id",
        )
        .bind(&lease.owner)
        .bind(lease.until.unix_micros())
        .bind(now.unix_micros())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        ids.into_iter()
            .map(|(id,)| id.parse().map_err(Error::internal))
            .collect()
    }
}

/// Gives the run's unfinished steps their final `status`.
async fn end_steps(conn: &mut SqliteConnection, run: Id, status: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE workflow_steps SET status = ?, finished_at = ? \
         WHERE run_id = ? AND status IN ('pending', 'running')",
    )
    .bind(status)
    .bind(now)
    .bind(run.to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}
