//! The traits a model runtime implements. `sp-llm` implements them with llama.cpp; the
//! knowledge store and context assembly only see these traits.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::chat::{ChatMessage, ChatOptions, Completion, Role, Sampling, StreamEvent};
use crate::error::{Error, Result};

/// Turns text into a model's tokens, so budgets are counted exactly as the model counts.
pub trait Tokenizer: Send + Sync {
    /// The token ids of `text`, without special tokens such as BOS.
    fn tokenize(&self, text: &str) -> Result<Vec<u32>>;

    /// How many tokens `text` is.
    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tokenize(text)?.len())
    }

    /// Tokens a chat template adds around one message of `role` (its header and end marker),
    /// so a prompt's size is the sum of its messages' sizes. The default is ChatML's
    /// (`<|im_start|>role\n` … `<|im_end|>\n`: 5 tokens); a model runtime measures its own.
    fn message_overhead(&self, role: Role) -> usize {
        let _ = role;
        5
    }

    /// Tokens the template adds after the last message to open the assistant's reply
    /// (ChatML: `<|im_start|>assistant\n`, 3 tokens).
    fn reply_overhead(&self) -> usize {
        3
    }
}

/// Turns texts into vectors for similarity search.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// A stable identifier of the embedding space (vectors from different ids don't compare).
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dimensions(&self) -> usize;

    /// One L2-normalised vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Generates the next assistant turn of a conversation.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// Tokens one conversation may take, prompt and reply together, when the model knows its
    /// window: callers that assemble long prompts (agent runs) budget against it rather than
    /// being refused at the model. `None` (the default) when unknown.
    fn context_window(&self) -> Option<usize> {
        None
    }

    /// Deletes what the model keeps of `owner`'s prompts in `scope` beyond the process (KV
    /// state on disk, see [`Sampling::cache_owner`]): called when the owner, a context, is
    /// deleted. The default keeps nothing, so forgets nothing.
    fn forget_cached(&self, _scope: &str, _owner: &str) {}

    /// The whole answer at once.
    async fn chat(&self, messages: &[ChatMessage], sampling: &Sampling) -> Result<Completion>;

    /// The answer as it is generated. Dropping the stream cancels generation.
    async fn chat_stream(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>>;

    /// The answer under `options` (a response format, tools). A model that cannot enforce
    /// them refuses — the default does, for anything but free text — rather than answering
    /// unconstrained.
    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<Completion> {
        if !options.is_plain() {
            return Err(Error::invalid_input(
                "options",
                "this model cannot enforce response formats or tools",
            ));
        }
        self.chat(messages, sampling).await
    }

    /// [`chat_with`](Self::chat_with), streamed: text as it is generated where the model can
    /// send it early, calls whole (a [`StreamEvent::ToolCalls`] before `Done`). The default
    /// answers whole, then sends it as one delta.
    async fn chat_stream_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        use futures::StreamExt as _;
        let done = self.chat_with(messages, sampling, options).await?;
        let mut events = Vec::with_capacity(3);
        if !done.text.is_empty() {
            events.push(Ok(StreamEvent::Delta { text: done.text }));
        }
        if !done.tool_calls.is_empty() {
            events.push(Ok(StreamEvent::ToolCalls {
                calls: done.tool_calls,
            }));
        }
        events.push(Ok(StreamEvent::Done {
            finish_reason: done.finish_reason,
            usage: done.usage,
        }));
        Ok(futures::stream::iter(events).boxed())
    }
}
