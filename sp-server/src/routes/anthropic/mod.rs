//! Anthropic's Messages API: `/v1/messages` (whole or streamed) and
//! `/v1/messages/count_tokens`, with Anthropic's field names, content blocks, stream events
//! and error shape (`{"type": "error", "error": {"type", "message", "code"}}`).

mod blocks;
mod reply;
mod wire;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sp_core::auth::Scope;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::charge::Charge;
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::routes::openai::{charged, max_cost};
use crate::state::AppState;
pub(crate) use reply::anthropic_type;
pub use wire::MessagesRequest;

/// The Messages routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(messages))
        .routes(routes!(count_tokens))
}

/// Whether `path` answers in Anthropic's shapes (its errors included).
pub(crate) fn speaks_anthropic(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// A reply to a conversation of content blocks (Anthropic's `message`), or its stream of
/// events (`message_start`, `content_block_start` / `_delta` / `_stop`, `message_delta`,
/// `message_stop`) when `stream` is true. Tool calls are decoded under each tool's
/// `input_schema`; `tool_choice` is enforced.
#[utoipa::path(post, path = "/v1/messages", operation_id = "create_message", tag = "anthropic",
    request_body = MessagesRequest,
    responses(
        (status = 200, description = "A `message`, or its events as server-sent events",
            content(
                (serde_json::Value = "application/json", example = json!({
                    "id": "msg_…", "type": "message", "role": "assistant", "model": "SmolLM2-135M-Instruct",
                    "content": [{"type": "text", "text": "Hello!"}], "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}})),
                (String = "text/event-stream"))),
        (status = "4XX", description = "Anthropic's error shape with our code: a refused field or block (400), an unknown model (404)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<MessagesRequest>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Inference)?;
    let messages = request.chat_messages()?;
    let options = request.options()?;
    let sampling = request.sampling()?.in_scope(&caller.0.tenant);
    let mut engine = crate::served::chat(&state, &caller, Some(&request.model), None).await?;
    // Counted for a budget's reservation, or for the stream's `message_start` (which reports
    // it before generation does); otherwise generation's own count is the one reported.
    let prompt = if request.stream || crate::budget::budgeted(&state, &caller) {
        engine.count_chat_tokens(&messages, &options)?
    } else {
        0
    };
    let prompt = u32::try_from(prompt).unwrap_or(u32::MAX);
    let model = engine.name().to_owned();
    let cost = max_cost(&engine, &sampling, 1, prompt);
    let charge = Charge::begin_for(&state, &caller, &model, cost).await?;
    let stop = request.stop_sequences.clone().unwrap_or_default();
    if request.stream {
        let events = engine.chat_stream_with(&messages, &sampling, &options)?;
        let events = charged(engine.holding(events), charge, state.clone());
        return Ok(reply::stream(events, model, prompt, stop));
    }
    let done = engine.chat_with(&messages, &sampling, &options).await?;
    charge.settle(done.usage).await;
    Ok(axum::Json(reply::message(&reply::message_id(), &model, &done, &stop)).into_response())
}

/// The prompt's size in tokens — exactly what `/v1/messages` would give the model for the
/// same `model`, `system`, `messages`, `tools` and `tool_choice` (template and tool layout
/// included). `max_tokens` may be left out.
#[utoipa::path(post, path = "/v1/messages/count_tokens", operation_id = "count_message_tokens", tag = "anthropic",
    request_body = MessagesRequest,
    responses(
        (status = 200, description = "The prompt's tokens", body = serde_json::Value,
            example = json!({"input_tokens": 14})),
        (status = "4XX", description = "Anthropic's error shape with our code", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn count_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<MessagesRequest>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(Scope::Inference)?;
    if request.stream {
        return Err(sp_core::Error::invalid_input("stream", "is not supported here").into());
    }
    let messages = request.chat_messages()?;
    let options = request.options()?;
    let engine = crate::served::chat(&state, &caller, Some(&request.model), None).await?;
    let tokens = engine.count_chat_tokens(&messages, &options)?;
    Ok(axum::Json(json!({"input_tokens": tokens})))
}
