//! What the runtime reports of each model's lifecycle.

use std::sync::Arc;

/// What happened to a model, for the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEvent {
    /// The catalogue name.
    pub model: String,
    /// What happened.
    pub kind: ModelEventKind,
}

/// A lifecycle step.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEventKind {
    /// Loaded in this many seconds, taking about this much memory.
    Loaded {
        /// Seconds the load took.
        seconds: f64,
        /// Its estimated resident bytes.
        bytes: u64,
    },
    /// Unloaded: `keep_alive`, `evicted` (to make room for another), or `request` (by hand).
    Unloaded {
        /// Why.
        reason: &'static str,
    },
    /// A load failed; the model stays unloaded and every other model keeps serving.
    LoadFailed {
        /// The error.
        reason: String,
    },
}

/// Receives lifecycle events (the server writes them to the event log).
pub type ModelObserver = Arc<dyn Fn(ModelEvent) + Send + Sync>;
