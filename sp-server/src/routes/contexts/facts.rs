//! `/v1/contexts/{id}/facts`: what a context has learned — listed now or as of an instant,
//! searched, added, corrected and forgotten by hand.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::facts::{Fact, FactEdit, FactHit, FactView, Facts, NewFact, Recorded};
use sp_core::{Error, Timestamp};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, NamespaceQuery, QueryOf, parse_id};
use crate::state::AppState;

async fn facts(state: &AppState) -> Result<std::sync::Arc<Facts>, ApiError> {
    Ok(state.platform().await?.facts.clone())
}

/// The query string of a fact listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FactsQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// The facts that held at this instant (RFC 3339) instead of those current now.
    #[param(value_type = Option<String>)]
    as_of: Option<Timestamp>,
    /// Every fact, superseded ones included (not with `as_of`).
    history: Option<bool>,
    /// Most facts returned, 1-1000 (default 100).
    limit: Option<u32>,
}

/// Facts, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct FactList {
    /// The facts.
    facts: Vec<Fact>,
}

fn limit(raw: Option<u32>, default: u32, most: u32) -> Result<u32, ApiError> {
    match raw.unwrap_or(default) {
        n if (1..=most).contains(&n) => Ok(n),
        _ => Err(Error::invalid_input("limit", format!("between 1 and {most}")).into()),
    }
}

/// List a context's facts: those current now (default), those that held `as_of` an instant,
/// or the whole `history`.
#[utoipa::path(get, path = "/v1/contexts/{id}/facts", operation_id = "list_facts", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), FactsQuery),
    responses((status = 200, description = "The facts", body = FactList), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<FactsQuery>,
) -> Result<axum::Json<FactList>, ApiError> {
    caller.require(Scope::Contexts)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let view = match (query.as_of, query.history.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(Error::invalid_input("history", "cannot be combined with as_of").into());
        }
        (Some(at), false) => FactView::AsOf(at),
        (None, true) => FactView::History,
        (None, false) => FactView::Current,
    };
    let limit = limit(query.limit, 100, sp_core::facts::MAX_LISTED)?;
    let facts = facts(&state)
        .await?
        .list(&namespace, parse_id(&id)?, view, limit)
        .await?;
    Ok(axum::Json(FactList { facts }))
}

/// The query string of a fact search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// What to look for (keywords; meaning too when an embedder is loaded); required.
    q: Option<String>,
    /// Most hits, 1-100 (default 10).
    limit: Option<u32>,
}

/// Current facts that best match a query, best first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct FactHits {
    /// The hits.
    hits: Vec<FactHit>,
}

/// Search a context's current facts (keyword and vector ranks fused, weighted by recency).
#[utoipa::path(get, path = "/v1/contexts/{id}/facts/search", operation_id = "search_facts", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), SearchQuery),
    responses((status = 200, description = "The hits", body = FactHits), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<SearchQuery>,
) -> Result<axum::Json<FactHits>, ApiError> {
    caller.require(Scope::Contexts)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let limit = limit(query.limit, 10, 100)?;
    // Checked here, after the scope: a caller without it learns nothing of the route.
    let q = query
        .q
        .ok_or_else(|| Error::invalid_input("q", "is required"))?;
    let hits = facts(&state)
        .await?
        .search(&namespace, parse_id(&id)?, &q, limit as usize)
        .await?;
    Ok(axum::Json(FactHits { hits }))
}

/// Add a fact by hand: merged into the current fact of its subject and attribute when the
/// values match, superseding it when they differ.
#[utoipa::path(post, path = "/v1/contexts/{id}/facts", operation_id = "add_fact", tag = "contexts",
    params(("id" = sp_core::Id, Path, description = "Context id"), NamespaceQuery),
    request_body = NewFact,
    responses((status = 201, description = "What recording did", body = Recorded), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(fact): ApiJson<NewFact>,
) -> Result<(StatusCode, axum::Json<Recorded>), ApiError> {
    caller.require(Scope::Contexts)?;
    let recorded = facts(&state)
        .await?
        .add(&namespace, parse_id(&id)?, fact)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(recorded)))
}

/// Get one fact of a context.
#[utoipa::path(get, path = "/v1/contexts/{id}/facts/{fact_id}", operation_id = "get_fact", tag = "contexts",
    params(
        ("id" = sp_core::Id, Path, description = "Context id"),
        ("fact_id" = sp_core::Id, Path, description = "Fact id"),
        NamespaceQuery),
    responses((status = 200, description = "The fact", body = Fact), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fact_id)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Fact>, ApiError> {
    caller.require(Scope::Contexts)?;
    let fact = facts(&state)
        .await?
        .get(&namespace, parse_id(&id)?, parse_id(&fact_id)?)
        .await?;
    Ok(axum::Json(fact))
}

/// Correct a fact in place (a wrong extraction is fixed, not turned into history).
#[utoipa::path(patch, path = "/v1/contexts/{id}/facts/{fact_id}", operation_id = "edit_fact", tag = "contexts",
    params(
        ("id" = sp_core::Id, Path, description = "Context id"),
        ("fact_id" = sp_core::Id, Path, description = "Fact id"),
        NamespaceQuery),
    request_body = FactEdit,
    responses((status = 200, description = "The fact, corrected", body = Fact), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fact_id)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
    ApiJson(edit): ApiJson<FactEdit>,
) -> Result<axum::Json<Fact>, ApiError> {
    caller.require(Scope::Contexts)?;
    let fact = facts(&state)
        .await?
        .edit(&namespace, parse_id(&id)?, parse_id(&fact_id)?, &edit)
        .await?;
    Ok(axum::Json(fact))
}

/// Forget a fact for good.
#[utoipa::path(delete, path = "/v1/contexts/{id}/facts/{fact_id}", operation_id = "delete_fact", tag = "contexts",
    params(
        ("id" = sp_core::Id, Path, description = "Context id"),
        ("fact_id" = sp_core::Id, Path, description = "Fact id"),
        NamespaceQuery),
    responses((status = 204, description = "Forgotten"), NotFound, GatewayErrors),
    security(("bearer" = ["contexts"]), ("api_key" = ["contexts"])))]
pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fact_id)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Contexts)?;
    facts(&state)
        .await?
        .delete(&namespace, parse_id(&id)?, parse_id(&fact_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
