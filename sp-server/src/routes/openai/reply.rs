//! OpenAI's reply shapes: a chat choice (text or `tool_calls`), log-probabilities in the
//! chat and completions forms, and the streamed chunks a chat reply becomes.

use serde_json::{Value, json};
use sp_core::chat::{Completion, StreamEvent, TokenLogprob, ToolCall};

use super::wire::{WireUsage, created, finish_reason};

fn tool_call(call: &ToolCall) -> Value {
    json!({"id": call.id, "type": "function",
        "function": {"name": call.name, "arguments": call.arguments}})
}

/// `choices[i]` of a `chat.completion`.
pub fn chat_choice(index: usize, done: &Completion) -> Value {
    let message = if done.tool_calls.is_empty() {
        json!({"role": "assistant", "content": done.text})
    } else {
        json!({"role": "assistant", "content": null,
            "tool_calls": done.tool_calls.iter().map(tool_call).collect::<Vec<_>>()})
    };
    json!({
        "index": index,
        "message": message,
        "logprobs": done.logprobs.as_deref().map(chat_logprobs),
        "finish_reason": finish_reason(done.finish_reason),
    })
}

/// Chat's `logprobs`: `{"content": [{"token", "logprob", "bytes", "top_logprobs"}]}`.
pub fn chat_logprobs(tokens: &[TokenLogprob]) -> Value {
    let content: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({"token": t.token, "logprob": t.logprob, "bytes": t.bytes,
                "top_logprobs": t.top_logprobs.iter()
                    .map(|a| json!({"token": a.token, "logprob": a.logprob, "bytes": a.bytes}))
                    .collect::<Vec<_>>()})
        })
        .collect();
    json!({"content": content, "refusal": null})
}

/// Completions' `logprobs`: parallel lists, `text_offset` counted from `offset` (bytes of
/// text already sent).
pub fn completion_logprobs(tokens: &[TokenLogprob], offset: usize) -> Value {
    let mut at = offset;
    let mut offsets = Vec::with_capacity(tokens.len());
    for t in tokens {
        offsets.push(at);
        at += t.token.len();
    }
    json!({
        "tokens": tokens.iter().map(|t| t.token.as_str()).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": tokens.iter().map(|t| {
            t.top_logprobs.iter().map(|a| (a.token.clone(), json!(a.logprob))).collect::<serde_json::Map<_, _>>()
        }).collect::<Vec<_>>(),
        "text_offset": offsets,
    })
}

/// Turns a chat's events into `chat.completion.chunk`s.
pub struct ChatChunks {
    pub id: String,
    pub model: String,
    pub include_usage: bool,
    /// Log-probabilities waiting for the delta whose text they describe.
    pending: Option<Vec<TokenLogprob>>,
}

impl ChatChunks {
    pub fn new(id: String, model: String, include_usage: bool) -> Self {
        ChatChunks {
            id,
            model,
            include_usage,
            pending: None,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, logprobs: Option<Value>) -> Value {
        let mut choice = json!({"index": 0, "delta": delta, "finish_reason": finish});
        if let Some(logprobs) = logprobs {
            choice["logprobs"] = logprobs;
        }
        json!({"id": self.id, "object": "chat.completion.chunk", "created": created(),
            "model": self.model, "choices": [choice]})
    }

    /// The first chunk: the role.
    pub fn opening(&self) -> Value {
        self.chunk(json!({"role": "assistant", "content": ""}), None, None)
    }

    /// The chunks of one event.
    pub fn event(&mut self, event: StreamEvent) -> Vec<Value> {
        match event {
            StreamEvent::Logprobs { tokens } => {
                self.pending.get_or_insert_with(Vec::new).extend(tokens);
                Vec::new()
            }
            StreamEvent::Delta { text } => {
                let logprobs = self.pending.take().map(|t| chat_logprobs(&t));
                vec![self.chunk(json!({"content": text}), None, logprobs)]
            }
            StreamEvent::ToolCalls { calls } => calls
                .iter()
                .enumerate()
                .flat_map(|(i, call)| {
                    // As OpenAI streams them: the call's head, then its arguments.
                    [
                        self.chunk(
                            json!({"tool_calls": [{"index": i, "id": call.id, "type": "function",
                                "function": {"name": call.name, "arguments": ""}}]}),
                            None,
                            None,
                        ),
                        self.chunk(
                            json!({"tool_calls": [{"index": i,
                                "function": {"arguments": call.arguments}}]}),
                            None,
                            None,
                        ),
                    ]
                })
                .collect(),
            StreamEvent::Done {
                finish_reason: reason,
                usage,
            } => {
                let logprobs = self.pending.take().map(|t| chat_logprobs(&t));
                let mut last = vec![self.chunk(json!({}), Some(finish_reason(reason)), logprobs)];
                if self.include_usage {
                    let mut usage_chunk = self.chunk(json!({}), None, None);
                    usage_chunk["choices"] = json!([]);
                    usage_chunk["usage"] = json!(WireUsage::from(usage));
                    last.push(usage_chunk);
                }
                last
            }
        }
    }
}
