//! Agent definitions: define (or redefine), list, read, forget.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use sp_core::Page;
use sp_core::agents::{Agent, NewAgent};
use sp_core::auth::Scope;

use super::{engine, require_for};
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, Listing, ListingQuery, NamespaceQuery};
use crate::state::AppState;

/// Define an agent, or its next version: fields checked, and every tool it selects resolved
/// (registered, with an object schema), before anything is stored.
#[utoipa::path(post, path = "/v1/agents", operation_id = "define_agent", tag = "agents",
    request_body = NewAgent,
    responses(
        (status = 201, description = "Defined (version 1)", body = Agent),
        (status = 200, description = "Redefined (the next version)", body = Agent),
        (status = 400, description = "SP-AGT-001 a selected tool nobody offers; SP-VAL-001 a bad field (max_steps 0, a tool schema that is not an object, …)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn define(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut new): ApiJson<NewAgent>,
) -> Result<(StatusCode, axum::Json<Agent>), ApiError> {
    caller.scope(&mut new.namespace)?;
    new.validate()?;
    let agents = engine(&state).await?;
    require_for(&agents, &caller, &new.namespace, &new).await?;
    let agent = agents.define(&new).await?;
    let status = if agent.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(agent)))
}

/// The namespace's agents by name.
#[utoipa::path(get, path = "/v1/agents", operation_id = "list_agents", tag = "agents",
    params(ListingQuery),
    responses((status = 200, description = "A page of agents", body = Page<Agent>), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Agent>>, ApiError> {
    caller.require(Scope::Events)?;
    let agents = engine(&state).await?;
    Ok(axum::Json(
        agents.agents(&listing.namespace, &listing.page).await?,
    ))
}

/// An agent's current definition.
#[utoipa::path(get, path = "/v1/agents/{name}", operation_id = "get_agent", tag = "agents",
    params(("name" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The agent", body = Agent), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Agent>, ApiError> {
    caller.require(Scope::Events)?;
    Ok(axum::Json(
        engine(&state).await?.agent(&namespace, &name).await?,
    ))
}

/// Forget an agent; its runs (running ones too) go on with the definition they started with.
#[utoipa::path(delete, path = "/v1/agents/{name}", operation_id = "delete_agent", tag = "agents",
    params(("name" = String, Path), NamespaceQuery),
    responses((status = 204, description = "Forgotten"), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Events)?;
    engine(&state).await?.remove(&namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
