//! What a workflow backend stores: definitions, runs and their steps, and leases on runs.

use async_trait::async_trait;
use serde_json::Value;

use super::runs::{Lease, Run, RunStatus, StepFailure, StepRun, StoredRun, Workflow};
use super::types::{NewWorkflow, Step};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest, Timestamp};

/// Storage of workflows and runs (SQLite and PostgreSQL in `sp-data`).
///
/// Writes to a run go through its lease: a process saves a step or finishes a run only while
/// the run is `running` and leased to it, so a process that lost its lease (it stalled, and
/// another took the run over) or a cancelled run takes no more writes.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Stores `workflow` (checked by the caller): version 1, or the next version of the name.
    async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow>;

    /// The current definition of `name` (`SP-RES-001` when there is none).
    async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow>;

    /// The namespace's workflows by name.
    async fn workflows(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Workflow>>;

    /// Forgets `name` (its runs stay; `SP-RES-001` when there is none).
    async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()>;

    /// Stores a new run (all steps `pending`), leased to `lease.owner`.
    async fn create_run(&self, run: &Run, definition: &[Step], lease: &Lease) -> Result<()>;

    /// A run with its steps (`SP-RES-001` when the namespace has no such run).
    async fn run(&self, namespace: &Namespace, id: Id) -> Result<Run>;

    /// A run with the definition it runs, whatever its namespace (for the process driving it).
    async fn stored_run(&self, id: Id) -> Result<StoredRun>;

    /// The namespace's runs, newest first, of one workflow when `workflow` is given.
    async fn runs(
        &self,
        namespace: &Namespace,
        workflow: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>>;

    /// Saves a step's state if the run is running and leased to `owner`; `false` otherwise.
    async fn save_step(&self, run: Id, owner: &str, step: &StepRun) -> Result<bool>;

    /// Ends a run leased to `owner` that is still running; `false` otherwise. Steps not
    /// finished (`pending`, or `running` when a process stopped mid-step) become `skipped`.
    async fn finish_run(
        &self,
        run: Id,
        owner: &str,
        status: RunStatus,
        output: Option<&Value>,
        error: Option<&StepFailure>,
    ) -> Result<bool>;

    /// Cancels a running run (its unfinished steps become `cancelled`) and returns it;
    /// `SP-RES-002` when it already ended.
    async fn cancel_run(&self, namespace: &Namespace, id: Id) -> Result<Run>;

    /// Extends `owner`'s lease to `until` on those of `runs` it still holds. Runs it holds
    /// but no longer drives (their driver stopped on an error) are left to lapse, so a live
    /// process — this one included — takes them over.
    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()>;

    /// Takes over up to `limit` running runs whose lease lapsed before `now` (their process
    /// stopped), leasing them to `lease.owner`; returns their ids.
    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>>;
}
