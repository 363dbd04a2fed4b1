//! `/v1/embeddings`.

use axum::extract::State;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::catalogue::KeepAlive;
use sp_core::{Embedder as _, Error, Tokenizer as _};

use crate::budget::MaxCost;
use crate::charge::Charge;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
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
    /// How long the model stays loaded after this request (Ollama's `keep_alive`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    keep_alive: Option<KeepAlive>,
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
    let embedder = crate::served::embedder(
        &state,
        &caller,
        request.model.as_deref(),
        request.keep_alive,
    )
    .await?;
    let served = embedder.name();
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
