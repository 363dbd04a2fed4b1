//! MCP client sessions, one per endpoint, kept open between calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, Implementation,
    PingRequest,
};
use rmcp::service::{RunningService, ServiceError, ServiceExt as _};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;
use sp_core::hub::{ToolResponse, ToolSpec, TransportError};

use super::convert::{response_of, response_of_error, spec_of};

type Session = RunningService<RoleClient, ClientConfig>;

/// Open MCP sessions by endpoint URL. A session that fails is dropped, and the next call
/// opens a new one; the hub's retry policy decides whether a failed call is made again.
pub(crate) struct McpSessions {
    http: reqwest::Client,
    open: Mutex<HashMap<String, Arc<Session>>>,
}

impl std::fmt::Debug for McpSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().map(|o| o.len()).unwrap_or(0);
        f.debug_struct("McpSessions").field("open", &open).finish()
    }
}

impl McpSessions {
    pub(crate) fn new(http: reqwest::Client) -> Self {
        McpSessions {
            http,
            open: Mutex::new(HashMap::new()),
        }
    }

    async fn session(&self, url: &str) -> Result<Arc<Session>, TransportError> {
        if let Some(session) = self.open.lock().ok().and_then(|o| o.get(url).cloned()) {
            return Ok(session);
        }
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
        );
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("story-portal-hub", env!("CARGO_PKG_VERSION")),
        );
        let session = Arc::new(
            info.serve(transport)
                .await
                .map_err(|err| TransportError::Connect(format!("MCP handshake: {err}")))?,
        );
        if let Ok(mut open) = self.open.lock() {
            open.insert(url.to_owned(), session.clone());
        }
        Ok(session)
    }

    fn forget(&self, url: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(url);
        }
    }

    /// An error answer of the server, or the end of the session.
    fn outcome<T>(
        &self,
        url: &str,
        result: Result<T, ServiceError>,
    ) -> Result<Result<T, ToolResponse>, TransportError> {
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(ServiceError::McpError(error)) => Ok(Err(response_of_error(error))),
            Err(err) => {
                self.forget(url);
                Err(TransportError::Connect(format!("MCP: {err}")))
            }
        }
    }

    pub(crate) async fn call(
        &self,
        url: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<ToolResponse, TransportError> {
        let session = self.session(url).await?;
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let result = session.call_tool(params).await;
        Ok(match self.outcome(url, result)? {
            Ok(result) => response_of(result),
            Err(refused) => refused,
        })
    }

    pub(crate) async fn ping(&self, url: &str) -> Result<ToolResponse, TransportError> {
        let session = self.session(url).await?;
        let ping = ClientRequest::PingRequest(PingRequest {
            method: Default::default(),
            extensions: Default::default(),
        });
        let result = session.send_request(ping).await;
        Ok(match self.outcome(url, result)? {
            Ok(_) => ToolResponse {
                status: 200,
                body: Value::Null,
            },
            Err(refused) => refused,
        })
    }

    pub(crate) async fn tools(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError> {
        let session = self.session(url).await?;
        let result = session.list_all_tools().await;
        match self.outcome(url, result)? {
            Ok(tools) => Ok(tools.into_iter().map(spec_of).collect()),
            Err(refused) => Err(TransportError::Connect(format!(
                "the MCP server refused to list its tools: {}",
                refused.body
            ))),
        }
    }
}
