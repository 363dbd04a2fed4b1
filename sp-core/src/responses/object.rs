//! The `response` object as OpenAI's clients read it — what a chain stores and serves,
//! whichever surface (HTTP, Python) made the response.

use serde_json::{Value, json};

use crate::chat::{Completion, FinishReason, ToolCall, Usage};

/// The settings a response echoes (as OpenAI's object does).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The model that answered.
    pub model: String,
    /// This response's system message.
    pub instructions: Option<String>,
    /// The response it continues.
    pub previous_response_id: Option<String>,
    /// The most tokens it could generate (`None`: the room left in the window).
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus sampling.
    pub top_p: f32,
    /// The tools offered, as the request gave them.
    pub tools: Vec<Value>,
    /// The tool choice, as the request gave it.
    pub tool_choice: Value,
    /// Whether one reply could make several calls.
    pub parallel_tool_calls: bool,
    /// The text format, as the request gave it.
    pub text: Value,
    /// Whether it is kept.
    pub store: bool,
    /// The caller's metadata.
    pub metadata: Value,
}

impl Settings {
    /// Defaults for `model`: free text, no tools, temperature 1, stored.
    pub fn new(model: impl Into<String>) -> Self {
        Settings {
            model: model.into(),
            instructions: None,
            previous_response_id: None,
            max_output_tokens: None,
            temperature: 1.0,
            top_p: 1.0,
            tools: Vec::new(),
            tool_choice: json!("auto"),
            parallel_tool_calls: true,
            text: json!({"format": {"type": "text"}}),
            store: true,
            metadata: json!({}),
        }
    }
}

/// OpenAI's usage of a response.
fn usage(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

/// The output items of a reply: its text as a message, then its calls.
fn output(done: &Completion, message_id: &str) -> Vec<Value> {
    let mut items = Vec::new();
    if !done.text.is_empty() || done.tool_calls.is_empty() {
        items.push(json!({
            "type": "message", "id": message_id, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": done.text, "annotations": []}],
        }));
    }
    items.extend(
        done.tool_calls
            .iter()
            .map(|call| call_item(call, "completed")),
    );
    items
}

/// A new output message id.
pub fn message_id() -> String {
    format!("msg_{}", crate::Id::new().as_uuid().simple())
}

/// A function call's output item.
pub fn call_item(call: &ToolCall, status: &str) -> Value {
    json!({
        "type": "function_call", "id": format!("fc_{}", call.id), "call_id": call.id,
        "name": call.name, "arguments": call.arguments, "status": status,
    })
}

/// The whole object (without `id`, which names where it is stored), its text message under
/// `message_id`.
///
/// ```
/// use sp_core::chat::{Completion, FinishReason, Usage};
/// use sp_core::responses::{Settings, message_id, object};
///
/// let done = Completion::new("Hi!", FinishReason::Stop, Usage::default());
/// let body = object(&Settings::new("tiny"), &done, &message_id());
/// assert_eq!(body["output"][0]["content"][0]["text"], "Hi!");
/// assert_eq!(body["status"], "completed");
/// ```
pub fn object(settings: &Settings, done: &Completion, message_id: &str) -> Value {
    let (status, incomplete) = match done.finish_reason {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        _ => ("completed", Value::Null),
    };
    json!({
        "object": "response",
        "created_at": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "status": status,
        "incomplete_details": incomplete,
        "error": null,
        "model": settings.model,
        "output": output(done, message_id),
        "instructions": settings.instructions,
        "previous_response_id": settings.previous_response_id,
        "max_output_tokens": settings.max_output_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "tools": settings.tools,
        "tool_choice": settings.tool_choice,
        "parallel_tool_calls": settings.parallel_tool_calls,
        "text": settings.text,
        "truncation": "disabled",
        "store": settings.store,
        "metadata": settings.metadata,
        "usage": usage(done.usage),
    })
}
