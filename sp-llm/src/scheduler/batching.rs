//! The scheduler: one decode loop batching every slot's tokens, with prompt-cache copies between slots.

use std::sync::mpsc::{Receiver, TryRecvError};

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use sp_core::Error;
use sp_core::chat::FinishReason;

use llama_cpp_2::context::session::SeqState;

use super::Job;
use super::prefix_cache::PrefixCache;
use super::slot::{Active, Slot};
use crate::threadpool::PooledContext;

/// The scheduler state; lives on the worker thread with the context.
pub(crate) struct Scheduler<'m> {
    model: &'m LlamaModel,
    pub(super) ctx: PooledContext<'m>,
    pub(super) slots: Vec<Slot>,
    /// Prefixes of slots given to other prompts, kept in host RAM.
    pub(super) prefix_cache: PrefixCache<SeqState>,
    /// Slots' states kept on disk after their requests, when configured.
    pub(super) disk: Option<super::DiskKv>,
    pub(super) counters: std::sync::Arc<crate::stats::Counters>,
    /// Owners deleted since the last admission (see `forget`).
    pub(super) forgets: super::forget::Forgets,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    step: u64,
    /// Rotates which prefilling slot goes first, so long prompts share the batch fairly.
    prefill_turn: usize,
}

impl<'m> Scheduler<'m> {
    pub(crate) fn new(
        model: &'m LlamaModel,
        ctx: PooledContext<'m>,
        slots: u32,
        batch_size: u32,
        prefix_cache_bytes: usize,
    ) -> Self {
        let batch_size = batch_size as usize;
        Scheduler {
            model,
            ctx,
            slots: (0..slots).map(|s| Slot::new(s as i32)).collect(),
            prefix_cache: PrefixCache::new(prefix_cache_bytes),
            disk: None,
            counters: std::sync::Arc::default(),
            forgets: super::forget::Forgets::default(),
            batch: LlamaBatch::new(batch_size, 1),
            batch_size,
            step: 0,
            prefill_turn: 0,
        }
    }

    /// Keeps slots' states on `disk` after their requests (and reports to `counters`).
    pub(crate) fn with_disk(
        mut self,
        disk: Option<super::DiskKv>,
        counters: std::sync::Arc<crate::stats::Counters>,
    ) -> Self {
        self.disk = disk;
        self.counters = counters;
        self
    }

    /// Takes the owners to forget from `forgets` (see `forget`).
    pub(crate) fn with_forgets(mut self, forgets: super::forget::Forgets) -> Self {
        self.forgets = forgets;
        self
    }

    /// Serves jobs until every sender is gone and no slot is busy.
    pub(crate) fn run(mut self, jobs: Receiver<Job>) {
        let mut open = true;
        loop {
            open = open && self.admit(&jobs);
            self.drop_cancelled();
            if self.slots.iter().all(|s| s.active.is_none()) {
                if !open {
                    return;
                }
                // Idle: block until work arrives.
                match jobs.recv() {
                    Ok(job) => self.start(job),
                    Err(_) => return,
                }
                continue;
            }
            self.step();
        }
    }

