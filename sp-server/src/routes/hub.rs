//! `/v1/services` and `/v1/tools`: the service hub over HTTP (the `registry` scope).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sp_core::auth::Scope;
use sp_core::hub::{
    Discovery, Instance, NewInstance, NewService, Service, ToolEntry, ToolInvocation, ToolResult,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{InNamespace, NamespaceQuery, QueryOf, parse_id};
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, discover))
        .routes(routes!(fetch, deregister))
        .routes(routes!(heartbeat))
        .routes(routes!(remove_instance))
        .routes(routes!(tools))
        .routes(routes!(invoke))
}

/// Register a service version (or replace the same name and version) with its tools.
#[utoipa::path(post, path = "/v1/services", operation_id = "register_service", tag = "hub",
    request_body = NewService,
    responses(
        (status = 201, description = "Registered", body = Service),
        (status = 200, description = "Replaced", body = Service),
        GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut new): ApiJson<NewService>,
) -> Result<(StatusCode, axum::Json<Service>), ApiError> {
    caller.require(Scope::Registry)?;
    caller.scope(&mut new.namespace)?;
    let (service, created) = state.platform().await?.hub.register(new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(service)))
}

/// Services found.
#[derive(Serialize, utoipa::ToSchema)]
struct Services {
    /// By name, then registration order, with their live instances and health.
    services: Vec<Service>,
}

/// Discover services by name, tag, capability, tool, semver range and health.
#[utoipa::path(get, path = "/v1/services", operation_id = "discover_services", tag = "hub",
    params(Discovery),
    responses((status = 200, description = "The services", body = Services), GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn discover(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(mut query): QueryOf<Discovery>,
) -> Result<axum::Json<Services>, ApiError> {
    caller.require(Scope::Registry)?;
    caller.scope(&mut query.namespace)?;
    let services = state.platform().await?.hub.discover(&query).await?;
    Ok(axum::Json(Services { services }))
}

/// One service version.
#[utoipa::path(get, path = "/v1/services/{name}/versions/{version}", operation_id = "get_service",
    tag = "hub",
    params(("name" = String, Path), ("version" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The service", body = Service), NotFound, GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Service>, ApiError> {
    caller.require(Scope::Registry)?;
    let hub = &state.platform().await?.hub;
    Ok(axum::Json(hub.get(&namespace, &name, &version).await?))
}

/// Deregister a service version and its instances.
#[utoipa::path(delete, path = "/v1/services/{name}/versions/{version}",
    operation_id = "deregister_service", tag = "hub",
    params(("name" = String, Path), ("version" = String, Path), NamespaceQuery),
    responses((status = 204, description = "Removed"), NotFound, GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn deregister(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Registry)?;
    let hub = &state.platform().await?.hub;
    hub.deregister(&namespace, &name, &version).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Join or renew an instance (same URL = same instance); it drops out after `ttl_secs`
/// without another heartbeat.
#[utoipa::path(post, path = "/v1/services/{name}/versions/{version}/instances",
    operation_id = "heartbeat_instance", tag = "hub",
    params(("name" = String, Path), ("version" = String, Path), NamespaceQuery),
    request_body = NewInstance,
    responses((status = 200, description = "The instance", body = Instance), NotFound, GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
    InNamespace(namespace): InNamespace,
    ApiJson(instance): ApiJson<NewInstance>,
) -> Result<axum::Json<Instance>, ApiError> {
    caller.require(Scope::Registry)?;
    let hub = &state.platform().await?.hub;
    let instance = hub
        .heartbeat(&namespace, &name, &version, &instance)
        .await?;
    Ok(axum::Json(instance))
}

/// Remove an instance at once (a clean shutdown).
#[utoipa::path(delete, path = "/v1/services/{name}/versions/{version}/instances/{id}",
    operation_id = "remove_instance", tag = "hub",
    params(("name" = String, Path), ("version" = String, Path),
        ("id" = sp_core::Id, Path, description = "Instance id"), NamespaceQuery),
    responses((status = 204, description = "Removed"), NotFound, GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn remove_instance(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version, id)): Path<(String, String, String)>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Registry)?;
    let hub = &state.platform().await?.hub;
    hub.remove_instance(&namespace, &name, &version, parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tools found.
#[derive(Serialize, utoipa::ToSchema)]
struct Tools {
    /// Each tool with the service version offering it.
    tools: Vec<ToolEntry>,
}

/// List tools of the services a discovery query finds (`tool` narrows to one name).
#[utoipa::path(get, path = "/v1/tools", operation_id = "list_tools", tag = "hub",
    params(Discovery),
    responses((status = 200, description = "The tools", body = Tools), GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn tools(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(mut query): QueryOf<Discovery>,
) -> Result<axum::Json<Tools>, ApiError> {
    caller.require(Scope::Registry)?;
    caller.scope(&mut query.namespace)?;
    let mut tools = state.platform().await?.hub.tools(&query).await?;
    // A key limited to some tools sees only those.
    tools.retain(|entry| caller.0.may_call_tool(&entry.tool.name).is_ok());
    Ok(axum::Json(Tools { tools }))
}

/// A tool call.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InvokeRequest {
    /// The arguments (default `{}`), checked against the tool's input schema before any call.
    #[serde(default = "no_arguments")]
    arguments: Value,
    /// The service, when several offer the tool.
    #[serde(default)]
    service: Option<String>,
    /// A semver range; the highest matching version answers.
    #[serde(default)]
    version: Option<String>,
    /// While a canary version runs, calls with the same affinity go to the same version
    /// (default: the caller's key, so each caller stays on one side).
    #[serde(default)]
    affinity: Option<String>,
}

fn no_arguments() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Call a tool through the hub: validated, timed out, retried when idempotent, behind the
/// service's circuit breaker; the request id goes along as `X-Request-Id`, and an
/// `Idempotency-Key` header, when the caller sends one, as `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/tools/{name}/invoke", operation_id = "invoke_tool", tag = "hub",
    params(("name" = String, Path, description = "Tool name"), NamespaceQuery),
    request_body = InvokeRequest,
    responses(
        (status = 200, description = "The service's answer", body = ToolResult),
        (status = "4XX", description = "SP-HUB-001: arguments fail the schema (400); SP-HUB-002: no such tool (404); SP-RES-002: several services offer it (409)", body = ErrorEnvelope),
        (status = "5XX", description = "SP-HUB-003: no healthy instance (503); SP-HUB-004: breaker open (503, Retry-After); SP-HUB-005: timeout (504); SP-HUB-006: upstream error (502)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn invoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
    headers: HeaderMap,
    ApiJson(body): ApiJson<InvokeRequest>,
) -> Result<axum::Json<ToolResult>, ApiError> {
    caller.require(Scope::Registry)?;
    caller.0.may_call_tool(&name)?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let call = ToolInvocation {
        namespace,
        tool: name,
        service: body.service,
        version: body.version,
        arguments: body.arguments,
        request_id,
        idempotency_key,
        affinity: Some(body.affinity.unwrap_or_else(|| caller.0.key_id.clone())),
    };
    let services = state.platform().await?;
    Ok(axum::Json(services.hub.invoke(call).await?))
}
