//! One sequence slot: the KV cache it holds and the request it is serving.

use llama_cpp_2::token::LlamaToken;
use sp_core::Result;
use sp_core::chat::{FinishReason, StreamEvent, Usage};
use tokio::sync::mpsc::UnboundedSender;

use crate::sampler::TokenPicker;
use crate::text::TextDecoder;

/// A generation request as the worker receives it.
pub(crate) struct Job {
    pub prompt: Vec<LlamaToken>,
    pub picker: TokenPicker,
    pub decoder: TextDecoder,
    pub max_tokens: u32,
    pub ignore_eos: bool,
    pub events: UnboundedSender<Result<StreamEvent>>,
    pub ticket: crate::stats::Ticket,
}

/// The request a slot is serving.
pub(crate) struct Active {
    pub job: Job,
    /// Prompt tokens already in the KV cache.
    pub prompt_done: usize,
    /// The sampled token not yet fed back to the model.
    pub next_input: Option<LlamaToken>,
    /// Where this slot's logits sit in the current batch.
    pub logits_index: Option<i32>,
    pub generated: u32,
    pub cached_tokens: u32,
}

impl Active {
    pub(crate) fn prefilling(&self) -> bool {
        self.prompt_done < self.job.prompt.len()
    }

    fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: u32::try_from(self.job.prompt.len()).unwrap_or(u32::MAX),
            completion_tokens: self.generated,
            cached_tokens: self.cached_tokens,
        }
    }

    /// Sends any held text and the final event. A closed receiver is fine: nobody is waiting.
    pub(crate) fn finish(mut self, reason: FinishReason) {
        let rest = self.job.decoder.finish();
        if !rest.is_empty() && reason != FinishReason::Cancelled {
            let _ = self.job.events.send(Ok(StreamEvent::Delta { text: rest }));
        }
        let usage = self.usage();
        self.job.ticket.finished(&usage);
        let _ = self.job.events.send(Ok(StreamEvent::Done {
            finish_reason: reason,
            usage,
        }));
    }
}

/// A sequence of the shared context.
pub(crate) struct Slot {
    pub seq: i32,
    /// Tokens whose keys and values are in this sequence's cache, in order.
    pub cached: Vec<LlamaToken>,
    pub active: Option<Active>,
    /// Step at which the slot was last used, to evict the least recently used cache.
    pub last_used: u64,
}

impl Slot {
    pub(crate) fn new(seq: i32) -> Self {
        Slot {
            seq,
            cached: Vec::new(),
            active: None,
            last_used: 0,
        }
    }

    /// Length of the common prefix of this slot's cache and `prompt`.
    pub(crate) fn common_prefix(&self, prompt: &[LlamaToken]) -> usize {
        self.cached
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count()
    }
}
