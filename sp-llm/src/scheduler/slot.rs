//! One sequence slot: the KV cache it holds and the request it is serving.

use llama_cpp_2::token::LlamaToken;
use sp_core::Result;
use sp_core::chat::{FinishReason, StreamEvent, TokenLogprob, Usage};
use tokio::sync::mpsc::UnboundedSender;

use crate::sampler::TokenPicker;
use crate::text::TextDecoder;

/// A generation request as the worker receives it.
pub(crate) struct Job {
    pub prompt: Vec<LlamaToken>,
    /// Whose prompt it is: cached prefixes are reused only within one scope.
    pub scope: std::sync::Arc<str>,
    /// What it belongs to within the scope (a context): its state on disk is tagged with it.
    pub owner: Option<std::sync::Arc<str>>,
    pub picker: TokenPicker,
    /// Biases, penalties, a grammar or log-probabilities; `None` picks from the raw logits.
    pub shaping: Option<Box<crate::shaping::Shaping>>,
    pub decoder: TextDecoder,
    pub max_tokens: u32,
    pub ignore_eos: bool,
    /// Feed prompt-lookup guesses with each token (greedy, unshaped requests only).
    pub speculate: bool,
    /// Per token (a stream) or once at the end (a whole completion).
    pub delivery: Delivery,
    pub events: UnboundedSender<Result<StreamEvent>>,
    pub ticket: crate::stats::Ticket,
    /// Told when the prompt is in the cache (the first token is being picked), so that
    /// requests sharing the prompt can copy it instead of computing it again.
    pub prefilled: Option<tokio::sync::oneshot::Sender<()>>,
}

/// When the caller receives the generated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// A delta as soon as text is safe to show.
    PerToken,
    /// One delta before the final event. A caller that wants the whole text then pays no
    /// wake-up per token, which on a small machine takes a core from the decode.
    Whole,
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
    /// Guessed tokens fed after `next_input` in the current batch, their logits following
    /// its own; checked against the model's choices when it is sampled.
    pub draft: Vec<LlamaToken>,
    pub generated: u32,
    pub cached_tokens: u32,
    /// Text not yet sent (whole delivery).
    pub unsent: String,
    /// Log-probabilities of tokens whose text is not yet sent.
    pub unsent_logprobs: Vec<TokenLogprob>,
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

    /// Hands `text` to the caller now or keeps it for the end, per the job's delivery.
    pub(crate) fn deliver(&mut self, text: String) {
        match self.job.delivery {
            Delivery::PerToken => {
                self.send_logprobs();
                // A closed receiver is fine: the stream was dropped, the next step ends it.
                let _ = self.job.events.send(Ok(StreamEvent::Delta { text }));
            }
            Delivery::Whole => self.unsent.push_str(&text),
        }
    }

    fn send_logprobs(&mut self) {
        if !self.unsent_logprobs.is_empty() {
            let tokens = std::mem::take(&mut self.unsent_logprobs);
            let _ = self.job.events.send(Ok(StreamEvent::Logprobs { tokens }));
        }
    }

    /// Sends any held text and the final event. A closed receiver is fine: nobody is waiting.
    pub(crate) fn finish(mut self, reason: FinishReason) {
        let mut rest = std::mem::take(&mut self.unsent);
        rest.push_str(&self.job.decoder.finish());
        if reason != FinishReason::Cancelled {
            self.send_logprobs();
            if !rest.is_empty() {
                let _ = self.job.events.send(Ok(StreamEvent::Delta { text: rest }));
            }
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
    /// The scope of the prompts whose cache it holds.
    pub scope: std::sync::Arc<str>,
    /// The owner of the last request it served (see `Job::owner`).
    pub owner: Option<std::sync::Arc<str>>,
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
            scope: "".into(),
            owner: None,
            cached: Vec::new(),
            active: None,
            last_used: 0,
        }
    }

    /// Length of the common prefix of this slot's cache and `job`'s prompt: none when the
    /// cache is another scope's.
    pub(crate) fn shared_with(&self, job: &Job) -> usize {
        if self.scope != job.scope {
            return 0;
        }
        super::prefix_cache::common_prefix(&self.cached, &job.prompt)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    use super::*;

    fn active(delivery: Delivery) -> (Active, UnboundedReceiver<Result<StreamEvent>>) {
        let (events, receiver) = unbounded_channel();
        let job = Job {
            prompt: vec![LlamaToken(1), LlamaToken(2)],
            scope: "".into(),
            owner: None,
            picker: TokenPicker::Greedy,
            shaping: None,
            decoder: TextDecoder::new(Vec::new()),
            max_tokens: 8,
            ignore_eos: false,
            speculate: false,
            delivery,
            events,
            ticket: crate::stats::Ticket::queued(&Arc::default()),
            prefilled: None,
        };
        let active = Active {
            job,
            prompt_done: 2,
            next_input: None,
            logits_index: None,
            draft: Vec::new(),
            generated: 2,
            cached_tokens: 0,
            unsent: String::new(),
            unsent_logprobs: Vec::new(),
        };
        (active, receiver)
    }

    fn drain(receiver: &mut UnboundedReceiver<Result<StreamEvent>>) -> Vec<StreamEvent> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|event| event.expect("no error events here"))
            .collect()
    }

    fn delta(text: &str) -> StreamEvent {
        StreamEvent::Delta { text: text.into() }
    }

    #[test]
    fn per_token_delivery_sends_each_piece_at_once() {
        let (mut active, mut receiver) = active(Delivery::PerToken);
        active.deliver("Hel".into());
        assert_eq!(drain(&mut receiver), vec![delta("Hel")]);
        active.deliver("lo".into());
        active.finish(FinishReason::Length);
        let events = drain(&mut receiver);
        assert_eq!(events[0], delta("lo"));
        assert!(matches!(
            events[1],
            StreamEvent::Done { finish_reason: FinishReason::Length, usage } if usage.completion_tokens == 2
        ));
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn whole_delivery_sends_one_delta_before_done() {
        let (mut active, mut receiver) = active(Delivery::Whole);
        active.deliver("Hel".into());
        active.deliver("lo".into());
        assert!(drain(&mut receiver).is_empty(), "nothing before the end");
        active.finish(FinishReason::Stop);
        let events = drain(&mut receiver);
        assert_eq!(events[0], delta("Hello"));
        assert!(matches!(
            events[1],
            StreamEvent::Done {
                finish_reason: FinishReason::Stop,
                ..
            }
        ));
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn cancelled_whole_delivery_sends_only_done() {
        let (mut active, mut receiver) = active(Delivery::Whole);
        active.deliver("Hello".into());
        active.finish(FinishReason::Cancelled);
        let events = drain(&mut receiver);
        assert!(matches!(
            events.as_slice(),
            [StreamEvent::Done {
                finish_reason: FinishReason::Cancelled,
                ..
            }]
        ));
    }
}
