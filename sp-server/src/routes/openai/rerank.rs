//! `/v1/rerank`: documents scored against a query (the Cohere / Jina shape llama-server and
//! vLLM serve), and the scoring the search's rerank stage shares.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use sp_core::auth::Scope;
use sp_core::catalogue::KeepAlive;
use sp_core::rerank::{EmbeddingReranker, Reranker as _, ranked};
use sp_core::{Error, Tokenizer as _};

use crate::budget::MaxCost;
use crate::charge::Charge;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

/// Most documents one request may rerank.
const MAX_DOCUMENTS: usize = 1000;
/// Most tokens one request may score, query and documents together (as `/v1/embeddings`).
const MAX_TOKENS: usize = 65_536;

/// A document: its text, or an object holding it (Cohere's `{"text": …}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = RerankDocument)]
enum Document {
    Text(String),
    Object(TextObject),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TextObject {
    text: String,
}

impl Document {
    fn into_text(self) -> String {
        match self {
            Document::Text(text) | Document::Object(TextObject { text }) => text,
        }
    }
}

/// Documents to score against a query.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    /// The scoring model's name: a cross-encoder (`kind = "rerank"`) or an embedding model;
    /// absent: the default rerank model, else the default embedding model.
    #[serde(default)]
    model: Option<String>,
    /// What the documents are scored against.
    query: String,
    /// 1 to 1000 non-empty texts (strings or `{"text": …}`).
    documents: Vec<Document>,
    /// How many results, best first; absent: all.
    #[serde(default)]
    top_n: Option<usize>,
    /// Whether each result carries its document's text (default false).
    #[serde(default)]
    return_documents: bool,
    /// How long the model stays loaded after this request (Ollama's `keep_alive`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    keep_alive: Option<KeepAlive>,
}

/// Documents scored against a query, best first.
#[utoipa::path(post, path = "/v1/rerank", operation_id = "rerank", tag = "openai",
    request_body = RerankRequest,
    responses(
        (status = 200, description = "Results, best first", body = serde_json::Value,
            example = json!({"object": "list", "model": "all-MiniLM-L6-v2.f16",
                "results": [{"index": 1, "relevance_score": 0.62}],
                "usage": {"prompt_tokens": 12, "total_tokens": 12}})),
        GatewayErrors),
    security(("bearer" = ["inference"]), ("api_key" = ["inference"])))]
pub async fn rerank(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RerankRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Scope::Inference)?;
    if request.query.trim().is_empty() {
        return Err(Error::invalid_input("query", "must not be empty").into());
    }
    let documents: Vec<String> = request
        .documents
        .into_iter()
        .map(Document::into_text)
        .collect();
    if documents.is_empty()
        || documents.len() > MAX_DOCUMENTS
        || documents.iter().any(|d| d.trim().is_empty())
    {
        return Err(Error::invalid_input(
            "documents",
            format!("1 to {MAX_DOCUMENTS} non-empty texts"),
        )
        .into());
    }
    let top_n = match request.top_n {
        None => documents.len(),
        Some(n) if n >= 1 => n.min(documents.len()),
        Some(_) => return Err(Error::invalid_input("top_n", "must be at least 1").into()),
    };
    let scored = score(
        &state,
        &caller,
        request.model.as_deref(),
        request.keep_alive,
        &request.query,
        &documents,
    )
    .await?;
    let results: Vec<Value> = ranked(&scored.scores, top_n)
        .into_iter()
        .map(|place| {
            let mut result =
                json!({"index": place.index, "relevance_score": place.relevance_score});
            if request.return_documents {
                result["document"] = json!({"text": documents[place.index]});
            }
            result
        })
        .collect();
    Ok(axum::Json(json!({
        "object": "list",
        "model": scored.model,
        "results": results,
        "usage": {"prompt_tokens": scored.tokens, "total_tokens": scored.tokens},
    })))
}

/// Scores from the model that served them, and the tokens charged for them.
pub(crate) struct Scored {
    pub scores: Vec<f32>,
    pub model: String,
    pub tokens: u32,
}

/// `documents` scored against `query` by the model `model` names (absent: the default
/// rerank model, else the default embedding model) — a cross-encoder's scores, or an
/// embedding model's cosine similarities — counted and charged as embedding tokens against
/// the caller's budget.
pub(crate) async fn score(
    state: &AppState,
    caller: &Caller,
    model: Option<&str>,
    keep_alive: Option<KeepAlive>,
    query: &str,
    documents: &[String],
) -> Result<Scored, ApiError> {
    let scorer = crate::served::scorer(state, caller, model, keep_alive).await?;
    let cross_encoder = scorer.is_cross_encoder();
    // Each text is scored whole or refused, never truncated: alone it must fit the window
    // with the (at most two) special tokens the model adds around it; a cross-encoder's
    // query-document pairs are checked whole when they are laid out.
    let window = scorer.window() as usize;
    let fitting = |field: String, text: &str| -> Result<usize, ApiError> {
        let count = scorer.count_tokens(text)?;
        if count + 2 > window {
            return Err(Error::invalid_input(
                field,
                format!("{count} tokens: more than the model's window ({window}) holds"),
            )
            .into());
        }
        Ok(count)
    };
    let query_tokens = fitting("query".into(), query)?;
    let mut tokens = query_tokens;
    for (index, document) in documents.iter().enumerate() {
        tokens += fitting(format!("documents[{index}]"), document)?;
        // A cross-encoder reads the query again with every document.
        if cross_encoder && index > 0 {
            tokens += query_tokens;
        }
        // One request may not hold the embedding worker for long (review finding M6).
        if tokens > MAX_TOKENS {
            return Err(Error::invalid_input(
                "documents",
                format!("more than {MAX_TOKENS} tokens in one request: send fewer texts"),
            )
            .into());
        }
    }
    let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
    let model = scorer.name().to_owned();
    let charge = Charge::begin_for(state, caller, &model, MaxCost::embedding(tokens)).await?;
    let scores = if cross_encoder {
        scorer.score_pairs(query, documents).await?
    } else {
        EmbeddingReranker::new(&*scorer)
            .score(query, documents)
            .await?
    };
    charge.embedded(tokens).await;
    Ok(Scored {
        scores,
        model,
        tokens,
    })
}
