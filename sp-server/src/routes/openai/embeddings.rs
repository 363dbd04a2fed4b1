//! `/v1/embeddings` and `/v1/models`.

use axum::extract::{Path, State};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::{Embedder as _, Error, Tokenizer as _};

use super::chat::check_served;
use crate::budget::MaxCost;
use crate::charge::Charge;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

/// Most inputs one request may embed.
const MAX_INPUTS: usize = 2048;
/// Most tokens one request may embed, all inputs together.
const MAX_TOKENS: usize = 65_536;

/// One text or several.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = EmbeddingInput)]
enum Input {
    One(String),
    Many(Vec<String>),
}

/// Texts to embed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmbeddingsRequest {
    /// The loaded model's id; may be omitted.
    #[serde(default)]
    model: Option<String>,
    /// 1 to 2048 non-empty strings.
    input: Input,
    /// `float` (default) or `base64` (little-endian f32).
    #[serde(default)]
    encoding_format: Option<String>,
}

/// Embeddings of texts, L2-normalised (OpenAI's `list` of `embedding` objects).
#[utoipa::path(post, path = "/v1/embeddings", operation_id = "create_embeddings", tag = "openai",
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, description = "A `list` of `embedding` objects", body = serde_json::Value,
            example = json!({"object": "list", "model": "SmolLM2-135M-Instruct",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.01, -0.02]}],
                "usage": {"prompt_tokens": 4, "total_tokens": 4}})),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn embeddings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<EmbeddingsRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    let embedder = state.embedder().ok_or_else(|| {
        Error::unavailable(
            "model",
            "the server has no embedding model (model.embedding_path or model.path)",
        )
    })?;
    let served = embedder.model_id();
    check_served(served, &caller, request.model.as_deref())?;
    let texts = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    if texts.is_empty() || texts.len() > MAX_INPUTS || texts.iter().any(String::is_empty) {
        return Err(
            Error::invalid_input("input", format!("1 to {MAX_INPUTS} non-empty strings")).into(),
        );
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(Error::invalid_input(
                "encoding_format",
                format!("`{other}`: float or base64"),
            )
            .into());
        }
    };
    let mut tokens = 0;
    for text in &texts {
        tokens += embedder.count_tokens(text)?;
        // One request may not hold the embedding worker for long (review finding M6).
        if tokens > MAX_TOKENS {
            return Err(Error::invalid_input(
                "input",
                format!("more than {MAX_TOKENS} tokens in one request: send fewer texts"),
            )
            .into());
        }
    }
    let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
    let charge = Charge::begin_for(&state, &caller, served, MaxCost::embedding(tokens)).await?;
    let vectors = embedder.embed(&texts).await?;
    charge.embedded(tokens).await;
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(axum::Json(json!({
        "object": "list",
        "data": data,
        "model": served,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// A `model` object for each model served: the chat model, and the dedicated embedding
/// model when there is one.
fn model_cards(state: &AppState) -> Vec<Value> {
    let mut cards = Vec::new();
    if let Some(engine) = state.engine() {
        cards.push(json!({
            "id": engine.info().id,
            "object": "model",
            "created": 0,
            "owned_by": "story-portal",
            "kind": "chat",
            "context_length": engine.config().context_per_slot,
            // How chats are rendered: `jinja` (the model's own template) or `llama.cpp` (the
            // built-in matcher, with the reason), and how tool calls are written.
            "chat_template": engine.template_info(),
        }));
    }
    if let Some(embedder) = state.embedder() {
        let shared = state
            .engine()
            .is_some_and(|engine| engine.info().id == embedder.model_id());
        if !shared {
            cards.push(json!({
                "id": embedder.model_id(),
                "object": "model",
                "created": 0,
                "owned_by": "story-portal",
                "kind": "embedding",
                "context_length": embedder.window(),
                "dimensions": embedder.dimensions(),
            }));
        }
    }
    cards
}

/// The models served (OpenAI's `list` of `model` objects, each with its `kind`: `chat` or
/// `embedding`; empty without a model).
#[utoipa::path(get, path = "/v1/models", operation_id = "list_models", tag = "openai",
    responses(
        (status = 200, description = "A `list` of `model` objects", body = serde_json::Value,
            example = json!({"object": "list", "data": [{"id": "SmolLM2-135M-Instruct", "object": "model",
                "created": 0, "owned_by": "story-portal", "kind": "chat", "context_length": 4096,
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

/// One model by id.
#[utoipa::path(get, path = "/v1/models/{id}", operation_id = "get_model", tag = "openai",
    params(("id" = String, Path, description = "Model id")),
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
    match model_cards(&state)
        .into_iter()
        .find(|card| card["id"] == id.as_str() && usable(&caller, card))
    {
        Some(card) => Ok(axum::Json(card)),
        None => Err(Error::NotFound {
            kind: sp_core::Resource::Model,
            id,
        }
        .into()),
    }
}

/// Whether the caller's key may use the model `card` describes (a key limited to some
/// models sees only those).
fn usable(caller: &Caller, card: &Value) -> bool {
    card["id"]
        .as_str()
        .is_some_and(|id| caller.0.may_use_model(id).is_ok())
}
