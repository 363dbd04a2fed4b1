//! The embedding worker: rounds of queued jobs, packed into shared decodes.
//!
//! Each round takes every job waiting (requests that arrived together share decodes), sorts
//! their texts by length and decodes them [`plan::Queue`]-packed, several sequences per
//! decode. A job is answered when its last text is embedded; one whose requester left is
//! dropped at the next decode, and a decode that fails fails only the jobs it held texts of.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use sp_core::{Error, Result};
use tokio::sync::oneshot;

use super::plan::{BatchLimits, Pending, Queue};
use crate::threadpool::PooledContext;

/// Texts to embed, already tokenized and checked against the window.
pub(super) struct EmbedJob {
    pub texts: Vec<Vec<LlamaToken>>,
    pub reply: oneshot::Sender<Result<Vec<Vec<f32>>>>,
}

/// What a decode hands back per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// The pooled vector, scaled to unit length (embeddings).
    Normalised,
    /// The pooled output as the model makes it (a cross-encoder's scores).
    Raw,
}

/// Embedding jobs stopped because their requester left (see [`abandoned_jobs`]).
static ABANDONED: AtomicU64 = AtomicU64::new(0);

/// How many embedding jobs this process stopped because their requester had left.
pub fn abandoned_jobs() -> u64 {
    ABANDONED.load(Ordering::Relaxed)
}

/// What one embedding worker has decoded: texts per decode is how well requests share
/// batches.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub decodes: AtomicU64,
    pub texts: AtomicU64,
}

/// A job of the current round, being filled in.
struct Open {
    texts: Vec<Vec<LlamaToken>>,
    reply: Option<oneshot::Sender<Result<Vec<Vec<f32>>>>>,
    vectors: Vec<Option<Vec<f32>>>,
    remaining: usize,
}

impl Open {
    /// Still wanted: not answered (done or failed) and its requester still waiting.
    fn is_live(&mut self) -> bool {
        match &self.reply {
            Some(reply) if reply.is_closed() => {
                ABANDONED.fetch_add(1, Ordering::Relaxed);
                self.reply = None;
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    fn fail(&mut self, err: Error) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(err));
        }
    }

    fn fill(&mut self, text: usize, vector: Vec<f32>) {
        self.vectors[text] = Some(vector);
        self.remaining -= 1;
        if self.remaining == 0
            && let Some(reply) = self.reply.take()
        {
            let vectors = std::mem::take(&mut self.vectors)
                .into_iter()
                .flatten()
                .collect();
            let _ = reply.send(Ok(vectors));
        }
    }
}

/// Serves jobs until every sender is gone.
pub(super) fn serve(
    mut ctx: PooledContext<'_>,
    limits: BatchLimits,
    output: Output,
    jobs: &Receiver<EmbedJob>,
    counters: &Counters,
) {
    let mut batch = LlamaBatch::new(limits.tokens, 1);
    while let Ok(first) = jobs.recv() {
        let mut round = vec![first];
        // Everything already waiting joins this round (the channel is bounded, so is this).
        while let Ok(more) = jobs.try_recv() {
            round.push(more);
        }
        run_round(&mut ctx, &mut batch, limits, output, round, counters);
    }
}

fn run_round(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    limits: BatchLimits,
    output: Output,
    round: Vec<EmbedJob>,
    counters: &Counters,
) {
    let mut open: Vec<Open> = round
        .into_iter()
        .map(|job| Open {
            remaining: job.texts.len(),
            vectors: vec![None; job.texts.len()],
            texts: job.texts,
            reply: Some(job.reply),
        })
        .collect();
    let pending = open
        .iter()
        .enumerate()
        .flat_map(|(job, o)| {
            o.texts
                .iter()
                .enumerate()
                .map(move |(text, tokens)| Pending {
                    job,
                    text,
                    tokens: tokens.len(),
                })
        })
        .collect();
    let mut queue = Queue::new(pending);
    loop {
        let texts = queue.next_batch(limits, |job| open[job].is_live());
        if texts.is_empty() {
            return;
        }
        match decode(ctx, batch, output, &open, &texts) {
            Ok(vectors) => {
                counters.decodes.fetch_add(1, Ordering::Relaxed);
                counters
                    .texts
                    .fetch_add(texts.len() as u64, Ordering::Relaxed);
                for (pending, vector) in texts.iter().zip(vectors) {
                    open[pending.job].fill(pending.text, vector);
                }
            }
            Err(err) => {
                let message = err.to_string();
                for pending in &texts {
                    open[pending.job].fail(Error::Inference(message.clone()));
                }
            }
        }
    }
}

/// One decode: each text its own sequence; their pooled outputs in order.
fn decode(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    output: Output,
    open: &[Open],
    texts: &[Pending],
) -> Result<Vec<Vec<f32>>> {
    ctx.clear_kv_cache();
    batch.clear();
    for (seq, pending) in (0..).zip(texts) {
        batch
            .add_sequence(&open[pending.job].texts[pending.text], seq, false)
            .map_err(|err| Error::Inference(format!("embedding batch: {err}")))?;
    }
    ctx.decode(batch)
        .map_err(|err| Error::Inference(format!("embedding decode: {err}")))?;
    (0..)
        .take(texts.len())
        .map(|seq| {
            ctx.embeddings_seq_ith(seq)
                .map(|pooled| match output {
                    Output::Normalised => super::normalize(pooled),
                    Output::Raw => pooled.to_vec(),
                })
                .map_err(|err| Error::Inference(format!("embedding output: {err}")))
        })
        .collect()
}
