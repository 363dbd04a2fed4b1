//! `/v1/events/groups` and `/v1/dlq`: consumer groups for clients that poll over HTTP, and
//! the dead-letter queue (the `events` scope).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::events::{DeadLetter, Event, Group, NewGroup};
use sp_core::{Page, PageRequest};
use utoipa::IntoParams;

use super::log;
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, NamespaceQuery, QueryOf, parse_id};
use crate::state::AppState;

/// Create a consumer group on an existing stream (`start`: `beginning` or `end`).
#[utoipa::path(post, path = "/v1/events/groups", operation_id = "create_group", tag = "events",
    request_body = NewGroup,
    responses(
        (status = 201, description = "Created", body = Group),
        (status = 409, description = "SP-RES-002: the name is taken", body = ErrorEnvelope),
        (status = 404, description = "SP-EVT-002: no such stream", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut new): ApiJson<NewGroup>,
) -> Result<(StatusCode, axum::Json<Group>), ApiError> {
    caller.require(Scope::Events)?;
    caller.scope(&mut new.namespace)?;
    let group = log(&state).await?.create_group(new).await?;
    Ok((StatusCode::CREATED, axum::Json(group)))
}

/// A consumer group and its position.
#[utoipa::path(get, path = "/v1/events/groups/{name}", operation_id = "get_group", tag = "events",
    params(("name" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The group", body = Group),
        (status = 404, description = "SP-EVT-004: no such group", body = ErrorEnvelope), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Group>, ApiError> {
    caller.require(Scope::Events)?;
    Ok(axum::Json(
        log(&state).await?.group(&namespace, &name).await?,
    ))
}

/// `?namespace=&limit=` of a poll.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct PollQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// Most new events to return, 1-1000 (default 50).
    limit: Option<u32>,
}

/// What a group has to do next.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Pending {
    /// Dead letters sent back to the group: settle each with `POST /v1/dlq/{id}/settle`.
    redriven: Vec<DeadLetter>,
    /// The next new events, in order: acknowledge or reject the first, then the next.
    events: Vec<Event>,
}

/// The group's redriven dead letters and its next events (nothing moves until acknowledged).
#[utoipa::path(get, path = "/v1/events/groups/{name}/pending", operation_id = "poll_group", tag = "events",
    params(("name" = String, Path), PollQuery),
    responses((status = 200, description = "What to deliver", body = Pending), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn pending(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    QueryOf(query): QueryOf<PollQuery>,
) -> Result<axum::Json<Pending>, ApiError> {
    caller.require(Scope::Events)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let limit = PageRequest::new(query.limit, None)?.limit;
    let log = log(&state).await?;
    Ok(axum::Json(Pending {
        redriven: log.redriven(&namespace, &name).await?,
        events: log.pending(&namespace, &name, limit).await?,
    }))
}

/// The offset a consumer finished with.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Outcome {
    /// The group's next offset (its position + 1).
    offset: u64,
    /// Why it failed (rejections only).
    #[serde(default)]
    reason: Option<String>,
}

/// Acknowledge the group's next event: the group moves past it.
#[utoipa::path(post, path = "/v1/events/groups/{name}/ack", operation_id = "ack_event", tag = "events",
    params(("name" = String, Path), NamespaceQuery),
    request_body = Outcome,
    responses((status = 200, description = "The group moved", body = Group),
        (status = 409, description = "SP-RES-002: not the group's next offset", body = ErrorEnvelope), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(outcome): ApiJson<Outcome>,
) -> Result<axum::Json<Group>, ApiError> {
    caller.require(Scope::Events)?;
    let group = log(&state)
        .await?
        .acknowledge(&namespace, &name, outcome.offset)
        .await?;
    Ok(axum::Json(group))
}

/// A rejection's result.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Rejected {
    /// Set when this was the last attempt (`events.max_attempts`): the event is in the
    /// dead-letter queue and the group moved past it.
    dead_letter: Option<DeadLetter>,
}

