//! Rows of the workflow tables as both backends return them (ids, times and JSON decoded
//! natively by the column types of [`crate::sql`]), and their conversion to `sp-core` types.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use sp_core::knowledge::Namespace;
use sp_core::workflows::{Run, RunStatus, Step, StepFailure, StepRun, StepStatus, Workflow};
use sp_core::{Error, Id, Page, PageRequest, Result};

use serde_json::Value;

use crate::sql::{DbId, DbTime};

/// Reads a stored JSON column as its type; one of another shape is a corrupt row.
pub(crate) fn json<T: DeserializeOwned>(column: &str, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|err| Error::internal(format!("stored {column}: {err}")))
}

/// A value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(Error::internal)
}

fn int<T: TryFrom<i32>>(value: i32) -> Result<T> {
    T::try_from(value).map_err(|_| Error::internal("stored number out of range"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkflowRow {
    namespace: String,
    name: String,
    description: String,
    version: i32,
    steps: Value,
    created_at: DbTime,
    updated_at: DbTime,
}

impl WorkflowRow {
    pub(crate) fn into_workflow(self) -> Result<Workflow> {
        Ok(Workflow {
            namespace: Namespace::new(self.namespace)?,
            name: self.name,
            description: self.description,
            version: int(self.version)?,
            steps: json("workflow steps", self.steps)?,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// A page of workflows fetched as `limit + 1` rows by name.
pub(crate) fn workflows_page(rows: Vec<WorkflowRow>, page: &PageRequest) -> Result<Page<Workflow>> {
    let items = rows
        .into_iter()
        .map(WorkflowRow::into_workflow)
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(items, page.limit, |w| w.name.clone())
}

/// Where a workflow listing resumes: after this name.
pub(crate) fn name_after(page: &PageRequest) -> Result<Option<String>> {
    page.cursor
        .as_ref()
        .map(|c| c.decode::<String>())
        .transpose()
}

/// Where a run listing resumes: before this run (newest first).
pub(crate) fn run_before(page: &PageRequest) -> Result<Option<Id>> {
    page.cursor.as_ref().map(|c| c.decode::<Id>()).transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    pub(crate) id: DbId,
    namespace: String,
    workflow: String,
    version: i32,
    input: Value,
    status: String,
    output: Option<Value>,
    error: Option<Value>,
    correlation_id: String,
    created_at: DbTime,
    updated_at: DbTime,
    finished_at: Option<DbTime>,
}

/// A run's row with the definition it runs (one read for both).
#[derive(sqlx::FromRow)]
pub(crate) struct StoredRunRow {
    #[sqlx(flatten)]
    pub(crate) run: RunRow,
    pub(crate) definition: Value,
}

#[derive(sqlx::FromRow)]
pub(crate) struct StepRow {
    pub(crate) run_id: DbId,
    step_id: String,
    status: String,
    attempts: i32,
    interruptions: i32,
    output: Option<Value>,
    error: Option<Value>,
    started_at: Option<DbTime>,
    finished_at: Option<DbTime>,
}

impl StepRow {
    fn into_step(self) -> Result<StepRun> {
        Ok(StepRun {
            id: self.step_id,
            status: StepStatus::parse(&self.status)
                .ok_or_else(|| Error::internal("stored step status"))?,
            attempts: int(self.attempts)?,
            interruptions: int(self.interruptions)?,
            output: self.output.map(|o| json("step output", o)).transpose()?,
            error: self.error.map(|e| json("step error", e)).transpose()?,
            started_at: self.started_at.map(|at| at.0),
            finished_at: self.finished_at.map(|at| at.0),
        })
    }
}

impl RunRow {
    /// The run with `steps` (its rows, in order).
    pub(crate) fn into_run(self, steps: Vec<StepRow>) -> Result<Run> {
        Ok(Run {
            id: self.id.0,
            namespace: Namespace::new(self.namespace)?,
            workflow: self.workflow,
            version: int(self.version)?,
            status: RunStatus::parse(&self.status)
                .ok_or_else(|| Error::internal("stored run status"))?,
            input: json("run input", self.input)?,
            output: self.output.map(|o| json("run output", o)).transpose()?,
            error: self
                .error
                .map(|e| json::<StepFailure>("run error", e))
                .transpose()?,
            correlation_id: self.correlation_id,
            steps: steps
                .into_iter()
                .map(StepRow::into_step)
                .collect::<Result<_>>()?,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            finished_at: self.finished_at.map(|at| at.0),
        })
    }
}

/// A page of runs (fetched newest first, `limit + 1` of them) with their steps (all rows of
/// those runs, in step order).
pub(crate) fn runs_page(
    rows: Vec<RunRow>,
    steps: Vec<StepRow>,
    page: &PageRequest,
) -> Result<Page<Run>> {
    let mut by_run: HashMap<Id, Vec<StepRow>> = HashMap::new();
    for step in steps {
        by_run.entry(step.run_id.0).or_default().push(step);
    }
    let runs = rows
        .into_iter()
        .map(|row| {
            let steps = by_run.remove(&row.id.0).unwrap_or_default();
            row.into_run(steps)
        })
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(runs, page.limit, |r| r.id)
}

/// The JSON of a run's definition, or why it does not read.
pub(crate) fn definition(value: Value) -> std::result::Result<Vec<Step>, String> {
    serde_json::from_value(value).map_err(|err| format!("stored definition: {err}"))
}

/// The refusal to cancel a run that already ended.
pub(crate) fn already_ended(id: Id, status: &str) -> Error {
    Error::Conflict(format!("run {id} already ended ({status})"))
}

/// No such run in the namespace.
pub(crate) fn run_unknown(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::WorkflowRun,
        id: id.to_string(),
    }
}

/// No such workflow in the namespace.
pub(crate) fn workflow_unknown(name: &str) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Workflow,
        id: name.to_owned(),
    }
}