    /// Moves waiting jobs into free slots; false once the channel is closed.
    fn admit(&mut self, jobs: &Receiver<Job>) -> bool {
        while self.slots.iter().any(|s| s.active.is_none()) {
            match jobs.try_recv() {
                Ok(job) => self.start(job),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        true
    }

    /// Puts `job` in the free slot whose cache shares the longest prefix with its prompt
    /// (the least recently used among equals; only a cache of the job's scope counts), and
    /// trims that cache to the shared prefix. What the slot held beyond it is kept in the RAM
    /// prefix cache first. When another slot — busy or not — or the RAM cache holds a longer
    /// prefix, it is copied or restored over first: `n` choices and requests that share a long
    /// system prompt compute it once, and a conversation whose slot went to another comes back
    /// without a second prefill.
    fn start(&mut self, job: Job) {
        self.apply_forgets();
        job.ticket.started();
        let Some(index) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.active.is_none())
            .max_by_key(|(_, s)| (s.shared_with(&job), std::cmp::Reverse(s.last_used)))
            .map(|(i, _)| i)
        else {
            return;
        };
        self.save_before_reuse(index, &job);
        self.copy_longer_prefix(index, &job);
        self.restore_longer_prefix(index, &job);
        self.restore_from_disk(index, &job);
        // At least the last prompt token is evaluated again: its logits choose the first token.
        let mut keep = self.slots[index].shared_with(&job);
        keep = keep.min(job.prompt.len().saturating_sub(1));
        self.slots[index].scope = job.scope.clone();
        self.slots[index].owner = job.owner.clone();
        let seq = self.slots[index].seq;
        let pos = u32::try_from(keep).unwrap_or(u32::MAX);
        if !matches!(
            self.ctx
                .clear_kv_cache_seq(Some(seq as u32), Some(pos), None),
            Ok(true)
        ) {
            // A cache that cannot be trimmed is dropped whole.
            let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
            keep = 0;
        }
        let slot = &mut self.slots[index];
        slot.cached.truncate(keep);
        slot.last_used = self.step;
        slot.active = Some(Active {
            job,
            prompt_done: keep,
            next_input: None,
            logits_index: None,
            draft: Vec::new(),
            generated: 0,
            cached_tokens: u32::try_from(keep).unwrap_or(u32::MAX),
            unsent: String::new(),
            unsent_logprobs: Vec::new(),
        });
    }

    fn drop_cancelled(&mut self) {
        for slot in &mut self.slots {
            if slot
                .active
                .as_ref()
                .is_some_and(|a| a.job.events.is_closed())
                && let Some(active) = slot.active.take()
            {
                active.finish(FinishReason::Cancelled);
            }
        }
    }

    /// One decode step over every busy slot.
    fn step(&mut self) {
        self.step += 1;
        self.batch.clear();
        let mut budget = self.batch_size;

        // Generating slots first: one token each keeps every stream moving.
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            active.logits_index = None;
            let Some(token) = active.next_input.take() else {
                continue;
            };
            if budget == 0 {
                active.next_input = Some(token);
                continue;
            }
            let pos = slot.cached.len() as i32;
            let index = self.batch.n_tokens();
            if self.batch.add(token, pos, &[slot.seq], true).is_err() {
                active.next_input = Some(token);
                continue;
            }
            slot.cached.push(token);
            active.logits_index = Some(index);
            budget -= 1;
            if active.job.speculate {
                // Each guess the model accepts is one more token generated: no more guesses
                // than tokens it may still generate after this one.
                let room = active.job.max_tokens.saturating_sub(active.generated + 1) as usize;
                let guesses = super::speculate::lookup(
                    &slot.cached,
                    super::speculate::MAX_DRAFT.min(room).min(budget),
                );
                for guess in guesses {
                    let pos = slot.cached.len() as i32;
                    if self.batch.add(guess, pos, &[slot.seq], true).is_err() {
                        break;
                    }
                    slot.cached.push(guess);
                    active.draft.push(guess);
                    budget -= 1;
                }
            }
        }

        // Then prompt chunks, taking turns at who goes first.
        let n = self.slots.len();
        self.prefill_turn = (self.prefill_turn + 1) % n;
        for offset in 0..n {
            if budget == 0 {
                break;
            }
            let slot = &mut self.slots[(self.prefill_turn + offset) % n];
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            if !active.prefilling() {
                continue;
            }
            let remaining = active.job.prompt.len() - active.prompt_done;
            let take = remaining.min(budget);
            for i in 0..take {
                let token = active.job.prompt[active.prompt_done + i];
                let last = active.prompt_done + i + 1 == active.job.prompt.len();
                let pos = slot.cached.len() as i32;
                let index = self.batch.n_tokens();
                if self.batch.add(token, pos, &[slot.seq], last).is_err() {
                    break;
                }
                slot.cached.push(token);
                if last {
                    active.logits_index = Some(index);
                }
            }
            active.prompt_done += take;
            budget -= take;
        }

        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(err) = self.ctx.decode(&mut self.batch) {
            self.fail_all(&format!("decode failed: {err}"));
            return;
        }
        self.sample_all();
    }

