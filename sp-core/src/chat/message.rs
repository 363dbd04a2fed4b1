//! The chat vocabulary: roles, messages, options, finish reasons and log-probabilities.

use serde::{Deserialize, Serialize};

use super::{ResponseFormat, ToolCall, Tools};
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// Text (empty for an assistant turn that only calls tools).
    pub content: String,
    /// The calls an assistant turn made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// An assistant turn that calls tools.
    ///
    /// ```
    /// use sp_core::chat::{ChatMessage, ToolCall};
    ///
    /// let call = ToolCall::new("get_weather", r#"{"city": "Paris"}"#);
    /// let asks = ChatMessage::tool_calls(vec![call.clone()]);
    /// let answer = ChatMessage::tool_result(&call.id, r#"{"celsius": 21}"#);
    /// assert_eq!(answer.tool_call_id.as_deref(), Some(call.id.as_str()));
    /// assert!(asks.content.is_empty());
    /// ```
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            tool_calls: calls,
            ..Self::new(Role::Assistant, "")
        }
    }

    /// The result of the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
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

/// What a chat request asks of the reply beyond sampling: its shape and the tools it may
/// call.
///
/// ```
/// use sp_core::chat::{ChatOptions, ResponseFormat};
///
/// let options = ChatOptions { response_format: ResponseFormat::JsonObject, ..ChatOptions::default() };
/// options.validate().unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatOptions {
    /// The reply's shape (free text by default).
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// The tools offered (none by default).
    #[serde(default)]
    pub tools: Tools,
}

impl ChatOptions {
    /// True when nothing beyond free text is asked.
    pub fn is_plain(&self) -> bool {
        self.response_format.is_text() && !self.tools.active()
    }

    /// Refuses malformed formats and tools, and a regex or grammar together with tools (the
    /// two cannot both hold over one reply).
    pub fn validate(&self) -> Result<()> {
        self.response_format.validate()?;
        self.tools.validate()?;
        if self.tools.active()
            && matches!(
                self.response_format,
                ResponseFormat::Regex { .. } | ResponseFormat::Grammar { .. }
            )
        {
            return Err(Error::invalid_input(
                "response_format",
                "a regex or grammar cannot be combined with tools; set tool_choice to none",
            ));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// One of the request's stop sequences was generated (it is not part of the text).
    StopSequence,
    /// `max_tokens` was reached.
    Length,
    /// The caller went away (a dropped stream).
    Cancelled,
    /// The reply is tool calls (see [`Completion::tool_calls`]).
    ToolCalls,
}

impl FinishReason {
    /// Whether the reply ended where it meant to (its turn, or a stop sequence): whole, as
    /// opposed to cut at `max_tokens` or abandoned.
    ///
    /// ```
    /// use sp_core::chat::FinishReason;
    /// assert!(FinishReason::StopSequence.is_stop());
    /// assert!(!FinishReason::Length.is_stop());
    /// ```
    pub fn is_stop(self) -> bool {
        matches!(self, FinishReason::Stop | FinishReason::StopSequence)
    }
}

/// A generated token's log-probability, with the most likely alternatives at its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenLogprob {
    /// The token's text (lossy UTF-8 when a character spans tokens).
    pub token: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Natural log of its probability under the model's distribution (≤ 0).
    pub logprob: f32,
    /// The most likely tokens at this position, most likely first.
    pub top_logprobs: Vec<TopLogprob>,
}

/// One alternative of [`TokenLogprob::top_logprobs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopLogprob {
    /// The token's text.
    pub token: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Natural log of its probability.
    pub logprob: f32,
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

impl Usage {
    /// Whether nothing was used (no model call ran).
    ///
    /// ```
    /// assert!(sp_core::chat::Usage::default().is_zero());
    /// ```
    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

impl std::ops::AddAssign for Usage {
    /// Sums two accounts (saturating), e.g. a reply and the compaction before it.
    ///
    /// ```
    /// use sp_core::chat::Usage;
    /// let mut total = Usage { prompt_tokens: 10, completion_tokens: 5, cached_tokens: 2 };
    /// total += Usage { prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0 };
    /// assert_eq!((total.prompt_tokens, total.completion_tokens, total.cached_tokens), (11, 6, 2));
    /// ```
    fn add_assign(&mut self, other: Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
    }
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text (stop sequence excluded; empty when the reply is tool calls).
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Token accounting.
    pub usage: Usage,
    /// The calls the model made (`finish_reason` is then [`FinishReason::ToolCalls`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Per generated token, when [`Sampling::logprobs`] asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

impl Completion {
    /// A text completion with no tool calls or log-probabilities.
    pub fn new(text: impl Into<String>, finish_reason: FinishReason, usage: Usage) -> Self {
        Completion {
            text: text.into(),
            finish_reason,
            usage,
            tool_calls: Vec::new(),
            logprobs: None,
        }
    }
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
    /// Log-probabilities of the tokens whose text the next `Delta` carries (only when asked
    /// for).
    Logprobs {
        /// One per token.
        tokens: Vec<TokenLogprob>,
    },
    /// The reply's tool calls, whole, just before `Done`.
    ToolCalls {
        /// The calls.
        calls: Vec<ToolCall>,
    },
    /// The last event.
    Done {
        /// Why it ended.
        finish_reason: FinishReason,
        /// Token accounting.
        usage: Usage,
    },
}
