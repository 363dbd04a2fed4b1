//! The registry's tools as an MCP server (Streamable HTTP, stateless).

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use sp_core::hub::{Discovery, Hub, ToolInvocation};
use sp_core::knowledge::Namespace;

use super::convert::{failure_of, result_of, tool_of};

/// Answers MCP `tools/list` with the tools of a namespace's registered services and
/// `tools/call` with [`Hub::invoke`], so MCP clients get the hub's validation, retries,
/// timeouts and circuit breakers.
#[derive(Clone)]
pub struct McpToolServer {
    hub: Arc<Hub>,
    namespace: Namespace,
    request_id: Option<String>,
    /// The tools the caller may call (any when `None`): others are neither listed nor called.
    allowed: Option<Arc<[String]>>,
}

impl McpToolServer {
    /// The tools of `namespace`; `request_id` goes with every call the hub makes.
    pub fn new(hub: Arc<Hub>, namespace: Namespace, request_id: Option<String>) -> Self {
        McpToolServer {
            hub,
            namespace,
            request_id,
            allowed: None,
        }
    }

    /// Serves only `tools` (all when `None`): what a key limited to some tools sees.
    pub fn with_tools(mut self, tools: Option<Vec<String>>) -> Self {
        self.allowed = tools.map(Arc::from);
        self
    }

    fn allows(&self, tool: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|t| t == tool))
    }
}

fn internal(err: sp_core::Error) -> ErrorData {
    ErrorData::internal_error(
        err.to_string(),
        Some(serde_json::json!({"code": err.code().as_str()})),
    )
}

impl ServerHandler for McpToolServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "story-portal",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("The tools registered in the Story Portal service hub.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let query = Discovery {
            namespace: self.namespace.clone(),
            ..Discovery::default()
        };
        let entries = self.hub.tools(&query).await.map_err(internal)?;
        let mut tools = Vec::with_capacity(entries.len());
        // Several versions or services may offer one name; a client sees it once, and a call
        // resolves it the way the hub does (the highest version, or a conflict).
        for entry in entries.into_iter().filter(|e| self.allows(&e.tool.name)) {
            if !tools
                .iter()
                .any(|t: &rmcp::model::Tool| t.name == entry.tool.name)
            {
                tools.push(tool_of(&entry.tool));
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.allows(&request.name) {
            let refused = sp_core::Error::Forbidden {
                scope: format!("tool:{}", request.name),
            };
            let data = serde_json::json!({"code": refused.code().as_str()});
            return Err(ErrorData::invalid_params(refused.to_string(), Some(data)));
        }
        let call = ToolInvocation {
            namespace: self.namespace.clone(),
            request_id: self.request_id.clone(),
            ..ToolInvocation::new(
                request.name.into_owned(),
                // MCP's arguments are optional: none is the empty object.
                Value::Object(request.arguments.unwrap_or_default()),
            )
        };
        let result = match self.hub.invoke(call).await {
            Ok(result) => result_of(result.output),
            Err(err) => failure_of(err)?,
        };
        Ok(result.into())
    }
}

/// A Streamable HTTP endpoint (a `tower` service; mount it with axum's `nest_service` or call
/// it per request) serving [`McpToolServer`]. Stateless: every request stands alone, so any
/// process behind a load balancer can answer it. The `Host` header is not checked: put the
/// endpoint behind authentication (the reference server's `/v1/mcp` needs the `registry`
/// scope), which is what defeats DNS rebinding.
///
/// ```
/// # fn demo(hub: std::sync::Arc<sp_core::hub::Hub>) {
/// let endpoint = sp_data::mcp_endpoint(hub, Default::default(), None);
/// let app: axum::Router = axum::Router::new().nest_service("/mcp", endpoint);
/// # }
/// ```
pub fn mcp_endpoint(
    hub: Arc<Hub>,
    namespace: Namespace,
    request_id: Option<String>,
) -> StreamableHttpService<McpToolServer, NeverSessionManager> {
    mcp_endpoint_of(McpToolServer::new(hub, namespace, request_id))
}

/// [`mcp_endpoint`] serving `server` as configured (e.g. [`McpToolServer::with_tools`]).
pub fn mcp_endpoint_of(
    server: McpToolServer,
) -> StreamableHttpService<McpToolServer, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts();
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
