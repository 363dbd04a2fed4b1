//! Forgetting a deleted owner's state in the worker: its RAM prefix cache entries and the
//! idle slots that hold its prompt. The engine queues the request; the worker applies it
//! before it admits the next job, so no later request is served from it.

use std::sync::{Arc, Mutex};

use super::batching::Scheduler;

/// A deleted owner: (scope, owner).
type Forgotten = (Arc<str>, Arc<str>);

/// Owners to forget, queued by the engine for its worker.
#[derive(Clone, Default)]
pub(crate) struct Forgets(Arc<Mutex<Vec<Forgotten>>>);

impl Forgets {
    pub(crate) fn push(&self, scope: &str, owner: &str) {
        self.lock().push((scope.into(), owner.into()));
    }

    fn take(&self) -> Vec<Forgotten> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Forgotten>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Scheduler<'_> {
    /// Drops what RAM and the idle slots hold of the owners forgotten since the last call.
    /// A slot still serving the owner keeps its cache (its request is in flight).
    pub(super) fn apply_forgets(&mut self) {
        for (scope, owner) in self.forgets.take() {
            self.prefix_cache.forget(&scope, &owner);
            for slot in &mut self.slots {
                if slot.active.is_none()
                    && slot.scope == scope
                    && slot.owner.as_deref() == Some(&*owner)
                {
                    let _ = self
                        .ctx
                        .clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                    slot.cached.clear();
                    slot.owner = None;
                }
            }
        }
    }
}
