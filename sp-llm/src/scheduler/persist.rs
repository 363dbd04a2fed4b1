//! A slot's KV state to and from disk: saved after each request that leaves a long enough
//! prefix in its slot, restored when a request of the same cache scope shares more of it than
//! any slot or the RAM prefix cache holds. See `kv_disk`.
// The crate's safe `SeqState` cannot leave the process (its bytes are sealed), so states go
// to and from disk through llama.cpp's raw sequence-state calls; each use says why it holds.
#![allow(unsafe_code)]

use llama_cpp_2::context::session::LlamaStateSeqFlags;

use super::Job;
use super::batching::Scheduler;

/// Fewest cached tokens worth a file: shorter prompts prefill about as fast as a file is
/// read and restored.
const MIN_PERSIST: usize = 64;

/// Fewest prefill tokens a restore from disk must save.
const MIN_DISK_GAIN: usize = 32;

impl Scheduler<'_> {
    /// Saves slot `index`'s state (its request just ended) unless the disk already has it.
    pub(super) fn save_to_disk(&mut self, index: usize) {
        let Some(disk) = &self.disk else {
            return;
        };
        let slot = &self.slots[index];
        if slot.cached.len() < MIN_PERSIST || disk.covers(&slot.scope, &slot.cached) {
            return;
        }
        let flags = LlamaStateSeqFlags::empty();
        let size = self.ctx.state_seq_get_size_ext(slot.seq, flags);
        let mut state = vec![0u8; size];
        // SAFETY: `state` holds the `size` bytes llama.cpp just said the sequence needs.
        let written = unsafe {
            self.ctx
                .state_seq_get_data_ext(state.as_mut_ptr(), slot.seq, flags)
        };
        if written != size {
            tracing::warn!(
                size,
                written,
                "a slot's state was not copied whole; not saved"
            );
            return;
        }
        disk.save(
            slot.scope.clone(),
            slot.owner.clone(),
            slot.cached.clone(),
            state,
        );
    }

    /// Restores into slot `index` the state on disk of `job`'s scope that shares the longest
    /// prefix with its prompt, when that saves at least [`MIN_DISK_GAIN`] tokens over what
    /// the slot holds (after any copy or RAM restore).
    pub(super) fn restore_from_disk(&mut self, index: usize, job: &Job) {
        let Some(disk) = &self.disk else {
            return;
        };
        let own = self.slots[index].shared_with(job);
        if own + MIN_DISK_GAIN >= job.prompt.len() {
            return;
        }
        let found = disk.best(&job.scope, &job.prompt, own + MIN_DISK_GAIN - 1);
        // A file that failed its checks was removed.
        let (bytes, files) = disk.held();
        self.counters.disk_held(bytes, files);
        let Some((shared, loaded)) = found else {
            return;
        };
        let seq = self.slots[index].seq;
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
        // SAFETY: the bytes are llama.cpp's own state of this model, checked against their
        // SHA-256 and the model's fingerprint before they are handed back (see `kv_disk`).
        let restored = unsafe {
            self.ctx
                .state_seq_set_data_ext(&loaded.state, seq, LlamaStateSeqFlags::empty())
        };
        let slot = &mut self.slots[index];
        if restored {
            slot.cached = loaded.tokens;
            slot.scope = job.scope.clone();
            self.counters
                .disk_hit(shared.min(job.prompt.len().saturating_sub(1)));
        } else {
            tracing::warn!("a KV state from disk could not be restored; prefilling instead");
            let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            slot.cached.clear();
        }
    }
}
