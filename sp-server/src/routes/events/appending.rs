//! The event log over HTTP: append one or a batch, query, and the router of the whole area.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::events::{Event, EventLog, EventQuery, NewEvent};
use sp_core::knowledge::Namespace;
use sp_core::{Page, PageRequest, Timestamp};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{QueryOf, groups, live};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(groups::create))
        .routes(routes!(groups::fetch))
        .routes(routes!(groups::pending))
        .routes(routes!(groups::ack))
        .routes(routes!(groups::reject))
        .routes(routes!(groups::letters))
        .routes(routes!(groups::letter))
        .routes(routes!(groups::redrive))
        .routes(routes!(groups::settle))
        .routes(routes!(append, query))
        .routes(routes!(append_batch))
        .routes(routes!(live::sse))
        .routes(routes!(live::websocket))
}

/// The query string of a read: what [`EventQuery`] selects, and the page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventParams {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    #[param(value_type = Option<String>)]
    namespace: Option<String>,
    /// One stream (events then come in offset order).
    stream: Option<String>,
    /// One event type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// One subject.
    subject: Option<String>,
    /// One correlation id.
    correlationid: Option<String>,
    /// Appended at or after (RFC 3339).
    #[param(value_type = Option<String>)]
    since: Option<Timestamp>,
    /// Appended before (RFC 3339).
    #[param(value_type = Option<String>)]
    until: Option<Timestamp>,
    /// Replay from this offset of `stream` on.
    from_offset: Option<u64>,
    /// Items per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl EventParams {
    /// The query and page, in the namespace `caller` reaches.
    pub(super) fn split(self, caller: &Caller) -> Result<(EventQuery, PageRequest), ApiError> {
        let query = EventQuery {
            namespace: caller.namespace(self.namespace.map(Namespace::new).transpose()?)?,
            stream: self.stream,
            event_type: self.event_type,
            subject: self.subject,
            correlationid: self.correlationid,
            since: self.since,
            until: self.until,
            from_offset: self.from_offset,
        };
        Ok((query, PageRequest::new(self.limit, self.cursor)?))
    }
}

pub(super) async fn log(state: &AppState) -> Result<Arc<EventLog>, ApiError> {
    Ok(state.platform().await?.events.clone())
}

/// Append an event to its stream; it gets the stream's next offset.
#[utoipa::path(post, path = "/v1/events", operation_id = "append_event", tag = "events",
    request_body = NewEvent,
    responses(
        (status = 201, description = "Stored", body = Event),
        (status = 413, description = "SP-EVT-001: data over events.max_data_bytes", body = crate::error::ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn append(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut event): ApiJson<NewEvent>,
) -> Result<(StatusCode, axum::Json<Event>), ApiError> {
    caller.require(Scope::Events)?;
    caller.scope(&mut event.namespace)?;
    sp_core::events::refuse_platform_forgery(&event)?;
    let stored = log(&state).await?.append(event).await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}

/// Events to append together.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// In order; all are stored or none (1-1000).
    events: Vec<NewEvent>,
}

/// Append several events in order, all or none.
#[utoipa::path(post, path = "/v1/events/batch", operation_id = "append_events", tag = "events",
    request_body = Batch,
    responses((status = 201, description = "Stored", body = Batch), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn append_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut batch): ApiJson<Batch>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    caller.require(Scope::Events)?;
    for event in &mut batch.events {
        caller.scope(&mut event.namespace)?;
        sp_core::events::refuse_platform_forgery(event)?;
    }
    if !(1..=1000).contains(&batch.events.len()) {
        return Err(sp_core::Error::invalid_input("events", "1-1000 events").into());
    }
    let stored = log(&state).await?.append_all(batch.events).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "events": stored })),
    ))
}

/// Query the log, or replay a stream from an offset (`stream` + `from_offset`) or a time
/// (`since`).
#[utoipa::path(get, path = "/v1/events", operation_id = "query_events", tag = "events",
    params(EventParams),
    responses(
        (status = 200, description = "A page of events", body = Page<Event>),
        (status = 404, description = "SP-EVT-002: the stream has no events", body = crate::error::ErrorEnvelope),
        (status = 400, description = "SP-EVT-003: no such offset; SP-VAL-001 / SP-VAL-002: bad parameters", body = crate::error::ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn query(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(params): QueryOf<EventParams>,
) -> Result<axum::Json<Page<Event>>, ApiError> {
    caller.require(Scope::Events)?;
    let (query, page) = params.split(&caller)?;
    Ok(axum::Json(log(&state).await?.query(&query, &page).await?))
}
