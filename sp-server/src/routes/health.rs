//! `/health`, `/health/live`, `/health/ready`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use sp_core::health::{CheckOutcome, HealthReport};
use sp_core::hub::HubHealth;
use std::collections::BTreeMap;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::middleware::request_id_of;
use crate::state::AppState;

/// The body of `/health` and `/health/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct HealthBody {
    /// `healthy` when every check passes; `degraded` when only degradable ones fail (Redis,
    /// unless `health.redis_gates_readiness`): ready, with per-process limits and no shared
    /// cache; `unhealthy` otherwise.
    status: &'static str,
    /// The server's version.
    version: &'static str,
    /// Seconds since the server started.
    uptime_secs: u64,
    /// Each configured backend (database, redis, model, …) and how it answered.
    checks: BTreeMap<String, CheckOutcome>,
    /// Registered services by health, from the hub's active checks. Informational: a
    /// failing external service never makes this server unhealthy or unready.
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubHealth>,
}

/// The checks whose failure leaves this server serving, degraded.
pub(crate) fn degradable(state: &AppState) -> &'static [&'static str] {
    if state.config().health.redis_gates_readiness {
        &[]
    } else {
        &["redis"]
    }
}

impl HealthBody {
    fn from_report(report: HealthReport, degradable: &[&str], uptime: std::time::Duration) -> Self {
        HealthBody {
            status: if report.is_healthy() {
                "healthy"
            } else if report.blocking(degradable).is_empty() {
                "degraded"
            } else {
                "unhealthy"
            },
            version: sp_core::VERSION,
            uptime_secs: uptime.as_secs(),
            checks: report.checks,
            hub: None,
        }
    }
}

/// The health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// Always 200: a report for people and dashboards; `status` says whether all checks pass.
/// With `server.protect_operations`, for `admin` credentials only.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "operations",
    responses((status = 200, description = "The report", body = HealthBody)))]
async fn health(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let client = crate::middleware::failed_credentials::client_address(&request);
    let access = crate::middleware::auth::operations_access(&state, request.headers(), client);
    if let Err(refused) = access.await {
        return refused.into_response();
    }
    let mut body = HealthBody::from_report(
        state.check_health().await,
        degradable(&state),
        state.uptime(),
    );
    if let Ok(services) = state.platform().await {
        body.hub = services.hub.health_summary().await.ok();
    }
    Json(body).into_response()
}

/// 200 while the process serves requests at all (liveness probe).
#[utoipa::path(get, path = "/health/live", operation_id = "liveness", tag = "operations",
    responses((status = 200, description = "Alive", body = serde_json::Value, example = json!({"status": "alive"}))))]
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

/// 200 when every configured backend this server cannot serve without answers (Redis is
/// degradable unless `health.redis_gates_readiness`: its outage answers 200 `degraded`); 503
/// with the error envelope and the checks otherwise, so load balancers stop sending traffic
/// until the backend is back (readiness probe).
#[utoipa::path(get, path = "/health/ready", operation_id = "readiness", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = HealthBody),
        (status = 503, description = "SP-GEN-002: the report plus `error`, the envelope's body", body = serde_json::Value)))]
async fn ready(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let report = state.check_health().await;
    let degradable = degradable(&state);
    if report.blocking(degradable).is_empty() {
        return Json(HealthBody::from_report(report, degradable, state.uptime())).into_response();
    }
    let failing = report.failing().join(", ");
    let protected = state.config().server.protect_operations;
    let reasons: Vec<String> = report
        .checks
        .iter()
        .filter_map(|(name, c)| c.error.as_ref().map(|e| format!("{name}: {e}")))
        .collect();
    let message = if protected {
        format!("not ready: {failing} down")
    } else {
        format!("not ready: {failing} down ({})", reasons.join("; "))
    };
    let error = crate::ApiError::new(sp_core::ErrorCode::Unavailable, message);
    let mut report = report;
    if protected {
        // Backend error text (addresses, users) is for admins: `/health` has it.
        for check in report.checks.values_mut() {
            check.error = check.error.take().map(|_| "failing".to_owned());
        }
    }
    let mut body =
        serde_json::to_value(HealthBody::from_report(report, degradable, state.uptime()))
            .unwrap_or_default();
    body["error"] =
        serde_json::to_value(error.envelope(request_id_of(&request)).error).unwrap_or_default();
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
