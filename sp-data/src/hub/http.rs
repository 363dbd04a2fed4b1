//! The hub's transport: plain HTTP and MCP over Streamable HTTP, through one pooled reqwest
//! client with rustls (ring provider).

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

use sp_core::hub::{Protocol, ToolRequest, ToolResponse, ToolSpec, Transport, TransportError};

use super::mcp::McpSessions;

/// Calls tools and health endpoints over HTTP(S), and MCP servers (one session kept per
/// endpoint). Connections are pooled per host; the hub bounds each call with its own timeout.
///
/// ```
/// let transport = sp_data::HttpTransport::new().unwrap();
/// # let _ = transport;
/// ```
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    mcp: Arc<McpSessions>,
    max_response_bytes: usize,
}

/// The largest tool answer read by default (`hub.max_response_bytes`).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The largest health-check answer read: a probe needs its status, not a document.
const MAX_PROBE_BYTES: usize = 64 * 1024;

impl HttpTransport {
    /// A transport trusting the platform's root certificates, reading tool answers of at
    /// most [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub fn new() -> sp_core::Result<Self> {
        Self::with_max_response_bytes(DEFAULT_MAX_RESPONSE_BYTES)
    }

    /// A transport that refuses tool answers over `limit` bytes (`SP-HUB-006`): the body is
    /// read as it streams and the read stops at the limit, so a service that sends without
    /// end costs at most `limit` bytes of memory (review finding H6).
    ///
    /// ```
    /// let transport = sp_data::HttpTransport::with_max_response_bytes(1 << 20).unwrap();
    /// # let _ = transport;
    /// ```
    pub fn with_max_response_bytes(limit: usize) -> sp_core::Result<Self> {
        // reqwest's rustls needs a process-wide provider; whoever installs first wins, and any
        // of ours is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("story-portal-hub/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|err| sp_core::Error::internal(format!("http client: {err}")))?;
        Ok(HttpTransport {
            mcp: Arc::new(McpSessions::new(client.clone())),
            client,
            max_response_bytes: limit,
        })
    }

    /// The body of `response`, refused once it passes `limit` bytes.
    async fn body(
        mut response: reqwest::Response,
        limit: usize,
    ) -> Result<Vec<u8>, TransportError> {
        let too_large = || TransportError::Body(format!("the answer is larger than {limit} bytes"));
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| TransportError::Connect(err.to_string()))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn read(
        response: reqwest::Response,
        limit: usize,
    ) -> Result<ToolResponse, TransportError> {
        let status = response.status().as_u16();
        let bytes = Self::body(response, limit).await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(json) => json,
                // Error pages are often text: keep them for the caller's message.
                Err(_) if !(200..300).contains(&status) => {
                    Value::String(String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(err) => return Err(TransportError::Body(err.to_string())),
            }
        };
        Ok(ToolResponse { status, body })
    }
}

fn connect_error(err: reqwest::Error) -> TransportError {
    // The chain carries the useful part (refused, reset, DNS).
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError::Connect(text)
}

#[async_trait]
impl Transport for HttpTransport {
    async fn call(&self, request: ToolRequest) -> Result<ToolResponse, TransportError> {
        if request.protocol == Protocol::Mcp {
            return self
                .mcp
                .call(&request.url, &request.tool, request.arguments)
                .await;
        }
        let mut builder = self.client.post(&request.url).json(&request.arguments);
        if let Some(id) = &request.request_id {
            builder = builder.header("x-request-id", id);
        }
        let response = builder.send().await.map_err(connect_error)?;
        Self::read(response, self.max_response_bytes).await
    }

    async fn probe(&self, protocol: Protocol, url: &str) -> Result<ToolResponse, TransportError> {
        if protocol == Protocol::Mcp {
            return self.mcp.ping(url).await;
        }
        let response = self.client.get(url).send().await.map_err(connect_error)?;
        Self::read(response, MAX_PROBE_BYTES.min(self.max_response_bytes)).await
    }

    async fn mcp_tools(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError> {
        self.mcp.tools(url).await
    }
}
