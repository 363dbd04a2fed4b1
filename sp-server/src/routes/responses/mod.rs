//! OpenAI's Responses API: `POST /v1/responses` and `GET /v1/responses/{id}`. A stored
//! response's conversation is a context (see `chain`), so `previous_response_id` continues
//! it across restarts, on either backend, with a prompt whose prefix is the previous turn's.

mod agent_run;
mod background;
mod input;
mod stream;
mod tools;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::chat::{ChatMessage, Completion};
use sp_core::responses::{self as output, PendingResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::charge::Charge;
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::routes::openai::{charged, max_cost};
use crate::routes::params::{InNamespace, RequestIdOf};
use crate::state::AppState;
pub use input::ResponseRequest;

/// The Responses routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_response))
        .routes(routes!(get_response, delete_response))
        .routes(routes!(cancel_response))
}

/// A model response (OpenAI's `response` object): from `input` (a string or items), after the
/// conversation of `previous_response_id` when given, with `instructions` as this response's
/// system message. Stored unless `store: false`. With `stream: true`, OpenAI's typed
/// server-sent events (`response.created` … `response.completed`); with `background: true`,
/// answered at once (`queued`) and polled. Function tools are answered by the client; our
/// extension, `{"type": "hub", "name" | "tag" | "capability"}` and `{"type": "builtin",
/// "name"}` tools (each with an optional `max_calls`), are run by the server as an agent run
/// whose calls come back as `mcp_call` items (the run is `agent_run_id`; such a key needs the
/// `events` scope and each tool's own). `truncation: "auto"` is refused: a conversation that
/// outgrows the window is `SP-LLM-001`, never cut.
#[utoipa::path(post, path = "/v1/responses", operation_id = "create_response", tag = "openai",
    request_body = ResponseRequest,
    params(("namespace" = Option<String>, Query, description = "Where the chain is kept (the caller's tenant's default when absent)")),
    responses(
        (status = 200, description = "A `response` object, or its events as server-sent events", body = serde_json::Value, example = json!({
            "id": "resp_…", "object": "response", "status": "completed", "model": "SmolLM2-135M-Instruct",
            "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]}],
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 3, "total_tokens": 15}})),
        (status = "4XX", description = "A refused field or item (400), an unknown previous response or model (404)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn create_response(
    State(state): State<AppState>,
    caller: Caller,
    request_id: RequestIdOf,
    InNamespace(namespace): InNamespace,
    ApiJson(request): ApiJson<ResponseRequest>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Inference)?;
    request.check()?;
    let (_, server) = tools::split(request.tools.as_deref())?;
    if !server.is_empty() {
        return agent_run::respond(&state, &caller, request_id.0, namespace, request, server).await;
    }
    let new = request.messages()?;
    let options = request.options()?;
    let sampling = request.sampling()?.in_scope(&caller.0.tenant);
    let store = request.store.unwrap_or(true);
    let platform = state.platform().await?;
    let pending = platform
        .responses
        .begin(
            &namespace,
            request.previous_response_id.as_deref(),
            store,
            new,
        )
        .await?;
    let messages = pending.prompt(request.instructions.as_deref());
    let (mut engine, charge, model) =
        match engine_and_charge(&state, &caller, &request, &messages, &options, &sampling).await {
            Ok(ready) => ready,
            Err(err) => {
                pending.abandon().await;
                return Err(err);
            }
        };
    if request.background {
        let shell = background_shell(&request, &model, &pending);
        let stop = background::register(pending.id(), &namespace, &shell);
        tokio::spawn(async move {
            let id = pending.id().to_owned();
            background::update(&id, |shell| shell["status"] = "in_progress".into());
            tokio::select! {
                done = engine.chat_with(&messages, &sampling, &options) => match done {
                    Ok(done) => {
                        charge.settle(done.usage).await;
                        let body = output::object(&request.settings(&model, store), &done, &output::message_id());
                        match pending.finish(&done, body).await {
                            Ok(_) => background::stored(&id),
                            Err(err) => background::failed(&id, &err.into()),
                        }
                    }
                    Err(err) => {
                        background::failed(&id, &err.into());
                        pending.abandon().await;
                    }
                },
                // Cancelled: generation stops as its future is dropped; nothing is stored.
                () = stop.notified() => pending.abandon().await,
            }
        });
        return Ok(axum::Json(shell).into_response());
    }
    if request.stream {
        let events = match engine.chat_stream_with(&messages, &sampling, &options) {
            Ok(events) => events,
            Err(err) => {
                pending.abandon().await;
                return Err(err.into());
            }
        };
        let events = charged(engine.holding(events), charge, state.clone());
        return Ok(stream::events(request, model, events.boxed(), pending));
    }
    match engine.chat_with(&messages, &sampling, &options).await {
        Ok(done) => {
            charge.settle(done.usage).await;
            let body = output::object(
                &request.settings(&model, store),
                &done,
                &output::message_id(),
            );
            Ok(axum::Json(pending.finish(&done, body).await?).into_response())
        }
        Err(err) => {
            pending.abandon().await;
            Err(err.into())
        }
    }
}