    fn sample_all(&mut self) {
        let vocab = self.model.vocab();
        let mut finished = Vec::new();
        for (at, slot) in self.slots.iter_mut().enumerate() {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let Some(index) = active.logits_index.take() else {
                continue;
            };
            if !active.draft.is_empty() {
                // Greedy and unshaped (only such requests speculate): each position's pick is
                // the token the model would have generated there one step at a time.
                let draft = std::mem::take(&mut active.draft);
                let base = slot.cached.len() - draft.len();
                let (mut accepted, mut ended, mut at_logits) = (0, None, index);
                loop {
                    let token = active.job.picker.pick(&self.ctx, at_logits);
                    if let Some(reason) = emit(active, token, None, &vocab) {
                        ended = Some(reason);
                        break;
                    }
                    if draft.get(accepted) == Some(&token) {
                        accepted += 1;
                        at_logits += 1;
                        continue;
                    }
                    active.next_input = Some(token);
                    break;
                }
                self.counters.drafts(draft.len(), accepted);
                // The guesses after the accepted ones are not part of the sequence.
                let keep = base + accepted;
                let seq = slot.seq as u32;
                let pos = u32::try_from(keep).unwrap_or(u32::MAX);
                if !matches!(
                    self.ctx.clear_kv_cache_seq(Some(seq), Some(pos), None),
                    Ok(true)
                ) {
                    let _ = self.ctx.clear_kv_cache_seq(Some(seq), None, None);
                    slot.cached.clear();
                }
                slot.cached.truncate(keep);
                if let Some(reason) = ended {
                    finish_slot(slot, reason);
                    finished.push(at);
                }
                continue;
            }
            let (token, logprob) = match active.job.shaping.as_mut() {
                None => (active.job.picker.pick(&self.ctx, index), None),
                Some(shaping) => {
                    match shaping.pick(&mut active.job.picker, &self.ctx, index, self.model) {
                        Ok(picked) => picked,
                        Err(reason) => {
                            fail_slot(slot, &reason);
                            continue;
                        }
                    }
                }
            };
            match emit(active, token, logprob, &vocab) {
                Some(reason) => {
                    finish_slot(slot, reason);
                    finished.push(at);
                }
                None => active.next_input = Some(token),
            }
        }
        for at in finished {
            self.save_to_disk(at);
        }
    }

    /// A failed decode leaves the caches of this batch unknown: drop them and fail the jobs.
    fn fail_all(&mut self, reason: &str) {
        tracing::error!(reason, "llama.cpp decode failed");
        for slot in &mut self.slots {
            if let Some(active) = slot.active.take() {
                let _ = active
                    .job
                    .events
                    .send(Err(Error::Inference(reason.to_owned())));
            }
            slot.cached.clear();
            let _ = self
                .ctx
                .clear_kv_cache_seq(Some(slot.seq as u32), None, None);
        }
    }
}

/// Ends one request with an error (its grammar cannot go on); its cache stays valid.
fn fail_slot(slot: &mut Slot, reason: &str) {
    if let Some(active) = slot.active.take() {
        let _ = active
            .job
            .events
            .send(Err(Error::Inference(reason.to_owned())));
    }
}

fn finish_slot(slot: &mut Slot, reason: FinishReason) {
    if let Some(active) = slot.active.take() {
        active.finish(reason);
    }
}

/// Hands `token` (with its log-probability, when asked for) to the request; why the request
/// ends with it, if it does.
fn emit(
    active: &mut Active,
    token: llama_cpp_2::token::LlamaToken,
    logprob: Option<sp_core::chat::TokenLogprob>,
    vocab: &llama_cpp_2::vocab::LlamaVocab<'_>,
) -> Option<FinishReason> {
    if active.generated == 0
        && let Some(prefilled) = active.job.prefilled.take()
    {
        let _ = prefilled.send(());
    }
    active.generated += 1;
    if !active.job.ignore_eos && vocab.is_eog(token) {
        return Some(FinishReason::Stop);
    }
    // The end-of-turn token has no text, and so no log-probability entry.
    active.unsent_logprobs.extend(logprob);
    let piece = vocab.token_to_piece(token, false, None);
    let decoded = active.job.decoder.push(&piece);
    if !decoded.text.is_empty() {
        active.deliver(decoded.text);
    }
    if decoded.stopped {
        Some(FinishReason::StopSequence)
    } else if active.generated >= active.job.max_tokens {
        Some(FinishReason::Length)
    } else {
        None
    }
}
