//! A response as OpenAI's typed server-sent events: `response.created`,
//! `response.in_progress`, the output items with their deltas
//! (`response.output_text.delta`, `response.function_call_arguments.delta`), then
//! `response.completed` (or `.incomplete`) with the stored response — or `response.failed`.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::stream::BoxStream;
use serde_json::{Value, json};
use sp_core::chat::{Completion, FinishReason, StreamEvent, Usage};

use super::input::ResponseRequest;
use crate::error::ApiError;
use sp_core::responses::PendingResponse;
use sp_core::responses::{self as output, call_item};

/// Numbers events and sends them; `false` once the client has gone.
struct Sender {
    out: UnboundedSender<Event>,
    sequence: u64,
}

impl Sender {
    fn send(&mut self, kind: &str, mut data: Value) -> bool {
        data["type"] = kind.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        self.out
            .unbounded_send(Event::default().event(kind).data(data.to_string()))
            .is_ok()
    }
}

/// The response's events; the reply is stored before `response.completed` is sent. A client
/// that leaves stops generation (the events stream is dropped).
pub fn events(
    request: ResponseRequest,
    model: String,
    mut events: BoxStream<'static, sp_core::Result<StreamEvent>>,
    pending: PendingResponse,
) -> Response {
    let (out, body) = unbounded();
    let mut tx = Sender { out, sequence: 0 };
    tokio::spawn(async move {
        let message_id = output::message_id();
        let mut shell = output::object(
            &request.settings(&model, pending.store()),
            &Completion::new("", FinishReason::Stop, Usage::default()),
            &message_id,
        );
        shell["id"] = pending.id().into();
        shell["status"] = "in_progress".into();
        shell["output"] = json!([]);
        shell["usage"] = Value::Null;
        if !tx.send("response.created", json!({"response": shell}))
            || !tx.send("response.in_progress", json!({"response": shell}))
        {
            pending.abandon().await;
            return;
        }
        let mut text = String::new();
        let mut calls = Vec::new();
        let mut text_open = false;
        let mut index = 0;
        let done = loop {
            let Some(event) = events.next().await else {
                break Err(sp_core::Error::internal("the reply ended without its end"));
            };
            let sent = match event {
                Ok(StreamEvent::Delta { text: delta }) => {
                    let mut sent = true;
                    if !text_open {
                        text_open = true;
                        sent = tx.send(
                            "response.output_item.added",
                            json!({"output_index": index,
                            "item": {"type": "message", "id": message_id, "status": "in_progress",
                                "role": "assistant", "content": []}}),
                        ) && tx.send(
                            "response.content_part.added",
                            json!({"item_id": message_id,
                                "output_index": index, "content_index": 0,
                                "part": {"type": "output_text", "text": "", "annotations": []}}),
                        );
                    }
                    text.push_str(&delta);
                    sent && tx.send(
                        "response.output_text.delta",
                        json!({"item_id": message_id,
                        "output_index": index, "content_index": 0, "delta": delta, "logprobs": []}),
                    )
                }
                Ok(StreamEvent::ToolCalls { calls: made }) => {
                    calls = made;
                    true
                }
                Ok(StreamEvent::Logprobs { .. }) => true,
                Ok(StreamEvent::Done {
                    finish_reason,
                    usage,
                }) => {
                    let mut done = Completion::new(text.clone(), finish_reason, usage);
                    done.tool_calls = std::mem::take(&mut calls);
                    break Ok(done);
                }
                Err(err) => break Err(err),
            };
            if !sent {
                // The client left: dropping the events stops generation; nothing is stored.
                pending.abandon().await;
                return;
            }
        };
        let done = match done {
            Ok(done) => done,
            Err(err) => {
                let err = ApiError::from(err);
                shell["status"] = "failed".into();
                shell["error"] = json!({"code": err.code.as_str(), "message": err.message});
                tx.send("response.failed", json!({"response": shell}));
                pending.abandon().await;
                return;
            }
        };
        if text_open {
            let part = json!({"type": "output_text", "text": done.text, "annotations": []});
            tx.send(
                "response.output_text.done",
                json!({"item_id": message_id,
                "output_index": index, "content_index": 0, "text": done.text, "logprobs": []}),
            );
            tx.send(
                "response.content_part.done",
                json!({"item_id": message_id,
                "output_index": index, "content_index": 0, "part": part}),
            );
            tx.send(
                "response.output_item.done",
                json!({"output_index": index,
                "item": {"type": "message", "id": message_id, "status": "completed",
                    "role": "assistant", "content": [part]}}),
            );
            index += 1;
        }
        for call in &done.tool_calls {
            let item_id = format!("fc_{}", call.id);
            tx.send(
                "response.output_item.added",
                json!({"output_index": index,
                "item": {"type": "function_call", "id": item_id, "call_id": call.id,
                    "name": call.name, "arguments": "", "status": "in_progress"}}),
            );
            tx.send(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id,
                "output_index": index, "delta": call.arguments}),
            );
            tx.send(
                "response.function_call_arguments.done",
                json!({"item_id": item_id,
                "output_index": index, "name": call.name, "arguments": call.arguments}),
            );
            tx.send(
                "response.output_item.done",
                json!({"output_index": index,
                "item": call_item(call, "completed")}),
            );
            index += 1;
        }
        let body = output::object(
            &request.settings(&model, pending.store()),
            &done,
            &message_id,
        );
        let finished = match done.finish_reason {
            FinishReason::Length => "response.incomplete",
            _ => "response.completed",
        };
        match pending.finish(&done, body).await {
            Ok(body) => tx.send(finished, json!({"response": body})),
            Err(err) => {
                let err = ApiError::from(err);
                shell["status"] = "failed".into();
                shell["error"] = json!({"code": err.code.as_str(), "message": err.message});
                tx.send("response.failed", json!({"response": shell}))
            }
        };
    });
    Sse::new(body.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::default())
        .into_response()
}
