//! The sp-core traits, implemented by the engine.

use async_trait::async_trait;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use sp_core::chat::{ChatMessage, Completion, Sampling, StreamEvent};
use sp_core::{ChatModel, Result, Tokenizer};

use crate::engine::Engine;

impl Tokenizer for Engine {
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        // Plain text, no BOS, special-token markup not interpreted: what the text costs inside
        // a prompt.
        Ok(self
            .model()
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .into_iter()
            .map(|t| u32::try_from(t.0).unwrap_or(0))
            .collect())
    }
}

#[async_trait]
impl ChatModel for Engine {
    async fn chat(&self, messages: &[ChatMessage], sampling: &Sampling) -> Result<Completion> {
        Engine::chat(self, messages, sampling).await
    }

    async fn chat_stream(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        Ok(Engine::chat_stream(self, messages, sampling)?.boxed())
    }
}