/// The model for `request`, and its maximum cost reserved on every budget it falls under.
async fn engine_and_charge(
    state: &AppState,
    caller: &Caller,
    request: &ResponseRequest,
    messages: &[ChatMessage],
    options: &sp_core::chat::ChatOptions,
    sampling: &sp_core::chat::Sampling,
) -> Result<(crate::served::ServedChat, Charge, String), ApiError> {
    let engine = crate::served::chat(state, caller, request.model.as_deref(), None).await?;
    // Counted only for a budget's reservation: generation tokenizes the prompt anyway.
    let prompt = if crate::budget::budgeted(state, caller) {
        engine.count_chat_tokens(messages, options)?
    } else {
        0
    };
    let prompt = u32::try_from(prompt).unwrap_or(u32::MAX);
    let model = engine.name().to_owned();
    let cost = max_cost(&engine, sampling, 1, prompt);
    let charge = Charge::begin_for(state, caller, &model, cost).await?;
    Ok((engine, charge, model))
}

/// A background response as it is answered and first polled: queued, no output yet.
pub(super) fn background_shell(
    request: &ResponseRequest,
    model: &str,
    pending: &PendingResponse,
) -> Value {
    let empty = Completion::new("", sp_core::chat::FinishReason::Stop, Default::default());
    let mut shell = output::object(
        &request.settings(model, pending.store()),
        &empty,
        &output::message_id(),
    );
    shell["id"] = pending.id().into();
    shell["status"] = "queued".into();
    shell["background"] = true.into();
    shell["output"] = json!([]);
    shell["usage"] = Value::Null;
    shell
}

/// A stored response.
#[utoipa::path(get, path = "/v1/responses/{id}", operation_id = "get_response", tag = "openai",
    params(("id" = String, Path, description = "The response's id"),
        ("namespace" = Option<String>, Query, description = "Where its chain is kept")),
    responses(
        (status = 200, description = "The `response` object", body = serde_json::Value),
        (status = 404, description = "SP-RES-001: no such response", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn get_response(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let platform = state.platform().await?;
    match platform.responses.get(&namespace, &id).await {
        Ok(body) => Ok(axum::Json(body)),
        Err(err) => background::poll(&id, &namespace)
            .map(axum::Json)
            .ok_or_else(|| err.into()),
    }
}

/// Stops a background response: `status: "cancelled"`, nothing of it stored. `409
/// SP-RES-002` for a response that already finished; `404` for one this server does not run.
#[utoipa::path(post, path = "/v1/responses/{id}/cancel", operation_id = "cancel_response", tag = "openai",
    params(("id" = String, Path, description = "The response's id"),
        ("namespace" = Option<String>, Query, description = "Where its chain is kept")),
    responses(
        (status = 200, description = "The `response` object, cancelled", body = serde_json::Value),
        (status = 404, description = "SP-RES-001: no such response", body = ErrorEnvelope),
        (status = 409, description = "SP-RES-002: it already finished", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn cancel_response(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let platform = state.platform().await?;
    // Only a caller who can read the response's chain may stop it.
    if let Ok(body) = platform.responses.get(&namespace, &id).await {
        let status = body["status"].as_str().unwrap_or("completed").to_owned();
        return Err(sp_core::Error::Conflict(format!("response {id} already {status}")).into());
    }
    background::cancel(&id, &namespace)
        .map(axum::Json)
        .ok_or_else(|| {
            sp_core::Error::NotFound {
                kind: sp_core::Resource::Response,
                id: id.clone(),
            }
            .into()
        })
}

/// Deletes a stored response (OpenAI's `response.deleted` object): its turn leaves its chain.
/// Only the newest response of a chain can go (`409 SP-RES-002` when later ones build on it);
/// a background response still running must be cancelled first (`409`).
#[utoipa::path(delete, path = "/v1/responses/{id}", operation_id = "delete_response", tag = "openai",
    params(("id" = String, Path, description = "The response's id"),
        ("namespace" = Option<String>, Query, description = "Where its chain is kept")),
    responses(
        (status = 200, description = "`{id, object: \"response.deleted\", deleted: true}`", body = serde_json::Value),
        (status = 404, description = "SP-RES-001: no such response", body = ErrorEnvelope),
        (status = 409, description = "SP-RES-002: later responses build on it, or it still runs", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn delete_response(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let platform = state.platform().await?;
    let deleted = json!({"id": id, "object": "response.deleted", "deleted": true});
    match platform.responses.delete(&namespace, &id).await {
        Ok(()) => Ok(axum::Json(deleted)),
        Err(sp_core::Error::NotFound { .. }) => {
            // Not stored: a background response this process ran, failed or cancelled.
            match background::forget(&id, &namespace) {
                Some(true) => Ok(axum::Json(deleted)),
                Some(false) => Err(sp_core::Error::Conflict(format!(
                    "response {id} is still running: cancel it first"
                ))
                .into()),
                None => Err(sp_core::Error::NotFound {
                    kind: sp_core::Resource::Response,
                    id: id.clone(),
                }
                .into()),
            }
        }
        Err(err) => Err(err.into()),
    }
}
