//! Models that join a running catalogue (pulled while the server runs).

use std::sync::{Arc, PoisonError};

use sp_core::Result;
use sp_core::catalogue::{CatalogueEntry, ModelEntry};
use sp_core::config::ModelConfig;

use super::ModelRuntime;
use super::runtime::{Shared, Slot};
use super::status::ModelStatus;

impl ModelRuntime {
    /// Adds `entry` (its unset settings from `model`) to the catalogue, unloaded; a name or
    /// alias already there is [`sp_core::Error::Conflict`].
    ///
    /// ```no_run
    /// # async fn demo(models: sp_llm::ModelRuntime) -> sp_core::Result<()> {
    /// use sp_core::catalogue::ModelEntry;
    ///
    /// let status = models.register(&ModelEntry::new("pulled", "/models/pulled.gguf"), &Default::default())?;
    /// assert_eq!(status.name, "pulled");
    /// # Ok(()) }
    /// ```
    pub fn register(&self, entry: &ModelEntry, model: &ModelConfig) -> Result<ModelStatus> {
        let resolved = CatalogueEntry::resolve(entry, model);
        // The header is read before either lock is taken.
        let slot = Arc::new(Slot::new(&resolved));
        let shared = self.shared();
        let mut catalogue = shared
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        catalogue.add(resolved)?;
        shared
            .slots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&slot));
        drop(catalogue);
        tracing::info!(model = %entry.name, "model added to the catalogue");
        Ok(Shared::status(&slot))
    }
}
