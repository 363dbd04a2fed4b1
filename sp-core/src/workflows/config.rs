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
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        WorkflowsConfig {
            lease_ms: 15_000,
            retry_backoff_ms: 500,
            max_running: 256,
        }
    }
}
