//! Workflows and runs in process memory: for tests, examples and embedders that keep nothing
//! on disk. It behaves as the SQL stores do (the shared suite in `sp-data/tests/workflows` runs
//! on it): versions per name, writes only through a run's lease, lapsed leases taken over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde_json::Value;

use super::runs::{Lease, Run, RunStatus, StepFailure, StepRun, StepStatus, StoredRun, Workflow};
use super::store::WorkflowStore;
use super::types::{NewWorkflow, Step};
use crate::error::{Error, Resource, Result};
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest, Timestamp};

/// A [`WorkflowStore`] in memory, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::workflows::{MemoryWorkflowStore, NewWorkflow, WorkflowStore};
///
/// let store = MemoryWorkflowStore::default();
/// let new: NewWorkflow = serde_json::from_value(serde_json::json!({
///     "name": "greet", "steps": [{"id": "hi", "kind": "tool", "tool": "echo"}]})).unwrap();
/// assert_eq!(store.define(&new).await?.version, 1);
/// assert_eq!(store.define(&new).await?.version, 2);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryWorkflowStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    workflows: HashMap<(Namespace, String), Workflow>,
    runs: Vec<Held>,
}

/// A run, the definition it runs, and who holds it until when.
#[derive(Debug)]
struct Held {
    run: Run,
    definition: Vec<Step>,
    owner: String,
    lease_until: Timestamp,
}

fn run_unknown(id: Id) -> Error {
    Error::NotFound {
        kind: Resource::WorkflowRun,
        id: id.to_string(),
    }
}

fn workflow_unknown(name: &str) -> Error {
    Error::NotFound {
        kind: Resource::Workflow,
        id: name.to_owned(),
    }
}

/// Gives the run's unfinished steps their final `status`.
fn end_steps(run: &mut Run, status: StepStatus, now: Timestamp) {
    for step in &mut run.steps {
        if matches!(step.status, StepStatus::Pending | StepStatus::Running) {
            step.status = status;
            step.finished_at = Some(now);
        }
    }
}

impl MemoryWorkflowStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn held(&mut self, id: Id) -> Option<&mut Held> {
        self.runs.iter_mut().find(|h| h.run.id == id)
    }

    /// The run `id` if it is running and leased to `owner`.
    fn leased(&mut self, id: Id, owner: &str) -> Option<&mut Held> {
        self.held(id)
            .filter(|h| h.owner == owner && h.run.status == RunStatus::Running)
    }
}

#[async_trait]
impl WorkflowStore for MemoryWorkflowStore {
    async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow> {
        let now = Timestamp::now();
        let mut state = self.state();
        let key = (workflow.namespace.clone(), workflow.name.clone());
        let defined = match state.workflows.get(&key) {
            Some(known) => Workflow {
                description: workflow.description.clone(),
                steps: workflow.steps.clone(),
                version: known.version + 1,
                updated_at: now,
                ..known.clone()
            },
            None => Workflow {
                namespace: workflow.namespace.clone(),
                name: workflow.name.clone(),
                description: workflow.description.clone(),
                version: 1,
                steps: workflow.steps.clone(),
                created_at: now,
                updated_at: now,
            },
        };
        state.workflows.insert(key, defined.clone());
        Ok(defined)
    }

    async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow> {
        self.state()
            .workflows
            .get(&(namespace.clone(), name.to_owned()))
            .cloned()
            .ok_or_else(|| workflow_unknown(name))
    }

    async fn workflows(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Workflow>> {
        let after: String = page
            .cursor
            .as_ref()
            .map(|c| c.decode::<String>())
            .transpose()?
            .unwrap_or_default();
        let mut found: Vec<Workflow> = self
            .state()
            .workflows
            .values()
            .filter(|w| w.namespace == *namespace && w.name > after)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.truncate(page.limit as usize + 1);
        Page::from_rows(found, page.limit, |w| w.name.clone())
    }

    async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()> {
        self.state()
            .workflows
            .remove(&(namespace.clone(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| workflow_unknown(name))
    }

    async fn create_run(&self, run: &Run, definition: &[Step], lease: &Lease) -> Result<()> {
        let mut state = self.state();
        if state.held(run.id).is_some() {
            return Err(Error::Conflict(format!("run {} exists", run.id)));
        }
        state.runs.push(Held {
            run: run.clone(),
            definition: definition.to_vec(),
            owner: lease.owner.clone(),
            lease_until: lease.until,
        });
        Ok(())
    }

    async fn run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        self.state()
            .held(id)
            .filter(|h| h.run.namespace == *namespace)
            .map(|h| h.run.clone())
            .ok_or_else(|| run_unknown(id))
    }

    async fn stored_run(&self, id: Id) -> Result<StoredRun> {
        let mut state = self.state();
        let held = state.held(id).ok_or_else(|| run_unknown(id))?;
        Ok(StoredRun {
            run: held.run.clone(),
            definition: Ok(held.definition.clone()),
        })
    }

    async fn runs(
        &self,
        namespace: &Namespace,
        workflow: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>> {
        let before: Option<Id> = page.cursor.as_ref().map(|c| c.decode::<Id>()).transpose()?;
        let mut found: Vec<Run> = self
            .state()
            .runs
            .iter()
            .map(|h| &h.run)
            .filter(|r| r.namespace == *namespace && workflow.is_none_or(|w| r.workflow == w))
            .filter(|r| before.is_none_or(|b| r.id < b))
            .cloned()
            .collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.id));
        found.truncate(page.limit as usize + 1);
        Page::from_rows(found, page.limit, |r| r.id)
    }

    async fn save_step(&self, run: Id, owner: &str, step: &StepRun) -> Result<bool> {
        let mut state = self.state();
        let Some(held) = state.leased(run, owner) else {
            return Ok(false);
        };
        held.run.updated_at = Timestamp::now();
        if let Some(known) = held.run.steps.iter_mut().find(|s| s.id == step.id) {
            *known = step.clone();
        }
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
        let now = Timestamp::now();
        let mut state = self.state();
        let Some(held) = state.leased(run, owner) else {
            return Ok(false);
        };
        held.run.status = status;
        held.run.output = output.cloned();
        held.run.error = error.cloned();
        held.run.updated_at = now;
        end_steps(&mut held.run, StepStatus::Skipped, now);
        Ok(true)
    }

    async fn cancel_run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        let now = Timestamp::now();
        let mut state = self.state();
        let held = state
            .held(id)
            .filter(|h| h.run.namespace == *namespace)
            .ok_or_else(|| run_unknown(id))?;
        if held.run.status != RunStatus::Running {
            return Err(Error::Conflict(format!(
                "run {id} already ended ({})",
                held.run.status.as_str()
            )));
        }
        held.run.status = RunStatus::Cancelled;
        held.run.updated_at = now;
        end_steps(&mut held.run, StepStatus::Cancelled, now);
        Ok(held.run.clone())
    }

    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
        let mut state = self.state();
        for id in runs {
            if let Some(held) = state.leased(*id, owner) {
                held.lease_until = until;
            }
        }
        Ok(())
    }

    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
        let mut state = self.state();
        let mut lapsed: Vec<&mut Held> = state
            .runs
            .iter_mut()
            .filter(|h| h.run.status == RunStatus::Running && h.lease_until < now)
            .collect();
        lapsed.sort_by_key(|h| h.lease_until);
        Ok(lapsed
            .into_iter()
            .take(limit as usize)
            .map(|held| {
                held.owner = lease.owner.clone();
                held.lease_until = lease.until;
                held.run.id
            })
            .collect())
    }
}
