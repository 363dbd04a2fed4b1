//! `/v1/keys`: API key management (the `admin` scope).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use serde::Serialize;
use sp_core::auth::{ApiKey, NewApiKey, Scope, create_key};

use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", post(create).get(list))
        .route("/v1/keys/{id}", delete(revoke))
        .route("/v1/audit", axum::routing::get(audit))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    key_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/audit?key_id&limit&cursor`: mutating requests, newest first.
async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    super::params::QueryOf(query): super::params::QueryOf<AuditQuery>,
) -> Result<axum::Json<sp_core::Page<sp_core::auth::AuditEntry>>, ApiError> {
    caller.require(Scope::Admin)?;
    let page = sp_core::PageRequest::new(query.limit, query.cursor)?;
    let entries = state
        .services()
        .await?
        .audit
        .list(query.key_id.as_deref(), &page)
        .await?;
    Ok(axum::Json(entries))
}

#[derive(Serialize)]
struct Created {
    key: ApiKey,
    /// Shown once; only its hash is stored.
    token: String,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewApiKey>,
) -> Result<(StatusCode, axum::Json<Created>), ApiError> {
    caller.require(Scope::Admin)?;
    let created = create_key(state.services().await?.keys.as_ref(), new).await?;
    tracing::info!(key = %created.key.id, by = %caller.0.key_id, "api key created");
    Ok((
        StatusCode::CREATED,
        axum::Json(Created {
            key: created.key,
            token: created.token,
        }),
    ))
}

#[derive(Serialize)]
struct Keys {
    keys: Vec<ApiKey>,
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Keys>, ApiError> {
    caller.require(Scope::Admin)?;
    let keys = state.services().await?.keys.list().await?;
    Ok(axum::Json(Keys { keys }))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<ApiKey>, ApiError> {
    caller.require(Scope::Admin)?;
    let key = state.services().await?.keys.revoke(&id).await?;
    tracing::info!(key = %key.id, by = %caller.0.key_id, "api key revoked");
    Ok(axum::Json(key))
}
