//! `/health`, `/health/live`, `/health/ready`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use serde::Serialize;
use sp_core::health::{CheckOutcome, HealthReport};
use std::collections::BTreeMap;

use crate::middleware::request_id_of;
use crate::state::AppState;

/// The body of `/health` and `/health/ready`.
#[derive(Debug, Serialize)]
struct HealthBody {
    status: &'static str,
    version: &'static str,
    checks: BTreeMap<String, CheckOutcome>,
}

impl HealthBody {
    fn from_report(report: HealthReport) -> Self {
        HealthBody {
            status: if report.is_healthy() {
                "healthy"
            } else {
                "unhealthy"
            },
            version: sp_core::VERSION,
            checks: report.checks,
        }
    }
}

/// The health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// Always 200: a report for people and dashboards; `status` says whether all checks pass.
async fn health(State(state): State<AppState>) -> Json<HealthBody> {
    Json(HealthBody::from_report(state.check_health().await))
}

/// 200 while the process serves requests at all.
async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "alive" }))
}

/// 200 when every configured backend answers; 503 with the error envelope and the checks
/// otherwise, so load balancers stop sending traffic until the backend is back.
async fn ready(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let report = state.check_health().await;
    if report.is_healthy() {
        return Json(HealthBody::from_report(report)).into_response();
    }
    let failing = report.failing().join(", ");
    let reasons: Vec<String> = report
        .checks
        .iter()
        .filter_map(|(name, c)| c.error.as_ref().map(|e| format!("{name}: {e}")))
        .collect();
    let error = crate::ApiError::new(
        sp_core::ErrorCode::Unavailable,
        format!("not ready: {failing} down ({})", reasons.join("; ")),
    );
    let mut body = serde_json::to_value(HealthBody::from_report(report)).unwrap_or_default();
    body["error"] =
        serde_json::to_value(error.envelope(request_id_of(&request)).error).unwrap_or_default();
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
