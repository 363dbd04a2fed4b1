//! The sp-core traits, implemented by the engine.

use async_trait::async_trait;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use sp_core::chat::{ChatMessage, ChatOptions, Completion, Role, Sampling, StreamEvent};
use sp_core::{ChatModel, Result, Tokenizer};

use crate::engine::Engine;

/// Tokens the model's chat template adds, measured by rendering probes: per message by role,
/// and once per prompt (BOS and the assistant header that opens the reply). Context assembly
/// counts a prompt as the sum of its messages plus these, which matches the rendered prompt
/// for templates that wrap each message on its own (ChatML, Llama 3, Gemma, …).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TemplateOverheads {
    per_role: [usize; 4],
    reply: usize,
}

const ROLES: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Tool];

impl TemplateOverheads {
    pub(crate) fn measure(engine: &Engine) -> Self {
        // A model without a template (or one that refuses a probe) falls back to ChatML's
        // sizes, the defaults of the trait.
        Self::try_measure(engine).unwrap_or(TemplateOverheads {
            per_role: [5; 4],
            reply: 3,
        })
    }

    fn try_measure(engine: &Engine) -> Result<Self> {
        let probe = "x";
        let tokens = |messages: &[ChatMessage], open: bool| -> Result<usize> {
            Ok(engine
                .tokenize_prompt(&engine.render_chat_with(messages, open)?)
                .len())
        };
        let text = engine.count_tokens(probe)?;
        let bos = engine.tokenize_prompt("").len();
        let system = [ChatMessage::system(probe)];
        let base = tokens(&system, false)?;
        let mut per_role = [0; 4];
        per_role[0] = base.saturating_sub(text + bos);
        for (i, role) in ROLES.iter().enumerate().skip(1) {
            let pair = [ChatMessage::system(probe), ChatMessage::new(*role, probe)];
            per_role[i] = tokens(&pair, false)?.saturating_sub(base + text);
        }
        let reply = tokens(&system, true)?.saturating_sub(base) + bos;
        Ok(TemplateOverheads { per_role, reply })
    }
}

impl Tokenizer for Engine {
    fn message_overhead(&self, role: Role) -> usize {
        let at = ROLES.iter().position(|r| *r == role).unwrap_or(0);
        self.overheads().per_role[at]
    }

    fn reply_overhead(&self) -> usize {
        self.overheads().reply
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(plain_tokens(self.model(), text))
    }
}

/// `text` as plain text — no BOS, special-token markup not interpreted: what it costs inside
/// a prompt, or inside an embedding model's window.
pub(crate) fn plain_tokens(model: &llama_cpp_2::model::LlamaModel, text: &str) -> Vec<u32> {
    model
        .vocab()
        .tokenize(text.as_bytes(), false, false)
        .into_iter()
        .map(|t| u32::try_from(t.0).unwrap_or(0))
        .collect()
}

#[async_trait]
impl ChatModel for Engine {
    fn context_window(&self) -> Option<usize> {
        Some(self.config().context_per_slot as usize)
    }

    fn forget_cached(&self, scope: &str, owner: &str) {
        Engine::forget_cached(self, scope, owner);
    }

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

    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<Completion> {
        Engine::chat_with(self, messages, sampling, options).await
    }

    async fn chat_stream_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        Ok(Engine::chat_stream_with(self, messages, sampling, options)?.boxed())
    }
}
