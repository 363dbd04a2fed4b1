//! The review's H6 and M9 for MCP: an imported server's answer is read only up to
//! `hub.max_response_bytes`, and an import stops reading a tool list that never ends.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;
use sp_core::ErrorCode;
use sp_core::hub::ToolInvocation;

use crate::mcp::{import, serve};
use crate::support::Fixture;

/// An MCP server whose tool answers `{"kib": n}` with n KiB of text; with `endless`, its `tools/list` answers
/// one new tool and a new cursor on every page, for ever.
#[derive(Clone)]
struct Hose {
    endless: bool,
}

impl ServerHandler for Hose {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let page: u64 = request
            .and_then(|r| r.cursor)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let schema = Arc::new(json!({"type": "object"}).as_object().unwrap().clone());
        let mut result =
            ListToolsResult::with_all_items(vec![Tool::new(format!("t{page}"), "", schema)]);
        if self.endless {
            result.next_cursor = Some((page + 1).to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let kib = request
            .arguments
            .and_then(|a| a.get("kib").and_then(serde_json::Value::as_u64))
            .unwrap_or(0);
        let text = "x".repeat(usize::try_from(kib).unwrap() * 1024);
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

async fn hose(endless: bool) -> String {
    let endpoint = StreamableHttpService::new(
        move || Ok(Hose { endless }),
        Arc::new(LocalSessionManager::default()),
        Default::default(),
    );
    let base = serve(axum::Router::new().nest_service("/mcp", endpoint)).await;
    format!("{base}/mcp")
}

pub async fn oversized_mcp_answers_and_endless_lists_are_refused(f: &Fixture) {
    // The test hub reads answers of at most 1 MiB: 512 KiB comes back whole, 2 MiB fails
    // the call (rmcp closes the session on it), and the next call opens a new session.
    let url = hose(false).await;
    f.hub
        .import_mcp(import("default", "hose", &url))
        .await
        .unwrap();
    for round in 0..2 {
        let fits = f
            .hub
            .invoke(ToolInvocation::new("t0", json!({"kib": 512})))
            .await
            .unwrap();
        assert_eq!(
            fits.output.as_str().map(str::len),
            Some(512 * 1024),
            "round {round}"
        );
        let call = f
            .hub
            .invoke(ToolInvocation::new("t0", json!({"kib": 2048})));
        let err = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("refused within 10 s")
            .map(|ok| format!("{:.80}", ok.output.to_string()))
            .expect_err("2 MiB is over the limit");
        assert_eq!(err.code(), ErrorCode::UpstreamError, "round {round}: {err}");
    }

    // A list that never ends is refused after 32 pages, and nothing is registered.
    let url = hose(true).await;
    let import = f.hub.import_mcp(import("default", "endless", &url));
    let err = tokio::time::timeout(Duration::from_secs(20), import)
        .await
        .expect("refused within 20 s")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UpstreamError, "{err}");
    assert!(err.to_string().contains("within 32 pages"), "{err}");
    let all = f.hub.discover(&Default::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["hose"]
    );
}
