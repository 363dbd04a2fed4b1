//! A request's hold on a loaded model: while any lease is alive the model is busy (never
//! evicted); the last one to end starts its keep-alive.

use std::sync::Arc;

use sp_core::catalogue::{KeepAlive, ModelKind};
use sp_core::{Error, Result};

use super::Loaded;
use super::runtime::{Shared, Slot};
use crate::{EmbeddingModel, Engine};

/// A loaded model held for one request. Dropping it ends the hold.
pub struct ModelLease {
    pub(super) shared: Arc<Shared>,
    pub(super) slot: Arc<Slot>,
    pub(super) model: Loaded,
    pub(super) keep_alive: Option<KeepAlive>,
}

impl std::fmt::Debug for ModelLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelLease")
            .field("model", &self.name())
            .finish_non_exhaustive()
    }
}

impl ModelLease {
    /// The catalogue name of the model.
    pub fn name(&self) -> &str {
        &self.slot.entry.name
    }

    /// What the model is for.
    pub fn kind(&self) -> ModelKind {
        self.slot.entry.kind
    }

    /// The chat engine; an embedding model is refused (`model` names the wrong kind).
    pub fn engine(&self) -> Result<&Engine> {
        match &self.model {
            Loaded::Chat(engine) => Ok(engine),
            Loaded::Embedding(_) => Err(wrong_kind(self.name(), "an embedding model", "chat")),
        }
    }

    /// The embedding worker; a chat model is refused.
    pub fn embedder(&self) -> Result<&EmbeddingModel> {
        match &self.model {
            Loaded::Embedding(embedder) => Ok(embedder),
            Loaded::Chat(_) => Err(wrong_kind(self.name(), "a chat model", "embeddings")),
        }
    }
}

fn wrong_kind(name: &str, is: &str, wanted: &str) -> Error {
    Error::invalid_input(
        "model",
        format!("`{name}` is {is}; it does not serve {wanted}"),
    )
}

impl Drop for ModelLease {
    fn drop(&mut self) {
        self.shared.release(&self.slot, self.keep_alive);
    }
}
