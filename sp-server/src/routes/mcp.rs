//! `/v1/mcp`: the registry's tools as an MCP server, and `/v1/mcp/imports`: MCP servers into
//! the registry (both the `registry` scope).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use sp_core::auth::Scope;
use sp_core::hub::{McpImport, Service};
use tower::ServiceExt as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{InNamespace, NamespaceQuery};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(endpoint, endpoint_stream, endpoint_close))
        .routes(routes!(import))
}

/// Serve one Streamable HTTP exchange (stateless: any `sp` process can take any request).
async fn serve(
    state: AppState,
    caller: Caller,
    namespace: sp_core::knowledge::Namespace,
    mut request: Request,
) -> Result<Response, ApiError> {
    caller.require(Scope::Registry)?;
    // The SDK wants a Host header, which HTTP/2 (`:authority`) and in-process callers lack;
    // the gateway's authentication, not the host, guards this endpoint.
    if !request.headers().contains_key(header::HOST) {
        let host = request
            .uri()
            .authority()
            .map_or_else(|| "localhost".to_owned(), |a| a.to_string());
        if let Ok(host) = header::HeaderValue::from_str(&host) {
            request.headers_mut().insert(header::HOST, host);
        }
    }
    let hub = state.platform().await?.hub.clone();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let server =
        sp_data::McpToolServer::new(hub, namespace, request_id).with_tools(caller.0.tools.clone());
    let endpoint = sp_data::mcp_endpoint_of(server);
    let Ok(response) = endpoint.oneshot(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Ok(response.map(Body::new));
    }
    // The SDK refuses bad exchanges (headers, methods, bodies) in plain text: into the
    // envelope, its reason kept.
    let headers = response.headers().clone();
    let reason = axum::body::to_bytes(Body::new(response.into_body()), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = crate::middleware::envelope::code_for_status(status);
    let mut error = ApiError::new(code, format!("MCP: {reason}")).into_response();
    *error.status_mut() = status;
    if let Some(allow) = headers.get(header::ALLOW) {
        error.headers_mut().insert(header::ALLOW, allow.clone());
    }
    Ok(error)
}

/// MCP over Streamable HTTP: `tools/list` lists the namespace's registered tools, `tools/call`
/// calls one through the hub (validated, timed out, retried when idempotent, behind the
/// breaker). Bad arguments or an unknown tool are JSON-RPC errors (-32602) whose `data.code`
/// is the `SP-` code; a failing service is a tool result with `isError` and the code.
#[utoipa::path(post, path = "/v1/mcp", operation_id = "mcp", tag = "hub",
    params(NamespaceQuery),
    request_body(content = serde_json::Value, description = "A JSON-RPC 2.0 message of the Model Context Protocol"),
    responses(
        (status = 200, description = "The JSON-RPC answer", body = serde_json::Value),
        (status = 202, description = "A notification, accepted"),
        GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn endpoint(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    request: Request,
) -> Result<Response, ApiError> {
    serve(state, caller, namespace, request).await
}

/// The server-to-client stream of Streamable HTTP: this endpoint is stateless and offers none
/// (405, as the protocol allows).
#[utoipa::path(get, path = "/v1/mcp", operation_id = "mcp_stream", tag = "hub",
    params(NamespaceQuery),
    responses((status = 405, description = "No standalone stream"), GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn endpoint_stream(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    request: Request,
) -> Result<Response, ApiError> {
    serve(state, caller, namespace, request).await
}

/// Ending a session: this endpoint keeps none (405, as the protocol allows).
#[utoipa::path(delete, path = "/v1/mcp", operation_id = "mcp_close", tag = "hub",
    params(NamespaceQuery),
    responses((status = 405, description = "No sessions to end"), GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn endpoint_close(
    State(state): State<AppState>,
    caller: Caller,
    InNamespace(namespace): InNamespace,
    request: Request,
) -> Result<Response, ApiError> {
    serve(state, caller, namespace, request).await
}

/// Import an MCP server (Streamable HTTP): its tools are listed and registered as one service
/// version of protocol `mcp`, called through the hub like any other.
#[utoipa::path(post, path = "/v1/mcp/imports", operation_id = "import_mcp_server", tag = "hub",
    request_body = McpImport,
    responses(
        (status = 201, description = "Registered", body = Service),
        (status = 200, description = "Replaced", body = Service),
        (status = 502, description = "SP-HUB-006: the MCP server cannot be reached or refused to list its tools", body = crate::error::ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["registry"]), ("api_key" = ["registry"])))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut import): ApiJson<McpImport>,
) -> Result<(StatusCode, axum::Json<Service>), ApiError> {
    caller.require(Scope::Registry)?;
    caller.scope(&mut import.namespace)?;
    let (service, created) = state.platform().await?.hub.import_mcp(import).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(service)))
}
