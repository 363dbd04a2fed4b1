//! What the engine has done and is doing, for metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use sp_core::chat::Usage;

/// A snapshot of an engine's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Requests queued for a slot.
    pub waiting: usize,
    /// Requests in a slot (prefilling or generating).
    pub active: usize,
    /// Requests finished (whole, stopped or cancelled).
    pub finished: u64,
    /// Prompt tokens of finished requests.
    pub prompt_tokens: u64,
    /// Of those, served from the prefix cache.
    pub cached_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Requests whose prompt prefix was restored from the RAM prefix cache.
    pub prefix_cache_hits: u64,
    /// Requests with a prefill to save that the RAM prefix cache had nothing for.
    pub prefix_cache_misses: u64,
    /// Prompt tokens restored from the RAM prefix cache instead of prefilled.
    pub prefix_cache_restored_tokens: u64,
    /// Bytes the RAM prefix cache holds.
    pub prefix_cache_bytes: u64,
    /// Prefixes the RAM prefix cache holds.
    pub prefix_cache_entries: u64,
    /// Requests whose prompt prefix was restored from KV state on disk.
    pub kv_disk_hits: u64,
    /// Prompt tokens restored from disk instead of prefilled.
    pub kv_disk_restored_tokens: u64,
    /// Bytes of KV state on disk.
    pub kv_disk_bytes: u64,
    /// KV state files on disk.
    pub kv_disk_files: u64,
    /// Prompt-lookup guesses fed to the model.
    pub draft_tokens: u64,
    /// Of those, the ones the model agreed with (tokens generated without a step of their own).
    pub draft_accepted: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    waiting: AtomicUsize,
    active: AtomicUsize,
    finished: AtomicU64,
    prompt_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    prefix_cache_hits: AtomicU64,
    prefix_cache_misses: AtomicU64,
    prefix_cache_restored_tokens: AtomicU64,
    prefix_cache_bytes: AtomicU64,
    prefix_cache_entries: AtomicU64,
    kv_disk_hits: AtomicU64,
    kv_disk_restored_tokens: AtomicU64,
    kv_disk_bytes: AtomicU64,
    kv_disk_files: AtomicU64,
    draft_tokens: AtomicU64,
    draft_accepted: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> EngineStats {
        EngineStats {
            waiting: self.waiting.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            cached_tokens: self.cached_tokens.load(Ordering::Relaxed),
            generated_tokens: self.generated_tokens.load(Ordering::Relaxed),
            prefix_cache_hits: self.prefix_cache_hits.load(Ordering::Relaxed),
            prefix_cache_misses: self.prefix_cache_misses.load(Ordering::Relaxed),
            prefix_cache_restored_tokens: self.prefix_cache_restored_tokens.load(Ordering::Relaxed),
            prefix_cache_bytes: self.prefix_cache_bytes.load(Ordering::Relaxed),
            prefix_cache_entries: self.prefix_cache_entries.load(Ordering::Relaxed),
            kv_disk_hits: self.kv_disk_hits.load(Ordering::Relaxed),
            kv_disk_restored_tokens: self.kv_disk_restored_tokens.load(Ordering::Relaxed),
            kv_disk_bytes: self.kv_disk_bytes.load(Ordering::Relaxed),
            kv_disk_files: self.kv_disk_files.load(Ordering::Relaxed),
            draft_tokens: self.draft_tokens.load(Ordering::Relaxed),
            draft_accepted: self.draft_accepted.load(Ordering::Relaxed),
        }
    }

    /// `drafted` guesses were checked and `accepted` of them taken.
    pub(crate) fn drafts(&self, drafted: usize, accepted: usize) {
        self.draft_tokens
            .fetch_add(drafted as u64, Ordering::Relaxed);
        self.draft_accepted
            .fetch_add(accepted as u64, Ordering::Relaxed);
    }

    /// `tokens` of a prompt were restored from disk.
    pub(crate) fn disk_hit(&self, tokens: usize) {
        self.kv_disk_hits.fetch_add(1, Ordering::Relaxed);
        self.kv_disk_restored_tokens
            .fetch_add(tokens as u64, Ordering::Relaxed);
    }

    /// What the disk holds now.
    pub(crate) fn disk_held(&self, bytes: u64, files: usize) {
        self.kv_disk_bytes.store(bytes, Ordering::Relaxed);
        self.kv_disk_files.store(files as u64, Ordering::Relaxed);
    }
}

/// Travels with a job: counts it as waiting, then active, and un-counts it when dropped,
/// however the job ends.
#[derive(Debug)]
pub(crate) struct Ticket {
    counters: Arc<Counters>,
    started: AtomicBool,
}

impl Ticket {
    /// A job accepted into the queue.
    pub(crate) fn queued(counters: &Arc<Counters>) -> Self {
        counters.waiting.fetch_add(1, Ordering::Relaxed);
        Ticket {
            counters: Arc::clone(counters),
            started: AtomicBool::new(false),
        }
    }

    /// The job got a slot.
    pub(crate) fn started(&self) {
        if !self.started.swap(true, Ordering::Relaxed) {
            self.counters.waiting.fetch_sub(1, Ordering::Relaxed);
            self.counters.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Its prompt's first `tokens` were restored from the RAM prefix cache, or (`None`) the
    /// cache had nothing for it.
    pub(crate) fn prefix_lookup(&self, tokens: Option<usize>) {
        let c = &self.counters;
        match tokens {
            Some(tokens) => {
                c.prefix_cache_hits.fetch_add(1, Ordering::Relaxed);
                c.prefix_cache_restored_tokens
                    .fetch_add(tokens as u64, Ordering::Relaxed);
            }
            None => {
                c.prefix_cache_misses.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// What the RAM prefix cache holds now.
    pub(crate) fn prefix_cache_held(&self, bytes: usize, entries: usize) {
        let c = &self.counters;
        c.prefix_cache_bytes.store(bytes as u64, Ordering::Relaxed);
        c.prefix_cache_entries
            .store(entries as u64, Ordering::Relaxed);
    }

    /// The job ended with `usage`.
    pub(crate) fn finished(&self, usage: &Usage) {
        let c = &self.counters;
        c.finished.fetch_add(1, Ordering::Relaxed);
        c.prompt_tokens
            .fetch_add(u64::from(usage.prompt_tokens), Ordering::Relaxed);
        c.cached_tokens
            .fetch_add(u64::from(usage.cached_tokens), Ordering::Relaxed);
        c.generated_tokens
            .fetch_add(u64::from(usage.completion_tokens), Ordering::Relaxed);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let gauge = if self.started.load(Ordering::Relaxed) {
            &self.counters.active
        } else {
            &self.counters.waiting
        };
        gauge.fetch_sub(1, Ordering::Relaxed);
    }
}
