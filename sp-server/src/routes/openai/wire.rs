//! OpenAI's request and response shapes, and their mapping to ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sp_core::chat::{FinishReason, Sampling, Usage};

pub use super::messages::WireMessage;
pub use super::shape::ShapeFields;
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
    /// Most tokens to generate, ≥ 1; prompt plus this must fit the window, or the request is
    /// `SP-LLM-001`. Absent: chat generates up to the room the prompt leaves in the window,
    /// completions 16 tokens (OpenAI's default).
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
    /// How many choices to generate, 1-8 (they are decoded side by side); with `seed`,
    /// choice `i` uses `seed + i`. Not with `stream`.
    pub n: Option<i64>,
    /// -2..=2: subtracted from the logit of every token already generated.
    pub presence_penalty: Option<f32>,
    /// -2..=2: subtracted per time a token was already generated.
    pub frequency_penalty: Option<f32>,
    /// Token id (as a string) → bias -100..=100 added to its logit; -100 bans it. At most
    /// 1024 entries.
    #[schema(value_type = Option<Object>)]
    pub logit_bias: Option<serde_json::Map<String, Value>>,
    /// Chat: `true` returns each token's log-probability. Completions: an integer 0-5, the
    /// number of alternatives per token.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// Chat: 0-20 most likely alternatives per token (needs `logprobs: true`).
    pub top_logprobs: Option<i64>,
    /// Stream server-sent events of chunks, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// `include_usage`: a last chunk with the usage.
    pub stream_options: Option<StreamOptions>,
}

/// Most choices one request may ask for.
pub const MAX_CHOICES: i64 = 8;

/// Which endpoint reads the fields: `logprobs` means different things to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
}

impl SamplingFields {
    /// `n`, checked: 1 to [`MAX_CHOICES`], and 1 when streaming.
    pub fn choices(&self) -> Result<usize> {
        let n = self.n.unwrap_or(1);
        if !(1..=MAX_CHOICES).contains(&n) {
            return Err(Error::invalid_input(
                "n",
                format!("must be 1 to {MAX_CHOICES}, got {n}"),
            ));
        }
        if n > 1 && self.stream {
            return Err(Error::invalid_input(
                "n",
                "more than one choice cannot be streamed; set stream to false",
            ));
        }
        Ok(n as usize)
    }

    fn logprobs_setting(&self, endpoint: Endpoint) -> Result<Option<u8>> {
        let top = |value: i64, max: i64, field: &str| {
            if (0..=max).contains(&value) {
                Ok(value as u8)
            } else {
                Err(Error::invalid_input(
                    field,
                    format!("must be 0 to {max}, got {value}"),
                ))
            }
        };
        match (endpoint, &self.logprobs) {
            (_, None | Some(Value::Null)) | (Endpoint::Chat, Some(Value::Bool(false))) => {
                if self.top_logprobs.is_some() {
                    return Err(Error::invalid_input("top_logprobs", "needs logprobs: true"));
                }
                Ok(None)
            }
            (Endpoint::Chat, Some(Value::Bool(true))) => {
                top(self.top_logprobs.unwrap_or(0), 20, "top_logprobs").map(Some)
            }
            (Endpoint::Completions, Some(Value::Number(n))) => {
                top(n.as_i64().unwrap_or(-1), 5, "logprobs").map(Some)
            }
            (Endpoint::Chat, Some(_)) => {
                Err(Error::invalid_input("logprobs", "must be true or false"))
            }
            (Endpoint::Completions, Some(_)) => Err(Error::invalid_input(
                "logprobs",
                "must be an integer 0 to 5",
            )),
        }
    }

    fn logit_bias(&self) -> Result<Vec<(u32, f32)>> {
        let Some(map) = &self.logit_bias else {
            return Ok(Vec::new());
        };
        map.iter()
            .map(|(token, bias)| {
                let id = token.parse::<u32>().map_err(|_| {
                    Error::invalid_input("logit_bias", format!("keys are token ids, got `{token}`"))
                })?;
                let bias = bias.as_f64().ok_or_else(|| {
                    Error::invalid_input(
                        "logit_bias",
                        format!("the bias of token {id} must be a number"),
                    )
                })?;
                Ok((id, bias as f32))
            })
            .collect()
    }

    /// Our sampling for these fields; `default_max` when no limit is given.
    pub fn sampling(&self, default_max: u32, endpoint: Endpoint) -> Result<Sampling> {
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
            presence_penalty: self.presence_penalty.unwrap_or(0.0),
            frequency_penalty: self.frequency_penalty.unwrap_or(0.0),
            logit_bias: self.logit_bias()?,
            logprobs: self.logprobs_setting(endpoint)?,
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

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The loaded model's id (see `/v1/models`); may be omitted.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation, rendered with the model's own chat template.
    pub messages: Vec<WireMessage>,
    #[serde(flatten)]
    pub sampling: SamplingFields,
    #[serde(flatten)]
    pub shape: ShapeFields,
    /// How long the model stays loaded after this request (Ollama's `keep_alive`: a
    /// duration such as `"5m"`, `0` to unload at once, `-1` to keep).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub keep_alive: Option<sp_core::catalogue::KeepAlive>,
    /// Any other field: refused unless it is one we can safely ignore (see `unsupported`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: serde_json::Map<String, Value>,
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
    /// How long the model stays loaded after this request (Ollama's `keep_alive`: a
    /// duration such as `"5m"`, `0` to unload at once, `-1` to keep).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub keep_alive: Option<sp_core::catalogue::KeepAlive>,
    /// Any other field: refused unless it is one we can safely ignore (see `unsupported`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: serde_json::Map<String, Value>,
}

/// Refuses request fields we do not implement, so that nothing is silently ignored. Only
/// fields that change nothing about the answer pass: `user` (an end-user id for abuse
/// tracking), `metadata`, `store: false`, `service_tier: "auto"`/`"default"`.
pub fn unsupported(other: &serde_json::Map<String, Value>) -> Result<()> {
    for (field, value) in other {
        let harmless = match field.as_str() {
            "user" | "metadata" => true,
            "store" => value == &Value::Bool(false),
            "service_tier" => matches!(value.as_str(), Some("auto" | "default")),
            _ => false,
        };
        if !harmless {
            let hint = match field.as_str() {
                "functions" | "function_call" => "; use tools and tool_choice",
                "guided_json" | "json_schema" => "; use response_format",
                _ => "",
            };
            return Err(Error::invalid_input(
                field.clone(),
                format!("is not supported{hint}"),
            ));
        }
    }
    Ok(())
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
        FinishReason::Stop | FinishReason::StopSequence | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
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