/// Report that the handler failed on the group's next event (counted; the last allowed
/// failure sends it to the dead-letter queue).
#[utoipa::path(post, path = "/v1/events/groups/{name}/reject", operation_id = "reject_event", tag = "events",
    params(("name" = String, Path), NamespaceQuery),
    request_body = Outcome,
    responses((status = 200, description = "Counted", body = Rejected), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(outcome): ApiJson<Outcome>,
) -> Result<axum::Json<Rejected>, ApiError> {
    caller.require(Scope::Events)?;
    let reason = outcome.reason.unwrap_or_else(|| "rejected".into());
    let dead_letter = log(&state)
        .await?
        .reject(&namespace, &name, outcome.offset, &reason)
        .await?;
    Ok(axum::Json(Rejected { dead_letter }))
}

/// `?namespace=&group=&limit=&cursor=` of the queue.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LetterQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// One group's letters.
    group: Option<String>,
    /// Items per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The dead-letter queue, newest first.
#[utoipa::path(get, path = "/v1/dlq", operation_id = "list_dead_letters", tag = "events",
    params(LetterQuery),
    responses((status = 200, description = "A page of dead letters", body = Page<DeadLetter>), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn letters(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(query): QueryOf<LetterQuery>,
) -> Result<axum::Json<Page<DeadLetter>>, ApiError> {
    caller.require(Scope::Events)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let page = PageRequest::new(query.limit, query.cursor)?;
    let letters = log(&state)
        .await?
        .dead_letters(&namespace, query.group.as_deref(), &page)
        .await?;
    Ok(axum::Json(letters))
}

/// One dead letter: the event, the last error, the attempts.
#[utoipa::path(get, path = "/v1/dlq/{id}", operation_id = "get_dead_letter", tag = "events",
    params(("id" = sp_core::Id, Path), NamespaceQuery),
    responses((status = 200, description = "The dead letter", body = DeadLetter), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn letter(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<DeadLetter>, ApiError> {
    caller.require(Scope::Events)?;
    let letter = log(&state)
        .await?
        .dead_letter(&namespace, parse_id(&id)?)
        .await?;
    Ok(axum::Json(letter))
}

/// Send a dead letter back to its group: delivered before new events on its next round.
#[utoipa::path(post, path = "/v1/dlq/{id}/redrive", operation_id = "redrive_dead_letter", tag = "events",
    params(("id" = sp_core::Id, Path), NamespaceQuery),
    responses((status = 200, description = "Redriven", body = DeadLetter), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn redrive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<DeadLetter>, ApiError> {
    caller.require(Scope::Events)?;
    let letter = log(&state)
        .await?
        .redrive(&namespace, parse_id(&id)?)
        .await?;
    Ok(axum::Json(letter))
}

/// A redelivery's outcome.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Settlement {
    /// Whether the handler took it.
    delivered: bool,
    /// Why not, when it did not.
    #[serde(default)]
    reason: Option<String>,
}

/// Report a redriven letter's delivery: resolved, or back in the queue with the new reason.
#[utoipa::path(post, path = "/v1/dlq/{id}/settle", operation_id = "settle_dead_letter", tag = "events",
    params(("id" = sp_core::Id, Path), NamespaceQuery),
    request_body = Settlement,
    responses((status = 200, description = "Settled", body = DeadLetter), NotFound,
        (status = 409, description = "SP-RES-002: not waiting for a redelivery", body = ErrorEnvelope), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn settle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(settlement): ApiJson<Settlement>,
) -> Result<axum::Json<DeadLetter>, ApiError> {
    caller.require(Scope::Events)?;
    let reason = settlement
        .reason
        .unwrap_or_else(|| "redelivery failed".into());
    let letter = log(&state)
        .await?
        .settle(&namespace, parse_id(&id)?, settlement.delivered, &reason)
        .await?;
    Ok(axum::Json(letter))
}
