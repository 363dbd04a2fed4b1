//! The hub's transport: plain HTTP and MCP over Streamable HTTP, through one pooled reqwest
//! client with rustls (ring provider).

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

use sp_core::hub::{
    EgressPolicy, Protocol, ToolRequest, ToolResponse, ToolSpec, Transport, TransportError,
};

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
    egress: EgressPolicy,
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
        Self::with_policy(limit, EgressPolicy::default())
    }

    /// A transport reading answers of at most `limit` bytes that reaches only what `egress`
    /// permits (review finding H2): a URL naming a refused address fails before anything is
    /// sent, a name is resolved and only its permitted addresses are dialled (so DNS cannot
    /// point it inward), and redirects are not followed (a `3xx` is the service's answer).
    ///
    /// ```
    /// use sp_core::hub::EgressPolicy;
    /// let transport =
    ///     sp_data::HttpTransport::with_policy(1 << 20, EgressPolicy::with_loopback()).unwrap();
    /// # let _ = transport;
    /// ```
    pub fn with_policy(limit: usize, egress: EgressPolicy) -> sp_core::Result<Self> {
        // reqwest's rustls needs a process-wide provider; whoever installs first wins, and any
        // of ours is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("story-portal-hub/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                egress: egress.clone(),
            }))
            .build()
            .map_err(|err| sp_core::Error::internal(format!("http client: {err}")))?;
        Ok(HttpTransport {
            mcp: Arc::new(McpSessions::new(client.clone(), limit)),
            client,
            max_response_bytes: limit,
            egress,
        })
    }

    /// Refuses a URL whose host is an address the policy does not permit (names are checked
    /// by [`GuardedResolver`] as they resolve).
    fn guard(&self, url: &str) -> Result<(), TransportError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|err| TransportError::Connect(format!("`{url}`: {err}")))?;
        let host = parsed.host_str().unwrap_or_default();
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
        else {
            return Ok(());
        };
        match self.egress.refusal(ip) {
            Some(reason) => Err(TransportError::Connect(format!("refused: {reason}"))),
            None => Ok(()),
        }
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
        self.guard(&request.url)?;
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
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        if let Some(traceparent) = &request.traceparent {
            builder = builder.header("traceparent", traceparent);
        }
        let response = builder.send().await.map_err(connect_error)?;
        Self::read(response, self.max_response_bytes).await
    }

    async fn probe(&self, protocol: Protocol, url: &str) -> Result<ToolResponse, TransportError> {
        self.guard(url)?;
        if protocol == Protocol::Mcp {
            return self.mcp.ping(url).await;
        }
        let response = self.client.get(url).send().await.map_err(connect_error)?;
        Self::read(response, MAX_PROBE_BYTES.min(self.max_response_bytes)).await
    }

    async fn mcp_tools(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError> {
        self.guard(url)?;
        self.mcp.tools(url).await
    }
}

/// Resolves names as the system does and keeps only the addresses the policy permits: a
/// name whose addresses are all refused fails to connect, naming the first and why.
struct GuardedResolver {
    egress: EgressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.egress.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let refused = found.iter().find_map(|a| egress.refusal(a.ip()));
            let permitted: Vec<_> = found
                .into_iter()
                .filter(|a| egress.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                let reason = refused.unwrap_or_else(|| format!("`{host}` has no address"));
                return Err(format!("refused: `{host}`: {reason}").into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
