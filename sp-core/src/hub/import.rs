//! Importing an MCP server: its tools become a service version of protocol `mcp`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Hub;
use super::transport::TransportError;
use super::types::{NewService, Protocol, Service};
use super::validate::{http_url, validate_service};
use crate::error::{Error, Result};
use crate::knowledge::Namespace;

/// An MCP server (Streamable HTTP) to register as a service version.
///
/// ```
/// use serde_json::json;
/// let import: sp_core::hub::McpImport = serde_json::from_value(json!({
///     "name": "files", "version": "1.0.0", "url": "http://127.0.0.1:8000/mcp"
/// })).unwrap();
/// assert!(import.tags.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct McpImport {
    /// The owner (tenant).
    #[serde(default)]
    pub namespace: Namespace,
    /// The service name to register it under.
    pub name: String,
    /// The version to register it as.
    pub version: String,
    /// The MCP endpoint (`http://` or `https://`).
    pub url: String,
    /// What it is (default: what the server says of itself, when anything).
    #[serde(default)]
    pub description: String,
    /// Labels to find it by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Capabilities to find it by.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// A JSON object.
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl Hub {
    /// Lists the tools of the MCP server at `import.url` and registers them as one service
    /// version (replacing the same name and version); `true` when new. Nothing is registered
    /// when the server cannot be reached or a tool does not fit the registry.
    pub async fn import_mcp(&self, import: McpImport) -> Result<(Service, bool)> {
        http_url("url", &import.url)?;
        self.egress().check_url("url", &import.url)?;
        let mut new = NewService {
            namespace: import.namespace,
            name: import.name,
            version: import.version,
            description: import.description,
            protocol: Protocol::Mcp,
            base_url: Some(import.url.clone()),
            health_path: None,
            tags: import.tags,
            capabilities: import.capabilities,
            metadata: import.metadata,
            tools: Vec::new(),
            canary_percent: None,
        };
        // Bad input is refused before the server is asked anything.
        validate_service(&new)?;
        new.tools =
            self.transport
                .mcp_tools(&import.url)
                .await
                .map_err(|err| Error::UpstreamError {
                    service: import.url.clone(),
                    status: None,
                    reason: match err {
                        TransportError::Connect(reason) | TransportError::Body(reason) => reason,
                    },
                })?;
        validate_service(&new)?;
        self.register(new).await
    }
}
