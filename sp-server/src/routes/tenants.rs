//! `/v1/tenants`: who owns namespaces and keys (the `admin` scope).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use sp_core::TenantId;
use sp_core::auth::Scope;
use sp_core::tenants::{NewTenant, StorageQuota, StorageUse, Tenant, TenantQuotas};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{RequestIdOf, origin};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(fetch))
        .routes(routes!(set_quotas))
        .routes(routes!(storage))
}

/// Create a tenant. Its keys (`POST /v1/keys` with `tenant`) reach its namespaces only:
/// `<id>.<name>`, or a bare `<name>`, which their requests mean.
#[utoipa::path(post, path = "/v1/tenants", operation_id = "create_tenant", tag = "tenants",
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created", body = Tenant),
        (status = 409, description = "SP-RES-002: the id is taken", body = crate::error::ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    ApiJson(new): ApiJson<NewTenant>,
) -> Result<(StatusCode, axum::Json<Tenant>), ApiError> {
    caller.require(Scope::Admin)?;
    let services = state.platform().await?;
    let tenant = services
        .key_admin
        .create_tenant(new, &origin(&caller, &request))
        .await?;
    tracing::info!(tenant = %tenant.id, by = %caller.0.key_id, "tenant created");
    Ok((StatusCode::CREATED, axum::Json(tenant)))
}

/// Every tenant.
#[derive(Serialize, utoipa::ToSchema)]
struct Tenants {
    /// By id; `default` is always there.
    tenants: Vec<Tenant>,
}

/// List tenants.
#[utoipa::path(get, path = "/v1/tenants", operation_id = "list_tenants", tag = "tenants",
    responses((status = 200, description = "The tenants", body = Tenants), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Tenants>, ApiError> {
    caller.require(Scope::Admin)?;
    let tenants = state.platform().await?.key_admin.tenants().await?;
    Ok(axum::Json(Tenants { tenants }))
}

/// Get a tenant.
#[utoipa::path(get, path = "/v1/tenants/{id}", operation_id = "get_tenant", tag = "tenants",
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "The tenant", body = Tenant), NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Tenant>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = TenantId::new(id)?;
    let tenant = state.platform().await?.key_admin.tenant(&id).await?;
    Ok(axum::Json(tenant))
}

/// Replace a tenant's quotas: requests and tokens (prompt + completion + embedding) of all
/// its keys together, and what its documents may take (`storage`: sections, bytes); an empty
/// body `{}` removes them. They apply within a second on every
/// process.
#[utoipa::path(put, path = "/v1/tenants/{id}/quotas", operation_id = "set_tenant_quotas", tag = "tenants",
    params(("id" = String, Path, description = "Tenant id")),
    request_body = TenantQuotas,
    responses((status = 200, description = "The tenant with its new quotas", body = Tenant), NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn set_quotas(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(id): Path<String>,
    ApiJson(quotas): ApiJson<TenantQuotas>,
) -> Result<axum::Json<Tenant>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = TenantId::new(id)?;
    let tenant = state
        .platform()
        .await?
        .key_admin
        .set_tenant_quotas(&id, quotas, &origin(&caller, &request))
        .await?;
    tracing::info!(tenant = %tenant.id, by = %caller.0.key_id, "tenant quotas set");
    Ok(axum::Json(tenant))
}

/// What a tenant's documents take, beside its storage quota.
#[derive(Serialize, utoipa::ToSchema)]
struct TenantStorage {
    /// The tenant.
    #[schema(value_type = String)]
    tenant: TenantId,
    /// Sections and bytes of all its documents (soft-deleted ones included, until purged).
    used: StorageUse,
    /// Its storage quota (`quotas.storage`); an ingest past it is `SP-KB-004`.
    quota: StorageQuota,
}

/// What a tenant's documents take, against its storage quota.
#[utoipa::path(get, path = "/v1/tenants/{id}/storage", operation_id = "get_tenant_storage", tag = "tenants",
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "Its storage", body = TenantStorage), NotFound, GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn storage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<TenantStorage>, ApiError> {
    caller.require(Scope::Admin)?;
    let id = TenantId::new(id)?;
    let services = state.platform().await?;
    let tenant = services.key_admin.tenant(&id).await?;
    let used = services.knowledge.storage_used(&id).await?;
    Ok(axum::Json(TenantStorage {
        tenant: tenant.id,
        used,
        quota: tenant.quotas.storage,
    }))
}
