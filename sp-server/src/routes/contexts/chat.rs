//! `/v1/contexts/{id}/chat`: one turn — assemble the context, run the model, store both sides.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::IntoResponse as _;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use sp_core::Error;
use sp_core::auth::Scope;
use sp_core::chat::{Role, Sampling, Usage};
use sp_core::context::{Message, NewMessage, TurnEvent};

use crate::budget::{MaxCost, prompt_tokens, tokens_in};
use crate::charge::Charge;
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, NamespaceQuery, parse_id};
use crate::state::AppState;

/// The user's turn and how to answer it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TurnRequest {
    /// The user's message.
    content: String,
    /// Metadata stored with the user's message (a JSON object).
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    /// Most tokens of the reply.
    #[serde(default = "default_max_tokens")]
    #[schema(default = 256)]
    max_tokens: u32,
    /// Sampling temperature; 0 is greedy.
    #[serde(default)]
    temperature: f32,
    /// Sampling seed.
    #[serde(default)]
    seed: Option<u32>,
    /// Stream the reply as server-sent events: `prompt`, `delta`s, then `done` (with the
    /// stored reply) or `error`, then `[DONE]`.
    #[serde(default)]
    stream: bool,
}

fn default_max_tokens() -> u32 {
    256
}

/// The stored reply and what the turn cost.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TurnResponse {
    /// The assistant's message as stored.
    reply: Message,
    /// Tokens processed and generated (`cached_tokens`: prompt tokens reused from the cache).
    usage: Usage,
    /// What compacting older turns for this turn cost in model calls (zeros when none ran);
    /// charged to the caller's budgets and usage with `usage`.
    compaction_usage: Usage,
    /// Tokens of the earlier turns this turn's compaction folded into the summary (zero when
    /// none ran): the model saw them summarised, not word for word.
    summarised_tokens: u64,
    /// Tokens of the assembled prompt.
    prompt_tokens: usize,
    /// Knowledge passages retrieved into the prompt.
    passages: usize,
    /// When this turn compacted the context: the last `seq` the new summary covers.
    summary_through: Option<u64>,
}

/// Chat: append the user's message, assemble the context (memory, summary, turns, retrieved
/// passages) within the model's window, run the model and store its reply.
///
/// When the context no longer fits, its oldest turns are summarised by the model first; a turn
/// that cannot fit at all is `SP-LLM-001` before anything is stored. Needs the `contexts` and
/// `inference` scopes.
#[utoipa::path(post, path = "/v1/contexts/{id}/chat", operation_id = "chat_turn", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    request_body = TurnRequest,
    responses(
        (status = 200, description = "The reply (JSON), or server-sent events when `stream` is true",
            content(
                (TurnResponse = "application/json"),
                (String = "text/event-stream"))),
        (status = "4XX", description = "SP-LLM-001: the turn cannot fit the model's window (400)", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["contexts", "inference"]), ("api_key" = ["contexts", "inference"])))]
pub(super) async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(body): ApiJson<TurnRequest>,
) -> Result<axum::response::Response, ApiError> {
    caller.require(Scope::Contexts)?;
    caller.require(Scope::Inference)?;
    let engine = state.engine().ok_or_else(|| {
        Error::unavailable("model", "the server has no model loaded (model.path)")
    })?;
    crate::routes::openai::check_model(engine, &caller, None)?;
    let sampling = Sampling {
        temperature: body.temperature,
        max_tokens: body.max_tokens,
        seed: body.seed,
        ..Sampling::default()
    };
    let prompt = prompt_tokens(&state, &caller, || body.content.clone());
    let message = NewMessage {
        metadata: body.metadata,
        ..NewMessage::new(Role::User, body.content)
    };
    let window = engine.config().context_per_slot as usize;
    // The assembled prompt (memory, retrieval, history) is charged when the turn settles.
    let cost = MaxCost {
        prompt,
        max_tokens: Some(body.max_tokens),
        window: engine.config().context_per_slot,
        choices: 1,
    };
    let charge = Charge::begin(&state, &caller, cost).await?;
    let platform = state.platform().await?;
    // Retrieval reads the knowledge base: only for a caller that may (review finding M5).
    let contexts = if caller.0.allows(Scope::DocumentsRead) {
        platform.contexts.clone()
    } else {
        Arc::new(platform.contexts.without_retrieval())
    };
    let id = parse_id(&id)?;
    if body.stream {
        let turn = contexts
            .chat_stream(&namespace, id, message, &sampling, window)
            .await?;
        return Ok(stream_turn(turn, charge, state.clone()));
    }
    let turn = contexts
        .chat(&namespace, id, message, &sampling, window)
        .await?;
    charge.add(turn.prompt.compaction);
    charge.settle(turn.completion.usage).await;
    Ok(axum::Json(TurnResponse {
        reply: turn.reply,
        usage: turn.completion.usage,
        compaction_usage: turn.prompt.compaction,
        summarised_tokens: turn.prompt.summarised_tokens,
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
    charge: Charge,
    state: AppState,
) -> axum::response::Response {
    let mut charge = Some(charge);
    let compaction = turn.prompt.compaction;
    // The compaction ran before the stream began: added now, so a client that leaves is
    // charged for it too.
    if let Some(charge) = &charge {
        charge.add(compaction);
    }
    let head = serde_json::json!({
        "type": "prompt",
        "compaction_usage": compaction,
        "summarised_tokens": turn.prompt.summarised_tokens,
        "prompt_tokens": turn.prompt.prompt_tokens,
        "passages": turn.prompt.retrieved.len(),
        "summary_through": turn.prompt.summary_through,
    });
    let events = turn.events.map(move |event| match event {
        Ok(TurnEvent::Delta(text)) => {
            if let Some(charge) = &charge {
                charge.count(tokens_in(&state, &text));
            }
            serde_json::json!({"type": "delta", "text": text})
        }
        Ok(TurnEvent::Done {
            reply,
            finish_reason,
            usage,
        }) => {
            if let Some(charge) = charge.take() {
                tokio::spawn(charge.settle(usage));
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
