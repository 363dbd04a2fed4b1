//! `/v1/requests`: this process's recent requests and their per-minute sums (the console's
//! request log and charts), and `/v1/auth/whoami`: what the caller's credential is.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sp_core::Timestamp;
use sp_core::auth::Scope;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::QueryOf;
use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::request_log::{LoggedRequest, MinuteSummary, RequestFilter};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(summary))
        .routes(routes!(whoami))
}

/// The query string of the request log.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RequestQuery {
    /// Only this route pattern (`/v1/documents/{id}`).
    route: Option<String>,
    /// Only this status (`404`), or this class (`5` for every 5xx).
    status: Option<u16>,
    /// Only this key's requests.
    key_id: Option<String>,
    /// Only this request id.
    request_id: Option<String>,
    /// At or after (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<Timestamp>,
    /// Before (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<Timestamp>,
    /// Paths containing this text.
    search: Option<String>,
    /// At most this many, newest first (1-2000, default 100).
    limit: Option<u32>,
}

/// Recent requests, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RequestList {
    /// The requests the filters admit.
    items: Vec<LoggedRequest>,
    /// How many this process keeps (the oldest go first).
    capacity: usize,
}

/// This process's last 2,000 requests (every route, reads included), newest first, filtered.
/// In memory: each replica answers for its own; the audit log is the durable record of
/// mutating requests.
#[utoipa::path(get, path = "/v1/requests", operation_id = "list_requests", tag = "operations",
    params(RequestQuery),
    responses((status = 200, description = "The requests", body = RequestList), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(query): QueryOf<RequestQuery>,
) -> Result<axum::Json<RequestList>, ApiError> {
    caller.require(Scope::Admin)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=crate::request_log::CAPACITY as u32).contains(&limit) {
        return Err(sp_core::Error::invalid_input("limit", "must be 1-2000").into());
    }
    let filter = RequestFilter {
        route: query.route,
        status: query.status,
        key_id: query.key_id,
        request_id: query.request_id,
        since: query.since,
        until: query.until,
        search: query.search,
    };
    Ok(axum::Json(RequestList {
        items: state.requests().find(&filter, limit as usize),
        capacity: crate::request_log::CAPACITY,
    }))
}

/// The last hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RequestSummary {
    /// Minutes that had requests, oldest first.
    minutes: Vec<MinuteSummary>,
}

/// This process's requests of the last hour summed per minute: by route, the count, the
/// failures and latency percentiles; failures by error code; tokens generated, the inference
/// queue's peak and cache hits and misses (sampled at most every 5 s while requests come).
#[utoipa::path(get, path = "/v1/requests/summary", operation_id = "summarise_requests",
    tag = "operations",
    responses((status = 200, description = "Per-minute sums", body = RequestSummary), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn summary(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<RequestSummary>, ApiError> {
    caller.require(Scope::Admin)?;
    state
        .requests()
        .sample_if_due(|| crate::request_log::sample_of(&state));
    Ok(axum::Json(RequestSummary {
        minutes: state.requests().summary(),
    }))
}

/// The credential a request was made with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WhoAmI {
    /// The key id (`admin` for the bootstrap key).
    key_id: String,
    /// The tenant it acts for.
    tenant: String,
    /// Its scopes.
    scopes: Vec<String>,
    /// The models it may use (any when absent).
    models: Option<Vec<String>>,
    /// The tools it may call (any when absent).
    tools: Option<Vec<String>>,
}

/// What the caller's key or token is: its id, tenant and scopes (what a client such as the
/// console shows or hides by).
#[utoipa::path(get, path = "/v1/auth/whoami", operation_id = "whoami", tag = "keys",
    responses((status = 200, description = "The caller", body = WhoAmI), GatewayErrors),
    security(("bearer" = []), ("api_key" = [])))]
async fn whoami(caller: Caller) -> axum::Json<WhoAmI> {
    let principal = caller.0;
    axum::Json(WhoAmI {
        key_id: principal.key_id,
        tenant: principal.tenant.to_string(),
        scopes: principal.scopes.iter().map(ToString::to_string).collect(),
        models: principal.models,
        tools: principal.tools,
    })
}
