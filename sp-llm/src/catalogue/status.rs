//! What `/v1/models` and `sp models list` show of each catalogue entry.

use serde::Serialize;
use sp_core::catalogue::{KeepAlive, ModelKind};

use super::MemoryEstimate;

/// Whether a model is in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelState {
    /// In memory, serving.
    Loaded,
    /// Being read.
    Loading,
    /// Not in memory; the next request loads it.
    Unloaded,
}

/// One catalogue entry and its state.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    /// The name requests use.
    pub name: String,
    /// Other names that route to it.
    pub aliases: Vec<String>,
    /// What it is for.
    pub kind: ModelKind,
    /// In memory or not.
    pub state: ModelState,
    /// Never unloaded to make room.
    pub pinned: bool,
    /// How long it stays once idle.
    pub keep_alive: KeepAlive,
    /// One request's window, in tokens.
    pub context_length: u32,
    /// Bytes of its file.
    pub size_bytes: u64,
    /// What it takes once loaded, estimated; `None` when its header cannot be read.
    pub memory: Option<MemoryEstimate>,
    /// Why it cannot be loaded, when its header is unreadable.
    pub error: Option<String>,
    /// Requests holding it now.
    pub in_use: usize,
    /// Times it was loaded since the server started.
    pub loads: u64,
}
