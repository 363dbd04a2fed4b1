//! `/v1/models`: the catalogue and each model's state; `load` and `unload` for admins.

use axum::extract::{Path, State};
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::catalogue::ModelKind;
use sp_core::{Embedder as _, Error};
use sp_llm::ModelStatus;

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

/// A `model` object for each catalogue entry, with its kind, state, size and memory
/// estimate; the loaded chat model's template and the loaded embedder's dimensions.
fn model_cards(state: &AppState) -> Vec<Value> {
    let Some(runtime) = state.models() else {
        return single_engine_cards(state);
    };
    runtime
        .list()
        .into_iter()
        .map(|status| card(state, &status))
        .collect()
}

pub(super) fn card(state: &AppState, status: &ModelStatus) -> Value {
    let mut card = json!({
        "id": status.name,
        "object": "model",
        "created": 0,
        "owned_by": "story-portal",
        "kind": status.kind,
        "state": status.state,
        "aliases": status.aliases,
        "pinned": status.pinned,
        "keep_alive": status.keep_alive,
        "context_length": status.context_length,
        "size_bytes": status.size_bytes,
        "memory": status.memory,
        "in_use": status.in_use,
        "loads": status.loads,
    });
    if let Some(error) = &status.error {
        card["error"] = json!(error);
    }
    if let Some(runtime) = state.models() {
        if let Some(engine) = runtime.resident_engine(&status.name) {
            // How chats are rendered: `jinja` (the model's own template) or `llama.cpp` (the
            // built-in matcher, with the reason), and how tool calls are written.
            card["chat_template"] = json!(engine.template_info());
        }
        if let Some(embedder) = runtime.resident_embedder(&status.name) {
            card["dimensions"] = json!(embedder.dimensions());
        }
    }
    card
}

/// The cards of a state built around one engine ([`AppState::new`]).
fn single_engine_cards(state: &AppState) -> Vec<Value> {
    let mut cards = Vec::new();
    if let Some(engine) = state.engine() {
        cards.push(json!({
            "id": engine.info().id, "object": "model", "created": 0, "owned_by": "story-portal",
            "kind": ModelKind::Chat, "state": "loaded",
            "context_length": engine.config().context_per_slot,
            "chat_template": engine.template_info(),
        }));
    }
    cards
}

/// The catalogue (OpenAI's `list` of `model` objects, each with `kind` — `chat`,
/// `embedding` or `rerank` —, `state` — `loaded`, `loading` or `unloaded` —, its size and
/// memory estimate).
#[utoipa::path(get, path = "/v1/models", operation_id = "list_models", tag = "openai",
    responses(
        (status = 200, description = "A `list` of `model` objects", body = serde_json::Value,
            example = json!({"object": "list", "data": [{"id": "SmolLM2-135M-Instruct", "object": "model",
                "created": 0, "owned_by": "story-portal", "kind": "chat", "state": "loaded", "aliases": [],
                "pinned": true, "keep_alive": "-1", "context_length": 4096, "size_bytes": 92_000_000,
                "memory": {"weights": 91_000_000, "kv_cache": 369_098_752, "compute": 160_000_000, "prefix_cache": 536_870_912, "total": 1_156_969_664},
                "in_use": 0, "loads": 1,
                "chat_template": {"renderer": "jinja", "fallback_reason": null, "tool_syntax": "envelope"}}]})),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn models(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let data: Vec<Value> = model_cards(&state)
        .into_iter()
        .filter(|card| usable(&caller, card))
        .collect();
    Ok(axum::Json(json!({"object": "list", "data": data})))
}

/// One model by name or alias.
#[utoipa::path(get, path = "/v1/models/{id}", operation_id = "get_model", tag = "openai",
    params(("id" = String, Path, description = "Model name or alias")),
    responses(
        (status = 200, description = "A `model` object", body = serde_json::Value),
        NotFound, GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let name = match state.models() {
        Some(runtime) => runtime.catalogue().resolve(&id)?.name.clone(),
        None => id.clone(),
    };
    match model_cards(&state)
        .into_iter()
        .find(|card| card["id"] == name.as_str() && usable(&caller, card))
    {
        Some(card) => Ok(axum::Json(card)),
        None => Err(Error::NotFound {
            kind: sp_core::Resource::Model,
            id,
        }
        .into()),
    }
}

/// Loads a model now (admin): it fits the memory budget (idle models are unloaded to make
/// room) or is refused with 503 `SP-LLM-008` and `Retry-After`.
#[utoipa::path(post, path = "/v1/models/{id}/load", operation_id = "load_model", tag = "openai",
    params(("id" = String, Path, description = "Model name or alias")),
    responses(
        (status = 200, description = "The `model` object, loaded", body = serde_json::Value),
        (status = 503, description = "SP-LLM-008: it does not fit the memory budget", body = crate::error::ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
pub async fn load_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let runtime = runtime(&state)?;
    let status = runtime.load(&id).await?;
    Ok(axum::Json(card(&state, &status)))
}

/// Unloads a model now, or when its running requests end (admin). The default chat and
/// embedding models back the platform's stores: 409.
#[utoipa::path(post, path = "/v1/models/{id}/unload", operation_id = "unload_model", tag = "openai",
    params(("id" = String, Path, description = "Model name or alias")),
    responses(
        (status = 200, description = "The `model` object", body = serde_json::Value),
        (status = 409, description = "SP-RES-002: a default model the platform is built on", body = crate::error::ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
pub async fn unload_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Admin)?;
    let runtime = runtime(&state)?;
    let status = runtime.unload(&id).await?;
    Ok(axum::Json(card(&state, &status)))
}

fn runtime(state: &AppState) -> Result<&sp_llm::ModelRuntime, Error> {
    state
        .models()
        .ok_or_else(|| Error::unavailable("model", "this server has no model catalogue"))
}

/// Whether the caller's key may use the model `card` describes (a key limited to some
/// models sees only those).
fn usable(caller: &Caller, card: &Value) -> bool {
    card["id"]
        .as_str()
        .is_some_and(|id| caller.0.may_use_model(id).is_ok())
}
