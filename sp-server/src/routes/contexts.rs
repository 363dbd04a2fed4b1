//! `/v1/contexts`: contexts, their messages and memory, and chat turns over HTTP.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post, put};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::chat::{Role, Sampling, Usage};
use sp_core::context::{
    Context, MemoryBlock, MemoryScope, Message, NewContext, NewMessage, TurnEvent,
};
use sp_core::{Error, Page};

use super::params::{Listing, QueryOf, parse_id};
use crate::budget::TokenBudget;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/contexts", post(create).get(list))
        .route("/v1/contexts/{id}", get(fetch).delete(remove))
        .route("/v1/contexts/{id}/messages", post(append).get(messages))
        .route("/v1/contexts/{id}/fork", post(fork))
        .route("/v1/contexts/{id}/memory", get(memory))
        .route(
            "/v1/contexts/{id}/memory/{name}",
            put(set_memory).delete(delete_memory),
        )
        .route("/v1/contexts/{id}/chat", post(chat))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewContext>,
) -> Result<(StatusCode, axum::Json<Context>), ApiError> {
    caller.require(Scope::Contexts)?;
    let context = state.services().await?.contexts.create(new).await?;
    Ok((StatusCode::CREATED, axum::Json(context)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Context>>, ApiError> {
    caller.require(Scope::Contexts)?;
    let page = state
        .services()
        .await?
        .contexts
        .list(&listing.namespace, &listing.page)
        .await?;
    Ok(axum::Json(page))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
) -> Result<axum::Json<Context>, ApiError> {
    caller.require(Scope::Contexts)?;
    let context = state
        .services()
        .await?
        .contexts
        .get(&listing.namespace, parse_id(&id)?)
        .await?;
    Ok(axum::Json(context))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Contexts)?;
    state
        .services()
        .await?
        .contexts
        .delete(&listing.namespace, parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
    ApiJson(message): ApiJson<NewMessage>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    caller.require(Scope::Contexts)?;
    let contexts = &state.services().await?.contexts;
    let stored = contexts
        .append(&listing.namespace, parse_id(&id)?, message)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessagesQuery {
    namespace: Option<String>,
    #[serde(default)]
    after: u64,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct Messages {
    messages: Vec<Message>,
}

async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<MessagesQuery>,
) -> Result<axum::Json<Messages>, ApiError> {
    caller.require(Scope::Contexts)?;
    let namespace =
        sp_core::knowledge::Namespace::new(query.namespace.unwrap_or_else(|| "default".into()))?;
    // Validated like every other page size.
    let limit = sp_core::PageRequest::new(Some(query.limit.unwrap_or(100)), None)?.limit;
    let contexts = &state.services().await?.contexts;
    let messages = contexts
        .messages(&namespace, parse_id(&id)?, query.after, limit)
        .await?;
    Ok(axum::Json(Messages { messages }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkRequest {
    message_id: String,
}

async fn fork(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
    ApiJson(body): ApiJson<ForkRequest>,
) -> Result<(StatusCode, axum::Json<Context>), ApiError> {
    caller.require(Scope::Contexts)?;
    let at = sp_core::Id::parse_field("message_id", &body.message_id)?;
    let contexts = &state.services().await?.contexts;
    let forked = contexts
        .fork(&listing.namespace, parse_id(&id)?, at)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(forked)))
}

#[derive(Serialize)]
struct Blocks {
    blocks: Vec<MemoryBlock>,
}

async fn memory(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
) -> Result<axum::Json<Blocks>, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    let blocks = state
        .services()
        .await?
        .contexts
        .memory(&listing.namespace, &scope)
        .await?;
    Ok(axum::Json(Blocks { blocks }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryWrite {
    content: String,
    limit_chars: Option<u32>,
}

async fn set_memory(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    listing: Listing,
    ApiJson(body): ApiJson<MemoryWrite>,
) -> Result<axum::Json<MemoryBlock>, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    let contexts = &state.services().await?.contexts;
    let block = contexts
        .set_memory(
            &listing.namespace,
            &scope,
            &name,
            &body.content,
            body.limit_chars,
        )
        .await?;
    Ok(axum::Json(block))
}

async fn delete_memory(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    listing: Listing,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    state
        .services()
        .await?
        .contexts
        .delete_memory(&listing.namespace, &scope, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatRequest {
    content: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default = "default_max_tokens")]
    max_tokens: u32,
    #[serde(default)]
    temperature: f32,
    #[serde(default)]
    seed: Option<u32>,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    stream: bool,
}

fn default_max_tokens() -> u32 {
    256
}

#[derive(Serialize)]
struct ChatResponse {
    reply: Message,
    usage: Usage,
    prompt_tokens: usize,
    passages: usize,
    summary_through: Option<u64>,
}

async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<axum::response::Response, ApiError> {
    caller.require(Scope::Contexts)?;
    caller.require(Scope::Inference)?;
    let engine = state.engine().ok_or_else(|| {
        Error::unavailable("model", "the server has no model loaded (model.path)")
    })?;
    let sampling = Sampling {
        temperature: body.temperature,
        max_tokens: body.max_tokens,
        seed: body.seed,
        ..Sampling::default()
    };
    let message = NewMessage {
        metadata: body.metadata,
        ..NewMessage::new(Role::User, body.content)
    };
    let window = engine.config().context_per_slot as usize;
    let budget = TokenBudget::check(&state, &caller).await?;
    let contexts = &state.services().await?.contexts;
    let id = parse_id(&id)?;
    if body.stream {
        let turn = contexts
            .chat_stream(&listing.namespace, id, message, &sampling, window)
            .await?;
        return Ok(stream_turn(turn, budget));
    }
    let turn = contexts
        .chat(&listing.namespace, id, message, &sampling, window)
        .await?;
    if let Some(budget) = &budget {
        budget.charge(turn.completion.usage.completion_tokens).await;
    }
    Ok(axum::Json(ChatResponse {
        reply: turn.reply,
        usage: turn.completion.usage,
        prompt_tokens: turn.prompt.prompt_tokens,
        passages: turn.prompt.retrieved.len(),
        summary_through: turn.prompt.summary_through,
    })
    .into_response())
}

/// Server-sent events of a streamed turn: `prompt`, then `delta`s, then `done` (with the
/// stored reply) or `error`, then `[DONE]`.
fn stream_turn(
    turn: sp_core::context::StreamedTurn,
    budget: Option<TokenBudget>,
) -> axum::response::Response {
    let head = serde_json::json!({
        "type": "prompt",
        "prompt_tokens": turn.prompt.prompt_tokens,
        "passages": turn.prompt.retrieved.len(),
        "summary_through": turn.prompt.summary_through,
    });
    let events = turn.events.map(move |event| match event {
        Ok(TurnEvent::Delta(text)) => serde_json::json!({"type": "delta", "text": text}),
        Ok(TurnEvent::Done {
            reply,
            finish_reason,
            usage,
        }) => {
            if let Some(budget) = &budget {
                budget.charge_later(usage.completion_tokens);
            }
            serde_json::json!({
                "type": "done", "reply": reply, "finish_reason": finish_reason, "usage": usage,
            })
        }
        Err(err) => {
            serde_json::json!({"type": "error", "error": ApiError::from(err).stream_body()})
        }
    });
    let sse = futures::stream::once(async move { head })
        .chain(events)
        .map(|value| Event::default().data(value.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }))
        .map(Ok::<_, std::convert::Infallible>);
    Sse::new(sse)
        .keep_alive(KeepAlive::default())
        .into_response()
}
