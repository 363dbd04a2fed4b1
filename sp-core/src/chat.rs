//! Chat and completion requests, their answers, and sampling settings: the vocabulary shared
//! by the inference engine, the server's OpenAI-compatible API and the Python bindings.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The human (or calling application).
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

impl Role {
    /// The role's name as chat templates expect it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message of a conversation.
///
/// ```
/// use sp_core::chat::{ChatMessage, Role};
///
/// let m = ChatMessage::user("What is the capital of France?");
/// assert_eq!(m.role, Role::User);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Most stop sequences a request may carry.
pub const MAX_STOP_SEQUENCES: usize = 8;

/// How the next token is chosen, and when generation ends.
///
/// `temperature == 0` is greedy decoding: deterministic for a given prompt.
///
/// ```
/// use sp_core::chat::Sampling;
///
/// let greedy = Sampling { temperature: 0.0, max_tokens: 32, ..Sampling::default() };
/// greedy.validate().unwrap();
/// let bad = Sampling { top_p: 1.5, ..Sampling::default() };
/// assert!(bad.validate().unwrap_err().to_string().contains("top_p"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// Softmax temperature, `0..=2`; `0` picks the most likely token.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; `0` disables.
    pub top_k: u32,
    /// Nucleus sampling: keep the smallest set whose probability reaches `top_p`, `(0, 1]`.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one, `[0, 1)`.
    pub min_p: f32,
    /// Penalty for tokens seen in the last `repeat_last_n` tokens; `1` disables, `(0, 2]`.
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: u32,
    /// Seed of the random sampler, for reproducible non-greedy output.
    pub seed: Option<u32>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Generation stops before the first of these strings; it is not part of the output.
    pub stop: Vec<String>,
    /// Keep generating past the model's end-of-turn token (benchmarks, fixed-length output).
    pub ignore_eos: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: None,
            max_tokens: 256,
            stop: Vec::new(),
            ignore_eos: false,
        }
    }
}

impl Sampling {
    /// Greedy decoding of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: u32) -> Self {
        Sampling {
            temperature: 0.0,
            max_tokens,
            ..Sampling::default()
        }
    }

    /// True when the next token is always the most likely one.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// Refuses values outside their documented ranges, naming the field.
    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, field: &str, reason: String| {
            if ok {
                Ok(())
            } else {
                Err(Error::invalid_input(field, reason))
            }
        };
        check(
            (0.0..=2.0).contains(&self.temperature),
            "temperature",
            format!("must be in 0..=2, got {}", self.temperature),
        )?;
        check(
            self.top_p > 0.0 && self.top_p <= 1.0,
            "top_p",
            format!("must be in (0, 1], got {}", self.top_p),
        )?;
        check(
            (0.0..1.0).contains(&self.min_p),
            "min_p",
            format!("must be in [0, 1), got {}", self.min_p),
        )?;
        check(
            self.repeat_penalty > 0.0 && self.repeat_penalty <= 2.0,
            "repeat_penalty",
            format!("must be in (0, 2], got {}", self.repeat_penalty),
        )?;
        check(
            self.max_tokens >= 1,
            "max_tokens",
            "must be at least 1".to_owned(),
        )?;
        check(
            self.stop.len() <= MAX_STOP_SEQUENCES,
            "stop",
            format!(
                "at most {MAX_STOP_SEQUENCES} sequences, got {}",
                self.stop.len()
            ),
        )?;
        check(
            self.stop.iter().all(|s| !s.is_empty() && s.len() <= 256),
            "stop",
            "each sequence must hold 1 to 256 bytes".to_owned(),
        )?;
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn or a stop sequence matched.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The caller went away (a dropped stream).
    Cancelled,
}

/// Token accounting of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Prompt tokens served from the prompt cache instead of being computed again.
    pub cached_tokens: u32,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (stop sequence excluded).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Token accounting.
    pub usage: Usage,
}

/// One event of a streamed generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// More text; always whole UTF-8 characters.
    Delta {
        /// The new text.
        text: String,
    },
    /// The last event.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
        /// Token accounting.
        usage: Usage,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_each_field() {
        let cases: Vec<(Sampling, &str)> = vec![
            (
                Sampling {
                    temperature: -1.0,
                    ..Sampling::default()
                },
                "temperature",
            ),
            (
                Sampling {
                    temperature: 9.0,
                    ..Sampling::default()
                },
                "temperature",
            ),
            (
                Sampling {
                    top_p: 0.0,
                    ..Sampling::default()
                },
                "top_p",
            ),
            (
                Sampling {
                    min_p: 1.0,
                    ..Sampling::default()
                },
                "min_p",
            ),
            (
                Sampling {
                    repeat_penalty: 0.0,
                    ..Sampling::default()
                },
                "repeat_penalty",
            ),
            (
                Sampling {
                    max_tokens: 0,
                    ..Sampling::default()
                },
                "max_tokens",
            ),
            (
                Sampling {
                    stop: vec![String::new()],
                    ..Sampling::default()
                },
                "stop",
            ),
            (
                Sampling {
                    stop: vec!["x".into(); 9],
                    ..Sampling::default()
                },
                "stop",
            ),
        ];
        for (sampling, field) in cases {
            let err = sampling.validate().expect_err(field);
            assert_eq!(err.code(), crate::ErrorCode::InvalidInput);
            assert!(err.to_string().contains(field), "{err}");
        }
        Sampling::default().validate().expect("defaults are valid");
    }
}
