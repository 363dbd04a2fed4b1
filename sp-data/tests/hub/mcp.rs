//! MCP both ways: the registry's tools served as an MCP endpoint, and MCP servers imported into
//! the registry and called through it — a round trip through the official SDK on both ends.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, ServiceExt as _};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use sp_core::ErrorCode;
use sp_core::hub::{Discovery, HealthStatus, McpImport, Protocol, ToolInvocation};
use sp_core::knowledge::Namespace;

use crate::support::{Fixture, tools_service, upstream};

/// Serves `app` on loopback; its URL.
pub(crate) async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

pub(crate) fn import(namespace: &str, name: &str, url: &str) -> McpImport {
    serde_json::from_value(json!({
        "namespace": namespace, "name": name, "version": "1.0.0", "url": url,
        "tags": ["mcp"]
    }))
    .unwrap()
}

fn call_in(namespace: &str, tool: &str, arguments: Value) -> ToolInvocation {
    ToolInvocation {
        namespace: Namespace::new(namespace).unwrap(),
        ..ToolInvocation::new(tool, arguments)
    }
}

pub async fn export_and_import_round_trip(f: &Fixture) {
    let hub = &f.hub;
    let (http_url, up) = upstream().await;
    let original = tools_service("town", "1.0.0", &http_url);
    hub.register(original.clone()).await.unwrap();
    let endpoint = sp_data::mcp_endpoint(hub.clone(), Namespace::default(), None);
    let mcp_url = format!(
        "{}/mcp",
        serve(axum::Router::new().nest_service("/mcp", endpoint)).await
    );

    // An MCP client sees the registry's tools with their schemas and calls them.
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("test", "1"),
    )
    .serve(StreamableHttpClientTransport::from_uri(mcp_url.clone()))
    .await
    .unwrap();
    let listed = client.list_all_tools().await.unwrap();
    let echo = listed.iter().find(|t| t.name == "echo").unwrap();
    assert_eq!(
        Value::Object((*echo.input_schema).clone()),
        original.tools[0].input_schema
    );
    assert_eq!(
        echo.annotations.as_ref().and_then(|a| a.idempotent_hint),
        Some(true)
    );
    let answer = client
        .call_tool(
            CallToolRequestParams::new("echo")
                .with_arguments(json!({"city": "Oslo"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.structured_content,
        Some(json!({"echo": {"city": "Oslo"}}))
    );
    // Bad arguments are a protocol error carrying the stable code; the service is not called.
    let before = up.calls.load(Ordering::SeqCst);
    let refused = client
        .call_tool(
            CallToolRequestParams::new("echo")
                .with_arguments(json!({"city": 7}).as_object().unwrap().clone()),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("SP-HUB-001"), "{refused}");
    assert_eq!(up.calls.load(Ordering::SeqCst), before);
    // A failing service is the tool's error result, for a model to read.
    let failed = client
        .call_tool(CallToolRequestParams::new("fail"))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(
        failed.structured_content.unwrap()["code"],
        json!("SP-HUB-006")
    );
    client.cancel().await.unwrap();

    // Imported into another namespace, the tools are a service of protocol `mcp`...
    let (mirror, created) = hub
        .import_mcp(import("mirror", "town-mcp", &mcp_url))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(mirror.protocol, Protocol::Mcp);
    assert_eq!(mirror.base_url.as_deref(), Some(mcp_url.as_str()));
    let names = |tools: &[sp_core::hub::ToolSpec]| {
        let mut n: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&mirror.tools), names(&original.tools));
    let echo = mirror.tool("echo").unwrap();
    assert_eq!(echo.input_schema, original.tools[0].input_schema);
    assert!(echo.idempotent);
    assert!(!mirror.tool("fail").unwrap().idempotent);

    // ...called through the hub, which checks the arguments before anything goes out.
    let before = up.calls.load(Ordering::SeqCst);
    let result = hub
        .invoke(call_in("mirror", "echo", json!({"city": "Lima"})))
        .await
        .unwrap();
    assert_eq!(result.output, json!({"echo": {"city": "Lima"}}));
    assert_eq!(result.service, "town-mcp");
    assert_eq!(up.calls.load(Ordering::SeqCst), before + 1);
    let err = hub
        .invoke(call_in("mirror", "echo", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ToolArgumentsInvalid);
    assert_eq!(up.calls.load(Ordering::SeqCst), before + 1);
    // The far side's failure comes back as an upstream error naming its code.
    let err = hub
        .invoke(call_in("mirror", "fail", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UpstreamError, "{err}");
    assert!(err.to_string().contains("SP-HUB-006"), "{err}");

    // Health checks ping the MCP endpoint.
    let mut trackers = std::collections::HashMap::new();
    hub.check_health_once(&mut trackers).await;
    let mirror = hub
        .get(&Namespace::new("mirror").unwrap(), "town-mcp", "1.0.0")
        .await
        .unwrap();
    assert_eq!(mirror.health, HealthStatus::Healthy);
    let summary = hub.health_summary().await.unwrap();
    assert_eq!(
        (summary.services, summary.healthy),
        (2, 2),
        "both namespaces' services: {summary:?}"
    );
    let found = hub
        .discover(&Discovery {
            namespace: Namespace::new("mirror").unwrap(),
            tag: Some("mcp".into()),
            tool: Some("echo".into()),
            ..Discovery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

/// An MCP server of someone else's, with tool names the hub's rule does not allow.
#[derive(Clone)]
struct Weather;

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        let schema = Arc::new(schema.as_object().unwrap().clone());
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("weather.today", "Today's weather", schema.clone()),
            Tool::new("weather/text", "As text", schema),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let city = request
            .arguments
            .and_then(|a| a.get("city").cloned())
            .unwrap_or(Value::Null);
        Ok(match request.name.as_ref() {
            "weather.today" => {
                rmcp::model::CallToolResult::structured(json!({"city": city, "c": 21}))
            }
            "weather/text" => {
                rmcp::model::CallToolResult::success(vec![rmcp::model::ContentBlock::text("sunny")])
            }
            _ => return Err(ErrorData::invalid_params("no such tool", None)),
        }
        .into())
    }
}

pub async fn import_any_mcp_server(f: &Fixture) {
    let hub = &f.hub;
    let endpoint = rmcp::transport::streamable_http_server::StreamableHttpService::new(
        || Ok(Weather),
        Arc::new(
            rmcp::transport::streamable_http_server::session::local::LocalSessionManager::default(),
        ),
        Default::default(),
    );
    let url = format!(
        "{}/mcp",
        serve(axum::Router::new().nest_service("/mcp", endpoint)).await
    );
    let (service, _) = hub
        .import_mcp(import("default", "weather", &url))
        .await
        .unwrap();
    let today = service.tool("weather_today").unwrap();
    assert_eq!(today.path.as_deref(), Some("weather.today"));
    assert_eq!(today.description, "Today's weather");
    let result = hub
        .invoke(call_in("default", "weather_today", json!({"city": "Rome"})))
        .await
        .unwrap();
    assert_eq!(result.output, json!({"city": "Rome", "c": 21}));
    let text = hub
        .invoke(call_in("default", "weather_text", json!({})))
        .await
        .unwrap();
    assert_eq!(text.output, json!("sunny"));

    // Nothing is registered from a server that is not there, or under a bad name.
    let err = hub
        .import_mcp(import("default", "ghost", "http://127.0.0.1:9/mcp"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UpstreamError, "{err}");
    let err = hub
        .import_mcp(import("default", "Bad Name", &url))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    let all = hub.discover(&Discovery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["weather"]
    );
}
