//! `/v1/contexts/{id}/memory`: the blocks pinned into every prompt of a context.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::context::{MemoryBlock, MemoryScope};

use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, NamespaceQuery, parse_id};
use crate::state::AppState;

/// A context's memory blocks.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Blocks {
    /// The blocks, by name.
    blocks: Vec<MemoryBlock>,
}

/// List a context's memory blocks.
#[utoipa::path(get, path = "/v1/contexts/{id}/memory", operation_id = "list_memory", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    responses((status = 200, description = "The blocks", body = Blocks), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Blocks>, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    let blocks = state
        .platform()
        .await?
        .contexts
        .memory(&namespace, &scope)
        .await?;
    Ok(axum::Json(Blocks { blocks }))
}

/// A memory block's new text.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MemoryWrite {
    /// The text, at most `limit_chars` characters.
    content: String,
    /// The block's limit in characters, 1-32000 (default 2000).
    limit_chars: Option<u32>,
}

/// Create or replace a memory block.
#[utoipa::path(put, path = "/v1/contexts/{id}/memory/{name}", operation_id = "set_memory", tag = "contexts",
    params(
        ("id" = sp_core::Id, Path, description = "Context id"),
        ("name" = String, Path, description = "Block name, unique in the context"),
        NamespaceQuery),
    request_body = MemoryWrite,
    responses(
        (status = 200, description = "The block", body = MemoryBlock),
        (status = "4XX", description = "SP-CTX-003: over its limit (413)", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
    ApiJson(body): ApiJson<MemoryWrite>,
) -> Result<axum::Json<MemoryBlock>, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    let contexts = &state.platform().await?.contexts;
    let block = contexts
        .set_memory(&namespace, &scope, &name, &body.content, body.limit_chars)
        .await?;
    Ok(axum::Json(block))
}

/// Delete a memory block.
#[utoipa::path(delete, path = "/v1/contexts/{id}/memory/{name}", operation_id = "delete_memory", tag = "contexts",
    params(
        ("id" = sp_core::Id, Path, description = "Context id"),
        ("name" = String, Path, description = "Block name"),
        NamespaceQuery),
    responses((status = 204, description = "Deleted"), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Contexts)?;
    let scope = MemoryScope::Context(parse_id(&id)?);
    state
        .platform()
        .await?
        .contexts
        .delete_memory(&namespace, &scope, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
