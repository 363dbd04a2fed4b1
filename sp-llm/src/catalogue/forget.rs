//! Deleting an owner's KV state files across the catalogue: the loaded engines drop theirs
//! (and a save still in flight), and the files of models not loaded are deleted from their
//! directories, so a deleted context leaves nothing on disk whichever model served it.

use std::collections::BTreeSet;

use super::Loaded;
use super::runtime::{ModelRuntime, lock};

impl ModelRuntime {
    /// Deletes the KV state files of `owner` (a context) in `scope` (its tenant) for every
    /// model of the catalogue; how many. A directory that cannot be read is skipped with a
    /// warning (its files age out by the size bound).
    ///
    /// ```no_run
    /// # async fn run(models: sp_llm::ModelRuntime) {
    /// let deleted = models.forget_cached("acme", "0190a5f2-7c1e-7d3a-9b1a-3c5d7e9f1a2b");
    /// # }
    /// ```
    pub fn forget_cached(&self, scope: &str, owner: &str) -> usize {
        let mut deleted = 0;
        let mut dirs = BTreeSet::new();
        for slot in self.shared().slots() {
            if let Some(dir) = &slot.entry.kv_state_dir {
                dirs.insert(dir.clone());
            }
            if let Some(Loaded::Chat(engine)) = &lock(&slot.state).loaded {
                deleted += engine.forget_cached(scope, owner);
            }
        }
        for dir in dirs {
            match crate::forget_kv_files(&dir, scope, owner) {
                Ok(files) => deleted += files,
                Err(err) => tracing::warn!(%err, dir = %dir.display(),
                    "KV state files of a deleted context could not all be deleted"),
            }
        }
        deleted
    }
}
