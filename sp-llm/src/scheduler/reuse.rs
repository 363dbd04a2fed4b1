//! Reusing computed prompt prefixes when a request takes a slot: copied from another slot,
//! restored from the RAM prefix cache, and saved there before a slot's cache is overwritten.
//! Only caches of the request's own scope are ever reused.

use llama_cpp_2::context::session::LlamaStateSeqFlags;

use super::Job;
use super::batching::Scheduler;

/// Fewest prefill tokens a copy between slots or a restore from RAM must save: llama.cpp
/// copies a sequence's whole buffer (a memory copy, milliseconds), so short gains are cheaper
/// to recompute.
const MIN_COPY_GAIN: usize = 16;

/// Fewest cached tokens a slot must be about to lose for them to be saved to RAM.
const MIN_SAVE: usize = 32;

impl Scheduler<'_> {
    /// Keeps in the RAM prefix cache what slot `index` holds beyond the prefix `job` shares
    /// with it, before the job overwrites it — unless the cache or another slot of the same
    /// scope already holds it.
    pub(super) fn save_before_reuse(&mut self, index: usize, job: &Job) {
        if !self.prefix_cache.enabled() {
            return;
        }
        let slot = &self.slots[index];
        if slot.cached.len() < slot.shared_with(job) + MIN_SAVE {
            return;
        }
        let held_elsewhere = self.slots.iter().enumerate().any(|(i, other)| {
            i != index && other.scope == slot.scope && other.cached.starts_with(&slot.cached)
        });
        if held_elsewhere || self.prefix_cache.covers(&slot.scope, &slot.cached) {
            return;
        }
        match self
            .ctx
            .state_seq_get(slot.seq, LlamaStateSeqFlags::empty())
        {
            Ok(state) => {
                let (scope, owner) = (slot.scope.clone(), slot.owner.clone());
                self.prefix_cache
                    .insert(scope, owner, slot.cached.clone(), state);
                job.ticket
                    .prefix_cache_held(self.prefix_cache.bytes(), self.prefix_cache.len());
            }
            Err(err) => tracing::warn!(%err, "a slot's prefix could not be saved to RAM"),
        }
    }

    /// Copies the cache of the slot of `job`'s scope sharing the longest prefix with its
    /// prompt into slot `index`, when that saves at least [`MIN_COPY_GAIN`] tokens.
    pub(super) fn copy_longer_prefix(&mut self, index: usize, job: &Job) {
        let own = self.slots[index].shared_with(job);
        let Some((donor, shared)) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(i, s)| (i, s.shared_with(job)))
            .max_by_key(|(_, shared)| *shared)
        else {
            return;
        };
        if shared < own + MIN_COPY_GAIN {
            return;
        }
        let (src, dst) = (self.slots[donor].seq, self.slots[index].seq);
        if self.ctx.copy_kv_cache_seq(src, dst, None, None).is_err() {
            // Nothing was copied: the slot keeps (and trims) its own cache.
            return;
        }
        let cached = self.slots[donor].cached.clone();
        let slot = &mut self.slots[index];
        slot.cached = cached;
        slot.scope = job.scope.clone();
    }

    /// Restores into slot `index` the RAM prefix cache's entry of `job`'s scope sharing the
    /// longest prefix with its prompt, when that saves at least [`MIN_COPY_GAIN`] tokens over
    /// what the slot holds. Counted as a hit or a miss when there was a prefill to save.
    pub(super) fn restore_longer_prefix(&mut self, index: usize, job: &Job) {
        if !self.prefix_cache.enabled() {
            return;
        }
        let own = self.slots[index].shared_with(job);
        if own + MIN_COPY_GAIN >= job.prompt.len() {
            return;
        }
        let seq = self.slots[index].seq;
        let Some((shared, entry)) =
            self.prefix_cache
                .best(&job.scope, &job.prompt, own + MIN_COPY_GAIN - 1)
        else {
            job.ticket.prefix_lookup(None);
            return;
        };
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        let restored = self.ctx.state_seq_set(&entry.state, seq);
        let slot = &mut self.slots[index];
        match restored {
            Ok(()) => {
                slot.cached = entry.tokens.clone();
                slot.scope = job.scope.clone();
                // The last prompt token is evaluated again (its logits pick the first token).
                let used = shared.min(job.prompt.len().saturating_sub(1));
                job.ticket.prefix_lookup(Some(used));
            }
            Err(err) => {
                // A partial restore leaves the sequence unknown: it starts empty.
                tracing::warn!(%err, "a RAM prefix could not be restored; prefilling instead");
                let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                slot.cached.clear();
                job.ticket.prefix_lookup(None);
            }
        }
    }
}
