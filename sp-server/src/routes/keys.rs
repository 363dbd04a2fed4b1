//! `/v1/keys`: API key management (the `admin` scope).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sp_core::auth::{ApiKey, AuditEntry, AuditFilter, NewApiKey, Scope};
use sp_core::{Page, TenantId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{RequestIdOf, origin};
use crate::error::ApiError;
use crate::json::{ApiJson, ApiJsonOrEmpty};
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
        .routes(routes!(rotate))
        .routes(routes!(audit))
}

/// The query string of the audit log.
#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only this key's requests (`admin` for the bootstrap admin key).
    key_id: Option<String>,
    /// Only requests of this tenant's keys.
    tenant: Option<String>,
    /// Entries per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The audit log: every mutating request (who, what, when, outcome), newest first.
#[utoipa::path(get, path = "/v1/audit", operation_id = "list_audit", tag = "keys",
    params(AuditQuery),
    responses((status = 200, description = "One page", body = Page<AuditEntry>), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    super::params::QueryOf(query): super::params::QueryOf<AuditQuery>,
) -> Result<axum::Json<Page<AuditEntry>>, ApiError> {
    caller.require(Scope::Admin)?;
    let page = sp_core::PageRequest::new(query.limit, query.cursor)?;
    let filter = AuditFilter {
        key_id: query.key_id,
        tenant: query.tenant.map(TenantId::new).transpose()?,
    };
    let entries = state.platform().await?.audit.list(&filter, &page).await?;
    Ok(axum::Json(entries))
}

/// A new key and its secret.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedKey {
    /// The key as stored.
    key: ApiKey,
    /// The secret (`sp_<id>_<secret>`), shown once; only its hash is stored.
    token: String,
}

/// Create an API key; its secret is in this answer and nowhere else.
#[utoipa::path(post, path = "/v1/keys", operation_id = "create_key", tag = "keys",
    request_body = NewApiKey,
    responses((status = 201, description = "The key and its secret", body = CreatedKey), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    ApiJson(new): ApiJson<NewApiKey>,
) -> Result<(StatusCode, axum::Json<CreatedKey>), ApiError> {
    caller.require(Scope::Admin)?;
    let services = state.platform().await?;
    let created = services
        .key_admin
        .create(new, &origin(&caller, &request))
        .await?;
    tracing::info!(key = %created.key.id, by = %caller.0.key_id, "api key created");
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedKey {
            key: created.key,
            token: created.token,
        }),
    ))
}

/// Every key.
#[derive(Serialize, utoipa::ToSchema)]
struct Keys {
    /// The keys (never their secrets), revoked ones included.
    keys: Vec<ApiKey>,
}

/// The query string of the key listing.
#[derive(serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KeysQuery {
    /// Only this tenant's keys.
    tenant: Option<String>,
}

/// List API keys.
#[utoipa::path(get, path = "/v1/keys", operation_id = "list_keys", tag = "keys",
    params(KeysQuery),
    responses((status = 200, description = "The keys", body = Keys), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    super::params::QueryOf(query): super::params::QueryOf<KeysQuery>,
) -> Result<axum::Json<Keys>, ApiError> {
    caller.require(Scope::Admin)?;
    let tenant = query.tenant.map(TenantId::new).transpose()?;
    let mut keys = state.platform().await?.key_admin.list().await?;
    keys.retain(|key| tenant.as_ref().is_none_or(|t| key.tenant == *t));
    Ok(axum::Json(Keys { keys }))
}

/// Revoke an API key: this server refuses it from the next request on, other replicas within a
/// second.
#[utoipa::path(delete, path = "/v1/keys/{id}", operation_id = "revoke_key", tag = "keys",
    params(("id" = String, Path, description = "Key id (the `<id>` of `sp_<id>_<secret>`)")),
    responses((status = 200, description = "The revoked key", body = ApiKey), NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(id): Path<String>,
) -> Result<axum::Json<ApiKey>, ApiError> {
    caller.require(Scope::Admin)?;
    let services = state.platform().await?;
    let key = services
        .key_admin
        .revoke(&id, &origin(&caller, &request))
        .await?;
    tracing::info!(key = %key.id, by = %caller.0.key_id, "api key revoked");
    Ok(axum::Json(key))
}

/// How long the replaced secret keeps working.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Rotation {
    /// Seconds the old secret keeps working (default 86400, a day; at most 2592000, 30 days;
    /// 0 ends it at once).
    #[serde(default)]
    grace_secs: Option<u64>,
}

/// Rotate an API key's secret: a new token for the same key (id, scopes, tenant, limits),
/// in this answer only; the old token keeps working for the grace period, then is refused.
#[utoipa::path(post, path = "/v1/keys/{id}/rotate", operation_id = "rotate_key", tag = "keys",
    params(("id" = String, Path, description = "Key id (the `<id>` of `sp_<id>_<secret>`)")),
    request_body = Rotation,
    responses((status = 200, description = "The key and its new secret", body = CreatedKey),
        (status = 409, description = "SP-RES-002: the key is revoked", body = crate::error::ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(id): Path<String>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<Rotation>,
) -> Result<axum::Json<CreatedKey>, ApiError> {
    caller.require(Scope::Admin)?;
    let grace = std::time::Duration::from_secs(body.grace_secs.unwrap_or(86_400));
    let services = state.platform().await?;
    let rotated = services
        .key_admin
        .rotate(&id, grace, &origin(&caller, &request))
        .await?;
    tracing::info!(key = %rotated.key.id, by = %caller.0.key_id, "api key rotated");
    Ok(axum::Json(CreatedKey {
        key: rotated.key,
        token: rotated.token,
    }))
}
