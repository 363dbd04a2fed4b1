//! Contexts over HTTP: create, list, fetch, delete, append, read and fork, and the router of the whole area.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sp_core::Page;
use sp_core::auth::Scope;
use sp_core::context::{Context, Message, NewContext, NewMessage};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{chat, facts, memory};
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{
    InNamespace, Listing, ListingQuery, NamespaceQuery, QueryOf, parse_id,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(fetch, remove))
        .routes(routes!(append, messages))
        .routes(routes!(fork))
        .routes(routes!(memory::list))
        .routes(routes!(memory::set, memory::remove))
        .routes(routes!(chat::chat))
        .routes(routes!(facts::list, facts::add))
        .routes(routes!(facts::search))
        .routes(routes!(facts::fetch, facts::edit, facts::remove))
}

/// Create a context (a conversation with its system prompt, agent and limits).
#[utoipa::path(post, path = "/v1/contexts", operation_id = "create_context", tag = "contexts",
    request_body = NewContext,
    responses((status = 201, description = "Created", body = Context), GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request: crate::routes::params::RequestIdOf,
    ApiJson(mut new): ApiJson<NewContext>,
) -> Result<(StatusCode, axum::Json<Context>), ApiError> {
    caller.require(Scope::Contexts)?;
    caller.scope(&mut new.namespace)?;
    let services = state.platform().await?;
    let origin = crate::routes::params::origin(&caller, &request);
    let context = services.contexts.create_as(new, &origin).await?;
    Ok((StatusCode::CREATED, axum::Json(context)))
}

/// List contexts, newest first.
#[utoipa::path(get, path = "/v1/contexts", operation_id = "list_contexts", tag = "contexts",
    params(ListingQuery),
    responses((status = 200, description = "One page", body = Page<Context>), GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Context>>, ApiError> {
    caller.require(Scope::Contexts)?;
    let page = state
        .platform()
        .await?
        .contexts
        .list(&listing.namespace, &listing.page)
        .await?;
    Ok(axum::Json(page))
}

/// Get a context with its message count and token total.
#[utoipa::path(get, path = "/v1/contexts/{id}", operation_id = "get_context", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    responses((status = 200, description = "The context", body = Context), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Context>, ApiError> {
    caller.require(Scope::Contexts)?;
    let context = state
        .platform()
        .await?
        .contexts
        .get(&namespace, parse_id(&id)?)
        .await?;
    Ok(axum::Json(context))
}

/// Delete a context, its messages and its memory blocks.
#[utoipa::path(delete, path = "/v1/contexts/{id}", operation_id = "delete_context", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    responses((status = 204, description = "Deleted"), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Contexts)?;
    let id = parse_id(&id)?;
    state
        .platform()
        .await?
        .contexts
        .delete(&namespace, id)
        .await?;
    // Its KV state files go with it, whichever model of the catalogue wrote them.
    if let Some(models) = state.models().cloned() {
        let scope = namespace.tenant().to_string();
        let deleted =
            tokio::task::spawn_blocking(move || models.forget_cached(&scope, &id.to_string()))
                .await
                .unwrap_or(0);
        tracing::debug!(context = %id, deleted, "KV state files of a deleted context");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Append a message (any role; tool results must answer an earlier tool call).
#[utoipa::path(post, path = "/v1/contexts/{id}/messages", operation_id = "append_message", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Stored, with its sequence number and token count", body = Message),
        (status = "4XX", description = "SP-CTX-001: over the size limit (413); SP-CTX-002: unknown tool_call_id (400)", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn append(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(message): ApiJson<NewMessage>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    caller.require(Scope::Contexts)?;
    let contexts = &state.platform().await?.contexts;
    let stored = contexts.append(&namespace, parse_id(&id)?, message).await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}

/// The query string of a message listing.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// The tenant (`default` when absent).
    #[param(value_type = Option<sp_core::knowledge::Namespace>)]
    namespace: Option<String>,
    /// Only messages with a greater `seq` (0: from the start).
    #[serde(default)]
    after: u64,
    /// Most messages, 1-1000 (default 100).
    limit: Option<u32>,
}

/// Messages in order.
#[derive(Serialize, utoipa::ToSchema)]
struct Messages {
    /// The messages, by ascending `seq`.
    messages: Vec<Message>,
}

/// List a context's messages in order, after a sequence number.
#[utoipa::path(get, path = "/v1/contexts/{id}/messages", operation_id = "list_messages", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), MessagesQuery),
    responses((status = 200, description = "The messages", body = Messages), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<MessagesQuery>,
) -> Result<axum::Json<Messages>, ApiError> {
    caller.require(Scope::Contexts)?;
    let namespace = caller.namespace_named(query.namespace)?;
    // Validated like every other page size.
    let limit = sp_core::PageRequest::new(Some(query.limit.unwrap_or(100)), None)?.limit;
    let contexts = &state.platform().await?.contexts;
    let messages = contexts
        .messages(&namespace, parse_id(&id)?, query.after, limit)
        .await?;
    Ok(axum::Json(Messages { messages }))
}

/// Where to fork.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ForkRequest {
    /// The last message the fork keeps.
    #[schema(value_type = sp_core::Id)]
    message_id: String,
}

/// Fork a context at a message: a new context holding the messages up to it.
#[utoipa::path(post, path = "/v1/contexts/{id}/fork", operation_id = "fork_context", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    request_body = ForkRequest,
    responses((status = 201, description = "The new context", body = Context), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
async fn fork(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(body): ApiJson<ForkRequest>,
) -> Result<(StatusCode, axum::Json<Context>), ApiError> {
    caller.require(Scope::Contexts)?;
    let at = sp_core::Id::parse_field("message_id", &body.message_id)?;
    let contexts = &state.platform().await?.contexts;
    let forked = contexts.fork(&namespace, parse_id(&id)?, at).await?;
    Ok((StatusCode::CREATED, axum::Json(forked)))
}
