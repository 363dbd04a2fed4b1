//! Packing texts into embedding decodes: which texts go together.
//!
//! llama.cpp embeds several sequences in one decode (each its own `seq_id`, pooled on its
//! own), so the worker packs many short texts into one call instead of one call per text.
//! The encoder sees the whole micro-batch at once and its attention mask spans every token
//! of it, so a decode is cheapest when its texts are of similar length: the queue is sorted
//! by length and filled greedily from the shortest.

use std::collections::VecDeque;

/// How much one decode may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchLimits {
    /// Tokens in one decode: the embedding window (llama.cpp asserts, and aborts the
    /// process, when an encoder's batch outgrows its micro-batch).
    pub tokens: usize,
    /// Sequences in one decode (llama.cpp's `n_seq_max`, at most 256).
    pub sequences: usize,
}

/// One text waiting to be embedded: which job, which of its texts, how many tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    pub job: usize,
    pub text: usize,
    pub tokens: usize,
}

/// The texts of one round, shortest first.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    waiting: VecDeque<Pending>,
}

impl Queue {
    /// Queues every text of a round, sorted by length (ties keep arrival order, so one
    /// request's equal-length texts stay together).
    pub fn new(mut texts: Vec<Pending>) -> Self {
        texts.sort_by_key(|pending| pending.tokens);
        Queue {
            waiting: texts.into(),
        }
    }

    /// The next decode's texts: from the shortest waiting, as many as the limits allow.
    /// Texts whose job `is_live` says is gone (its requester left, or an earlier decode of
    /// it failed) are dropped, not embedded. Empty when nothing live is left.
    pub fn next_batch(
        &mut self,
        limits: BatchLimits,
        mut is_live: impl FnMut(usize) -> bool,
    ) -> Vec<Pending> {
        let mut batch = Vec::new();
        let mut tokens = 0;
        while let Some(next) = self.waiting.front().copied() {
            if !is_live(next.job) {
                self.waiting.pop_front();
                continue;
            }
            let fits = batch.len() < limits.sequences && tokens + next.tokens <= limits.tokens;
            // A text is never longer than the window (refused before it is queued), so an
            // empty batch always takes the next one.
            if !fits && !batch.is_empty() {
                break;
            }
            tokens += next.tokens;
            batch.push(next);
            self.waiting.pop_front();
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::{BatchLimits, Pending, Queue};

    fn pending(job: usize, text: usize, tokens: usize) -> Pending {
        Pending { job, text, tokens }
    }

    fn drain(queue: &mut Queue, limits: BatchLimits) -> Vec<Vec<(usize, usize)>> {
        let mut batches = Vec::new();
        loop {
            let batch = queue.next_batch(limits, |_| true);
            if batch.is_empty() {
                return batches;
            }
            batches.push(batch.iter().map(|p| (p.job, p.text)).collect());
        }
    }

    #[test]
    fn texts_of_several_jobs_share_decodes_shortest_first() {
        let mut queue = Queue::new(vec![
            pending(0, 0, 300),
            pending(0, 1, 10),
            pending(1, 0, 20),
            pending(1, 1, 200),
            pending(2, 0, 10),
        ]);
        let limits = BatchLimits {
            tokens: 512,
            sequences: 64,
        };
        assert_eq!(
            drain(&mut queue, limits),
            vec![vec![(0, 1), (2, 0), (1, 0), (1, 1)], vec![(0, 0)]]
        );
    }

    #[test]
    fn the_sequence_limit_splits_decodes() {
        let texts = (0..5).map(|i| pending(0, i, 4)).collect();
        let mut queue = Queue::new(texts);
        let limits = BatchLimits {
            tokens: 512,
            sequences: 2,
        };
        let sizes: Vec<usize> = drain(&mut queue, limits).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn a_text_as_long_as_the_window_goes_alone() {
        let mut queue = Queue::new(vec![pending(0, 0, 512), pending(0, 1, 1)]);
        let limits = BatchLimits {
            tokens: 512,
            sequences: 64,
        };
        assert_eq!(drain(&mut queue, limits), vec![vec![(0, 1)], vec![(0, 0)]]);
    }

    #[test]
    fn texts_of_a_gone_job_are_dropped() {
        let mut queue = Queue::new(vec![pending(0, 0, 5), pending(1, 0, 6), pending(0, 1, 7)]);
        let limits = BatchLimits {
            tokens: 512,
            sequences: 64,
        };
        let batch = queue.next_batch(limits, |job| job != 0);
        assert_eq!(batch, vec![pending(1, 0, 6)]);
        assert!(
            queue.next_batch(limits, |_| true).is_empty(),
            "job 0 was dropped"
        );
    }
}
