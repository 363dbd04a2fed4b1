//! OpenAI's request and response shapes, and their mapping to ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sp_core::chat::{ChatMessage, FinishReason, Role, Sampling, Usage};
use sp_core::{Error, Result};

/// `stop`: one string or several.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// The sampling fields shared by chat and completions. Unknown fields are ignored, as
/// OpenAI's clients send fields we have no use for; fields we cannot honour are refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SamplingFields {
    /// Most tokens to generate, ≥ 1 (default: the context window); prompt plus this must fit
    /// the window, or the request is `SP-LLM-001`.
    pub max_tokens: Option<i64>,
    /// Same as `max_tokens` (OpenAI's newer name); wins when both are given.
    pub max_completion_tokens: Option<i64>,
    /// 0-2; 0 is greedy (default 1).
    pub temperature: Option<f32>,
    /// Nucleus sampling, (0, 1].
    pub top_p: Option<f32>,
    /// Keep the k most likely tokens (llama.cpp extension).
    pub top_k: Option<u32>,
    /// Minimum probability relative to the best token (llama.cpp extension).
    pub min_p: Option<f32>,
    /// Penalty for repeated tokens, ≥ 1 (llama.cpp extension).
    pub repeat_penalty: Option<f32>,
    /// Sampling seed: the same seed and request give the same output.
    pub seed: Option<i64>,
    /// Up to 8 sequences that end generation; they are not part of the output.
    pub stop: Option<Stop>,
    /// Only 1 is supported.
    pub n: Option<i64>,
    /// Only 0 (or absent) is supported.
    pub presence_penalty: Option<f32>,
    /// Only 0 (or absent) is supported.
    pub frequency_penalty: Option<f32>,
    /// Stream server-sent events of chunks, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage`: a last chunk with the usage.
    pub stream_options: Option<StreamOptions>,
}

impl SamplingFields {
    /// Our sampling for these fields; `default_max` when no limit is given.
    pub fn sampling(&self, default_max: u32) -> Result<Sampling> {
        if let Some(n) = self.n
            && n != 1
        {
            return Err(Error::invalid_input(
                "n",
                format!("only n = 1 is supported, got {n}"),
            ));
        }
        for (field, value) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if value.is_some_and(|v| v != 0.0) {
                return Err(Error::invalid_input(
                    field,
                    "is not supported; use repeat_penalty",
                ));
            }
        }
        let max = self.max_completion_tokens.or(self.max_tokens);
        let max_tokens = match max {
            None => default_max,
            Some(m) if m >= 1 && m <= i64::from(u32::MAX) => m as u32,
            Some(m) => {
                return Err(Error::invalid_input(
                    "max_tokens",
                    format!("must be at least 1, got {m}"),
                ));
            }
        };
        let seed = match self.seed {
            None => None,
            Some(s) if (0..=i64::from(u32::MAX)).contains(&s) => Some(s as u32),
            Some(s) => {
                return Err(Error::invalid_input(
                    "seed",
                    format!("must be 0..=4294967295, got {s}"),
                ));
            }
        };
        let defaults = Sampling::default();
        let sampling = Sampling {
            // OpenAI's default temperature is 1.
            temperature: self.temperature.unwrap_or(1.0),
            top_p: self.top_p.unwrap_or(1.0),
            top_k: self.top_k.unwrap_or(defaults.top_k),
            min_p: self.min_p.unwrap_or(0.0),
            repeat_penalty: self.repeat_penalty.unwrap_or(defaults.repeat_penalty),
            seed,
            max_tokens,
            stop: match &self.stop {
                None => Vec::new(),
                Some(Stop::One(s)) => vec![s.clone()],
                Some(Stop::Many(v)) => v.clone(),
            },
            ..defaults
        };
        sampling.validate()?;
        Ok(sampling)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }
}

/// A chat message as OpenAI clients send it: `content` may be a string or a list of parts.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct WireMessage {
    /// `system` (or `developer`), `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, or a list of `{"type": "text", "text": …}` parts.
    #[serde(default)]
    pub content: Option<Value>,
}

impl WireMessage {
    pub fn to_chat(&self, at: usize) -> Result<ChatMessage> {
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(Error::invalid_input(
                    format!("messages[{at}].role"),
                    format!("unknown role `{other}`"),
                ));
            }
        };
        let content = match &self.content {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (
                        part.get("type").and_then(Value::as_str),
                        part.get("text").and_then(Value::as_str),
                    ) {
                        (Some("text"), Some(t)) => text.push_str(t),
                        _ => {
                            return Err(Error::invalid_input(
                                format!("messages[{at}].content"),
                                "only text parts are supported",
                            ));
                        }
                    }
                }
                text
            }
            Some(_) => {
                return Err(Error::invalid_input(
                    format!("messages[{at}].content"),
                    "must be a string or a list of text parts",
                ));
            }
        };
        Ok(ChatMessage::new(role, content))
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The loaded model's id (see `/v1/models`); may be omitted.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation, rendered with the model's own chat template.
    pub messages: Vec<WireMessage>,
    #[serde(flatten)]
    pub sampling: SamplingFields,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Prompt {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    /// The loaded model's id; may be omitted.
    #[serde(default)]
    pub model: Option<String>,
    /// The text to continue (one per request).
    pub prompt: Prompt,
    #[serde(flatten)]
    pub sampling: SamplingFields,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WireUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
    /// `cached_tokens`: prompt tokens served from the KV cache of an earlier request.
    pub prompt_tokens_details: CachedTokens,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CachedTokens {
    /// Prompt tokens reused from the cache.
    pub cached_tokens: u32,
}

impl From<Usage> for WireUsage {
    fn from(u: Usage) -> Self {
        WireUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: CachedTokens {
                cached_tokens: u.cached_tokens,
            },
        }
    }
}

pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
    }
}

/// Seconds since the epoch, for `created`.
pub fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `chatcmpl-…` / `cmpl-…` ids.
pub fn completion_id(prefix: &str) -> String {
    format!("{prefix}-{}", sp_core::Id::new().as_uuid().simple())
}
