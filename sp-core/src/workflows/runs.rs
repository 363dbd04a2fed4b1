//! Stored workflows and their runs: what a run is doing, step by step.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::Step;
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// A defined workflow. Defining the same name again replaces it with the next `version`;
/// runs keep the definition they started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflow {
    /// The tenant.
    pub namespace: Namespace,
    /// Its name, unique in the namespace.
    pub name: String,
    /// What it does.
    pub description: String,
    /// 1 for the first definition, one more for each redefinition.
    pub version: u32,
    /// The steps, as defined.
    pub steps: Vec<Step>,
    /// When the name was first defined.
    pub created_at: Timestamp,
    /// When this version was defined.
    pub updated_at: Timestamp,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Steps are being run (or will be, by whichever process holds the run's lease).
    Running,
    /// Every step succeeded or was skipped.
    Succeeded,
    /// A step failed after its retries; the steps after it did not run.
    Failed,
    /// Cancelled: steps not yet finished were stopped.
    Cancelled,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The status of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run is over.
    pub fn is_final(&self) -> bool {
        !matches!(self, RunStatus::Running)
    }
}

/// Where a step of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Waiting for the steps it needs.
    Pending,
    /// An attempt is under way (or was, when its process stopped: it runs again on resume).
    Running,
    /// Done; its output is stored.
    Succeeded,
    /// Failed after its retries.
    Failed,
    /// Not run: its `when` condition came out `false`, a step it needs was skipped, or an
    /// earlier step failed.
    Skipped,
    /// Stopped by a cancellation.
    Cancelled,
}

impl StepStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    /// The status of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => StepStatus::Pending,
            "running" => StepStatus::Running,
            "succeeded" => StepStatus::Succeeded,
            "failed" => StepStatus::Failed,
            "skipped" => StepStatus::Skipped,
            "cancelled" => StepStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether the step will not change again.
    pub fn is_final(&self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }
}

/// Why a step (and so its run) failed: the stable code and message of its last error.
/// `step` is empty when the run failed before any step could run (`SP-WF-004`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepFailure {
    /// The step.
    pub step: String,
    /// The error's stable code, e.g. `SP-HUB-006`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepRun {
    /// The step's id.
    pub id: String,
    /// Where it is.
    pub status: StepStatus,
    /// Attempts started (an attempt interrupted by a crash counts, and is made again).
    pub attempts: u32,
    /// Attempts cut short by a stopped process (each is made again, up to
    /// `workflows.max_step_resumes` times).
    #[serde(default)]
    pub interruptions: u32,
    /// Its output, once succeeded.
    pub output: Option<Value>,
    /// Its last error.
    pub error: Option<StepFailure>,
    /// When its first attempt started.
    pub started_at: Option<Timestamp>,
    /// When it reached a final status.
    pub finished_at: Option<Timestamp>,
}

impl StepRun {
    /// A step that has not started.
    pub fn pending(id: impl Into<String>) -> Self {
        StepRun {
            id: id.into(),
            status: StepStatus::Pending,
            attempts: 0,
            interruptions: 0,
            output: None,
            error: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// A run of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    /// The run's id.
    pub id: Id,
    /// The tenant.
    pub namespace: Namespace,
    /// The workflow's name.
    pub workflow: String,
    /// The workflow version it runs.
    pub version: u32,
    /// Where it is.
    pub status: RunStatus,
    /// The input its steps read as `{{input…}}`.
    pub input: Value,
    /// Once succeeded: the outputs of its last steps (those no other step needs), by step id.
    pub output: Option<Value>,
    /// Once failed: the failing step's error.
    pub error: Option<StepFailure>,
    /// Every event of the run carries it (the starting request's id unless given).
    pub correlation_id: String,
    /// Its steps, in the order they run.
    pub steps: Vec<StepRun>,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it reached a final status.
    pub finished_at: Option<Timestamp>,
}

impl Run {
    /// The state of step `id`.
    pub fn step(&self, id: &str) -> Option<&StepRun> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// A run to start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    /// What the steps read as `{{input…}}` (a JSON object; default `{}`).
    #[serde(default)]
    pub input: Value,
    /// The correlation id its events carry (default: the request id, else the run id).
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// A run together with the definition it runs: what a process needs to drive or resume it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// The run.
    pub run: Run,
    /// The workflow's steps as they were when the run started, or why they no longer read
    /// (a row written by another version, or altered outside Story Portal): the driver then
    /// ends the run with `SP-WF-004` rather than taking it over again and again.
    pub definition: std::result::Result<Vec<Step>, String>,
}

/// A process's claim on the runs it drives: others leave them alone until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The process (unique per start).
    pub owner: String,
    /// When the claim lapses unless renewed.
    pub until: Timestamp,
}
