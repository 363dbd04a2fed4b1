//! `/v1/chat/completions` and `/v1/completions`, whole or streamed as server-sent events.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::chat::{ChatMessage, Sampling, StreamEvent};
use sp_core::{Error, Result};
use sp_llm::Engine;

use super::reply::{ChatChunks, chat_choice, completion_logprobs};
use super::wire::{
    ChatRequest, CompletionRequest, Endpoint, Prompt, WireUsage, completion_id, created,
    finish_reason, unsupported,
};
use crate::budget::{MaxCost, prompt_tokens, tokens_in};
use crate::charge::Charge;
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

/// Refuses a model this server does not serve (404) and one the caller's key may not use
/// (403; an absent `model` means the served one).
pub(crate) fn check_model(engine: &Engine, caller: &Caller, model: Option<&str>) -> Result<()> {
    crate::served::check_served(&engine.info().id, caller, model)
}

/// Chat completion with the model's own chat template (OpenAI's `chat.completion`, or
/// `chat.completion.chunk` server-sent events ending in `data: [DONE]` when `stream` is true).
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "create_chat_completion", tag = "openai",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "A `chat.completion` object, or its chunks as server-sent events",
            content(
                (serde_json::Value = "application/json", example = json!({
                    "id": "chatcmpl-…", "object": "chat.completion", "created": 1_763_900_000, "model": "SmolLM2-135M-Instruct",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 0}}})),
                (String = "text/event-stream"))),
        (status = "4XX", description = "SP-LLM-001: prompt plus max_tokens exceed the window (400); unknown model (404)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ChatRequest>,
) -> std::result::Result<Response, ApiError> {
    caller.require(Scope::Inference)?;
    unsupported(&request.other)?;
    let mut engine = crate::served::chat(
        &state,
        &caller,
        request.model.as_deref(),
        request.keep_alive,
    )
    .await?;
    if request.messages.is_empty() {
        return Err(Error::invalid_input("messages", "must not be empty").into());
    }
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| m.to_chat(i))
        .collect::<Result<Vec<ChatMessage>>>()?;
    let sampling = request
        .sampling
        .sampling(Sampling::UNTIL_WINDOW, Endpoint::Chat)?
        .in_scope(&caller.0.tenant);
    let options = request.shape.options()?;
    let choices = request.sampling.choices()?;
    let prompt = prompt_tokens(&state, &caller, || {
        engine.render_chat(&messages).unwrap_or_default()
    });
    let cost = max_cost(&engine, &sampling, choices, prompt);
    let model = engine.name().to_owned();
    let charge = Charge::begin_for(&state, &caller, &model, cost).await?;
    let id = completion_id("chatcmpl");
    if request.sampling.stream {
        let events = engine.chat_stream_with(&messages, &sampling, &options)?;
        let events = charged(engine.holding(events), charge, state.clone());
        let mut chunks = ChatChunks::new(id, model, request.sampling.include_usage());
        let first = chunks.opening();
        let body = events.map(move |event| match event {
            Ok(event) => chunks.event(event),
            Err(err) => vec![error_chunk(err)],
        });
        return Ok(sse(
            futures::stream::once(async move { vec![first] }).chain(body)
        ));
    }
    let replies = engine
        .chat_n(&messages, &sampling, &options, choices)
        .await?;
    let mut usage = replies[0].usage;
    for extra in &replies[1..] {
        // The prompt is counted once, as OpenAI does; every choice's tokens are generated.
        usage.completion_tokens += extra.usage.completion_tokens;
    }
    charge.settle(usage).await;
    Ok(axum::Json(json!({
        "id": id, "object": "chat.completion", "created": created(), "model": model,
        "choices": replies.iter().enumerate().map(|(i, r)| chat_choice(i, r)).collect::<Vec<_>>(),
        "usage": WireUsage::from(usage),
    }))
    .into_response())
}

