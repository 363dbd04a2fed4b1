//! How the hub reaches services: a trait, so the invocation logic (validation, retries,
//! breakers, timeouts) stays here and the HTTP client lives in `sp-data`.

use async_trait::async_trait;
use serde_json::Value;

use super::types::{Protocol, ToolSpec};

/// A tool call on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// How to call.
    pub protocol: Protocol,
    /// `http`: the instance URL plus the tool's path; `mcp`: the instance's MCP endpoint.
    pub url: String,
    /// The tool's name on the service (what an MCP `tools/call` names).
    pub tool: String,
    /// The arguments: the JSON body of the `POST`, or the MCP call's arguments.
    pub arguments: Value,
    /// Sent as `X-Request-Id` so the service's logs and ours line up.
    pub request_id: Option<String>,
    /// Sent as `Idempotency-Key` (`http`), so a repeated call can be recognised.
    pub idempotency_key: Option<String>,
    /// Sent as `traceparent` (`http`): the trace of the request that made the call, with the
    /// gateway's hop — the request span, the one exported with the server's `otel` feature —
    /// as the parent ([`crate::trace`]).
    pub traceparent: Option<String>,
}

/// What came back. An MCP answer reads as 200 with the tool's result, or 500 with its error
/// when the tool reported one.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResponse {
    /// HTTP status.
    pub status: u16,
    /// The body as JSON (`null` when empty; a non-JSON body is a [`TransportError::Body`]).
    pub body: Value,
}

/// A call that got no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// No connection (refused, reset, DNS, TLS).
    #[error("cannot reach the service: {0}")]
    Connect(String),
    /// The answer was not JSON.
    #[error("the answer is not JSON: {0}")]
    Body(String),
}

/// Calls tools and health endpoints. The hub bounds every call with its own timeout, so an
/// implementation need not.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Makes a tool call.
    async fn call(&self, request: ToolRequest) -> Result<ToolResponse, TransportError>;

    /// Checks an instance: `http` `GET`s the health URL and returns its status and body (JSON
    /// or `null`); `mcp` pings the endpoint (200 when it answers).
    async fn probe(&self, protocol: Protocol, url: &str) -> Result<ToolResponse, TransportError>;

    /// The tools an MCP server at `url` offers, as the hub declares them (`path` holding an
    /// MCP name that breaks the hub's naming rule).
    async fn mcp_tools(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError>;
}
