//! How the hub reaches services: a trait, so the invocation logic (validation, retries,
//! breakers, timeouts) stays here and the HTTP client lives in `sp-data`.

use async_trait::async_trait;
use serde_json::Value;

/// A tool call on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// Instance URL plus the tool's path.
    pub url: String,
    /// The arguments, sent as the JSON body of a `POST`.
    pub arguments: Value,
    /// Sent as `X-Request-Id` so the service's logs and ours line up.
    pub request_id: Option<String>,
}

/// What came back.
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
    /// `POST`s a tool call.
    async fn call(&self, request: ToolRequest) -> Result<ToolResponse, TransportError>;

    /// `GET`s a health endpoint; returns the status and the body (JSON or `null`).
    async fn probe(&self, url: &str) -> Result<ToolResponse, TransportError>;
}