/// Plain completion of a prompt (OpenAI's `text_completion`, streamed like chat).
#[utoipa::path(post, path = "/v1/completions", operation_id = "create_completion", tag = "openai",
    request_body = CompletionRequest,
    responses(
        (status = 200, description = "A `text_completion` object, or its chunks as server-sent events",
            content(
                (serde_json::Value = "application/json", example = json!({
                    "id": "cmpl-…", "object": "text_completion", "created": 1_763_900_000, "model": "SmolLM2-135M-Instruct",
                    "choices": [{"index": 0, "text": " world", "finish_reason": "length"}],
                    "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3, "prompt_tokens_details": {"cached_tokens": 0}}})),
                (String = "text/event-stream"))),
        (status = "4XX", description = "SP-LLM-001: prompt plus max_tokens exceed the window (400); unknown model (404)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn completions(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CompletionRequest>,
) -> std::result::Result<Response, ApiError> {
    caller.require(Scope::Inference)?;
    unsupported(&request.other)?;
    let mut engine = crate::served::chat(
        &state,
        &caller,
        request.model.as_deref(),
        request.keep_alive,
    )
    .await?;
    let prompt = match &request.prompt {
        Prompt::One(p) => p.clone(),
        Prompt::Many(list) if list.len() == 1 => list[0].clone(),
        Prompt::Many(_) => {
            return Err(Error::invalid_input("prompt", "send one prompt per request").into());
        }
    };
    // OpenAI's default for completions is 16 tokens.
    let sampling = request
        .sampling
        .sampling(16, Endpoint::Completions)?
        .in_scope(&caller.0.tenant);
    let choices = request.sampling.choices()?;
    let cost = max_cost(
        &engine,
        &sampling,
        choices,
        prompt_tokens(&state, &caller, || prompt.clone()),
    );
    let model = engine.name().to_owned();
    let charge = Charge::begin_for(&state, &caller, &model, cost).await?;
    let id = completion_id("cmpl");
    if request.sampling.stream {
        let events = engine.complete_stream(&prompt, &sampling)?;
        let events = charged(engine.holding(events), charge, state.clone());
        let include_usage = request.sampling.include_usage();
        let chunk = move |text: &str, finish: Option<&str>, logprobs: Value| {
            json!({
                "id": id, "object": "text_completion", "created": created(), "model": model,
                "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}],
            })
        };
        let mut pending: Option<Vec<sp_core::chat::TokenLogprob>> = None;
        let mut sent = 0;
        let body = events.map(move |event| match event {
            Ok(StreamEvent::Logprobs { tokens }) => {
                pending.get_or_insert_with(Vec::new).extend(tokens);
                Vec::new()
            }
            Ok(StreamEvent::Delta { text }) => {
                let logprobs = pending
                    .take()
                    .map_or(Value::Null, |t| completion_logprobs(&t, sent));
                sent += text.len();
                vec![chunk(&text, None, logprobs)]
            }
            Ok(StreamEvent::ToolCalls { .. }) => Vec::new(),
            Ok(StreamEvent::Done {
                finish_reason: reason,
                usage,
            }) => {
                let logprobs = pending
                    .take()
                    .map_or(Value::Null, |t| completion_logprobs(&t, sent));
                let mut last = chunk("", Some(finish_reason(reason)), logprobs);
                if include_usage {
                    last["usage"] = json!(WireUsage::from(usage));
                }
                vec![last]
            }
            Err(err) => vec![error_chunk(err)],
        });
        return Ok(sse(body));
    }
    let replies = engine.complete_n(&prompt, &sampling, choices).await?;
    let mut usage = replies[0].usage;
    for extra in &replies[1..] {
        usage.completion_tokens += extra.usage.completion_tokens;
    }
    charge.settle(usage).await;
    let choices: Vec<Value> = replies
        .iter()
        .enumerate()
        .map(|(i, done)| {
            json!({
                "index": i, "text": done.text,
                "logprobs": done.logprobs.as_deref().map(|t| completion_logprobs(t, 0)),
                "finish_reason": finish_reason(done.finish_reason),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "id": id, "object": "text_completion", "created": created(), "model": model,
        "choices": choices,
        "usage": WireUsage::from(usage),
    }))
    .into_response())
}

/// What a request of `prompt` tokens and `choices` replies with `sampling` may cost at most.
pub(crate) fn max_cost(
    engine: &Engine,
    sampling: &Sampling,
    choices: usize,
    prompt: u32,
) -> MaxCost {
    MaxCost {
        prompt,
        max_tokens: (sampling.max_tokens != Sampling::UNTIL_WINDOW).then_some(sampling.max_tokens),
        window: engine.config().context_per_slot,
        choices: u32::try_from(choices).unwrap_or(u32::MAX),
    }
}

/// `events`, settling `charge` on the usage of the last event when it passes — or, when the
/// client leaves first and the stream is dropped, on the deltas it was sent.
pub(crate) fn charged(
    events: impl Stream<Item = Result<StreamEvent>> + Send + 'static,
    charge: Charge,
    state: AppState,
) -> impl Stream<Item = Result<StreamEvent>> + Send + 'static {
    let mut charge = Some(charge);
    events.map(move |event| {
        match &event {
            Ok(StreamEvent::Delta { text }) => {
                if let Some(charge) = &charge {
                    charge.count(tokens_in(&state, text));
                }
            }
            Ok(StreamEvent::Done { usage, .. }) => {
                if let Some(charge) = charge.take() {
                    tokio::spawn(charge.settle(*usage));
                }
            }
            _ => {}
        }
        event
    })
}

fn error_chunk(err: Error) -> Value {
    json!({"error": ApiError::from(err).stream_body()})
}

/// Server-sent events: one `data:` line per JSON chunk, then `data: [DONE]`.
fn sse(chunks: impl Stream<Item = Vec<Value>> + Send + 'static) -> Response {
    let events = chunks
        .flat_map(futures::stream::iter)
        .map(|chunk| Event::default().data(chunk.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }))
        .map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
