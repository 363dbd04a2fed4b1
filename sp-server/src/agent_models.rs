//! Where agent runs get their models on the server: the catalogue (an agent's `model` is a
//! catalogue name or alias, loaded on first use and held for the run) or the one model the
//! server was started with.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use sp_core::agents::AgentModels;
use sp_core::chat::{ChatMessage, ChatOptions, Completion, Sampling, StreamEvent};
use sp_core::{ChatModel, Result, Tokenizer};
use sp_llm::{Engine, ModelRuntime};

use crate::served::{ServedChat, chat_from};

/// The server's models for agents. Who may use a model is checked when a run starts (the
/// starter's key); a run resumed in another process uses the model its agent names.
pub(crate) struct CatalogueModels {
    pub(crate) default: Option<Engine>,
    pub(crate) runtime: Option<ModelRuntime>,
}

/// A chat model held loaded for as long as a run uses it.
struct Held(ServedChat);

impl Held {
    /// The engine, as a [`ChatModel`] (its inherent methods of the same names differ).
    fn engine(&self) -> &Engine {
        &self.0
    }
}

#[async_trait]
impl ChatModel for Held {
    fn context_window(&self) -> Option<usize> {
        ChatModel::context_window(self.engine())
    }

    async fn chat(&self, messages: &[ChatMessage], sampling: &Sampling) -> Result<Completion> {
        ChatModel::chat(self.engine(), messages, sampling).await
    }

    async fn chat_stream(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        ChatModel::chat_stream(self.engine(), messages, sampling).await
    }

    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<Completion> {
        ChatModel::chat_with(self.engine(), messages, sampling, options).await
    }

    async fn chat_stream_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        ChatModel::chat_stream_with(self.engine(), messages, sampling, options).await
    }
}

#[async_trait]
impl AgentModels for CatalogueModels {
    async fn chat_model(
        &self,
        name: Option<&str>,
    ) -> Result<(Arc<dyn ChatModel>, Option<Arc<dyn Tokenizer>>)> {
        let served = chat_from(
            self.default.as_ref(),
            self.runtime.as_ref(),
            name,
            None,
            |_| Ok(()),
        )
        .await?;
        let tokenizer: Arc<dyn Tokenizer> = Arc::new((*served).clone());
        Ok((Arc::new(Held(served)), Some(tokenizer)))
    }
}
