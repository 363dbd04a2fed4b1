//! The workflow engine's knobs (`[workflows]` in the configuration).

use serde::{Deserialize, Serialize};

/// How runs are leased, resumed and retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowsConfig {
    /// How long a process's claim on its runs lasts without renewal (it renews every third
    /// of this). A run whose process stopped is resumed by a live process (the restarted
    /// one or another on the same database) within about this long.
    pub lease_ms: u64,
    /// Wait before a step's first retry; it doubles for each further one (at most 30 s).
    pub retry_backoff_ms: u64,
    /// Runs one process drives at a time; lapsed runs beyond it wait for a free place.
    pub max_running: u32,
    /// The most bytes one step's inputs may take once their `{{…}}` references are filled
    /// in (each filled value counted as its JSON); beyond it the step fails with
    /// `SP-WF-005` before anything is allocated for it.
    pub max_rendered_bytes: usize,
    /// How often a step whose attempt was cut short by a stopped process is made again.
    /// Once more than that, the run fails with `SP-WF-006` instead of being resumed: a
    /// step that kills its process would otherwise kill every process that resumes it.
    /// A planned stop (`hand_back`) cuts a step short too, and counts.
    pub max_step_resumes: u32,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        WorkflowsConfig {
            lease_ms: 15_000,
            retry_backoff_ms: 500,
            max_running: 256,
            max_rendered_bytes: 2 * 1024 * 1024,
            max_step_resumes: 3,
        }
    }
}
