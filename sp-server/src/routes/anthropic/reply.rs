//! Replies in Anthropic's shapes: the `message` object and its stream of typed events.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};
use sp_core::Result;
use sp_core::chat::{Completion, FinishReason, StreamEvent, ToolCall, Usage};

use crate::error::ApiError;

/// `msg_…` ids.
pub fn message_id() -> String {
    format!("msg_{}", sp_core::Id::new().as_uuid().simple())
}

/// Anthropic's `stop_reason`, and the stop sequence that ended the reply when one did (known
/// when the request gave exactly one; with several, which one matched is not tracked).
fn stop_reason(reason: FinishReason, stop: &[String]) -> (&'static str, Value) {
    match reason {
        FinishReason::Stop | FinishReason::Cancelled => ("end_turn", Value::Null),
        FinishReason::StopSequence => (
            "stop_sequence",
            match stop {
                [only] => json!(only),
                _ => Value::Null,
            },
        ),
        FinishReason::Length => ("max_tokens", Value::Null),
        FinishReason::ToolCalls => ("tool_use", Value::Null),
    }
}

/// Anthropic's usage: `input_tokens` are the prompt's tokens not read from the cache.
fn usage(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens.saturating_sub(usage.cached_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    })
}

fn tool_use(call: &ToolCall) -> Value {
    // Arguments were decoded under the tool's schema: they are a JSON object.
    let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input})
}

/// The whole `message`.
pub fn message(id: &str, model: &str, done: &Completion, stop: &[String]) -> Value {
    let mut content = Vec::new();
    if !done.text.is_empty() || done.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": done.text}));
    }
    content.extend(done.tool_calls.iter().map(tool_use));
    let (reason, sequence) = stop_reason(done.finish_reason, stop);
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": reason, "stop_sequence": sequence,
        "usage": usage(done.usage),
    })
}

/// Turns our stream events into Anthropic's, keeping track of the open content block.
struct Blocks {
    stop: Vec<String>,
    /// The index of the next block.
    next: usize,
    /// A text block is open (its index is `next - 1`).
    text_open: bool,
}

impl Blocks {
    fn close_text(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if self.text_open {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": self.next - 1}),
            ));
            self.text_open = false;
        }
    }

    fn event(&mut self, event: Result<StreamEvent>) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        match event {
            Ok(StreamEvent::Delta { text }) => {
                if !self.text_open {
                    out.push((
                        "content_block_start",
                        json!({"type": "content_block_start",
                        "index": self.next, "content_block": {"type": "text", "text": ""}}),
                    ));
                    self.text_open = true;
                    self.next += 1;
                }
                out.push((
                    "content_block_delta",
                    json!({"type": "content_block_delta",
                    "index": self.next - 1, "delta": {"type": "text_delta", "text": text}}),
                ));
            }
            Ok(StreamEvent::ToolCalls { calls }) => {
                self.close_text(&mut out);
                for call in calls {
                    let index = self.next;
                    self.next += 1;
                    out.push((
                        "content_block_start",
                        json!({"type": "content_block_start",
                        "index": index, "content_block": {"type": "tool_use", "id": call.id,
                        "name": call.name, "input": {}}}),
                    ));
                    out.push((
                        "content_block_delta",
                        json!({"type": "content_block_delta",
                        "index": index, "delta": {"type": "input_json_delta",
                        "partial_json": call.arguments}}),
                    ));
                    out.push((
                        "content_block_stop",
                        json!({"type": "content_block_stop", "index": index}),
                    ));
                }
            }
            Ok(StreamEvent::Logprobs { .. }) => {}
            Ok(StreamEvent::Done {
                finish_reason,
                usage: used,
            }) => {
                if self.next == 0 {
                    // A reply with nothing in it still has its (empty) text block.
                    out.extend(self.event(Ok(StreamEvent::Delta {
                        text: String::new(),
                    })));
                }
                self.close_text(&mut out);
                let (reason, sequence) = stop_reason(finish_reason, &self.stop);
                out.push((
                    "message_delta",
                    json!({"type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": sequence},
                    "usage": usage(used)}),
                ));
                out.push(("message_stop", json!({"type": "message_stop"})));
            }
            Err(err) => {
                let err = ApiError::from(err);
                out.push((
                    "error",
                    json!({"type": "error", "error": {
                    "type": anthropic_type(err.status().as_u16()),
                    "message": err.message, "code": err.code.as_str()}}),
                ));
            }
        }
        out
    }
}

/// The stream of a reply: `message_start` (with the prompt's size), then each block's events,
/// `message_delta` (stop reason, usage) and `message_stop` — or an `error` event.
pub fn stream(
    events: impl Stream<Item = Result<StreamEvent>> + Send + 'static,
    model: String,
    prompt: u32,
    stop: Vec<String>,
) -> Response {
    let start = json!({"type": "message_start", "message": {
        "id": message_id(), "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": prompt, "output_tokens": 0}}});
    let mut blocks = Blocks {
        stop,
        next: 0,
        text_open: false,
    };
    let body = futures::stream::iter([("message_start", start)])
        .chain(events.flat_map(move |event| futures::stream::iter(blocks.event(event))))
        .map(|(name, data)| {
            Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()))
        });
    Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Anthropic's error `type` for an HTTP status.
pub fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}
