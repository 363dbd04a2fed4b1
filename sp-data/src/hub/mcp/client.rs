//! MCP client sessions, one per endpoint, kept open between calls — a bounded number of
//! them, each reading messages of bounded size (review findings H6 and M9).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, Implementation,
    PaginatedRequestParams, PingRequest,
};
use rmcp::service::{RunningService, ServiceError, ServiceExt as _};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Value;
use sp_core::hub::{MAX_TOOLS, ToolResponse, ToolSpec, TransportError};

use super::convert::{response_of, response_of_error, spec_of};

type Session = RunningService<RoleClient, ClientConfig>;

/// The most MCP sessions kept open at once; past it the least recently used one closes, so
/// endpoints that differ only in their query string cannot pile up tasks and connections.
pub(crate) const MAX_SESSIONS: usize = 64;

/// The most pages of `tools/list` read in one import: a server that always answers with a
/// new cursor is refused after this many, whatever it lists.
pub(crate) const MAX_LIST_PAGES: usize = 32;

/// The longest an import may spend listing a server's tools, all pages together.
pub(crate) const LIST_DEADLINE: Duration = Duration::from_secs(30);

/// Open MCP sessions by endpoint URL. A session that fails is dropped, and the next call
/// opens a new one; the hub's retry policy decides whether a failed call is made again.
pub(crate) struct McpSessions {
    http: reqwest::Client,
    max_message_bytes: usize,
    open: Mutex<OpenSessions<Session>>,
}

/// The sessions by URL, each with the tick of its last use.
struct OpenSessions<S> {
    by_url: HashMap<String, (Arc<S>, u64)>,
    tick: u64,
}

impl<S> Default for OpenSessions<S> {
    fn default() -> Self {
        OpenSessions {
            by_url: HashMap::new(),
            tick: 0,
        }
    }
}

impl<S> OpenSessions<S> {
    fn get(&mut self, url: &str) -> Option<Arc<S>> {
        self.tick += 1;
        let tick = self.tick;
        self.by_url.get_mut(url).map(|(session, used)| {
            *used = tick;
            session.clone()
        })
    }

    fn insert(&mut self, url: &str, session: Arc<S>) {
        if self.by_url.len() >= MAX_SESSIONS && !self.by_url.contains_key(url) {
            let oldest = self
                .by_url
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(url, _)| url.clone());
            // A call still holding the evicted session finishes on it; the session closes
            // when the last holder lets go.
            if let Some(oldest) = oldest {
                self.by_url.remove(&oldest);
            }
        }
        self.tick += 1;
        self.by_url.insert(url.to_owned(), (session, self.tick));
    }
}

impl std::fmt::Debug for McpSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().map(|o| o.by_url.len()).unwrap_or(0);
        f.debug_struct("McpSessions").field("open", &open).finish()
    }
}

impl McpSessions {
    /// Sessions over `http` that refuse any message (a JSON answer or one SSE event) over
    /// `max_message_bytes`: the same bound as an HTTP tool's answer.
    pub(crate) fn new(http: reqwest::Client, max_message_bytes: usize) -> Self {
        McpSessions {
            http,
            max_message_bytes,
            open: Mutex::new(OpenSessions::default()),
        }
    }

    async fn session(&self, url: &str) -> Result<Arc<Session>, TransportError> {
        if let Some(session) = self.open.lock().ok().and_then(|mut o| o.get(url)) {
            return Ok(session);
        }
        let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
            .max_json_response_size(self.max_message_bytes)
            .max_sse_event_size(self.max_message_bytes);
        let transport = StreamableHttpClientTransport::with_client(self.http.clone(), config);
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
            open.insert(url, session.clone());
        }
        Ok(session)
    }

    fn forget(&self, url: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.by_url.remove(url);
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

    /// The server's tools, page by page: refused past [`MAX_TOOLS`] tools, past
    /// [`MAX_LIST_PAGES`] pages, or after [`LIST_DEADLINE`], so a server whose list never
    /// ends costs a bounded amount of memory and time.
    pub(crate) async fn tools(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError> {
        tokio::time::timeout(LIST_DEADLINE, self.list(url))
            .await
            .unwrap_or_else(|_| {
                self.forget(url);
                Err(TransportError::Connect(format!(
                    "the MCP server did not list its tools within {} s",
                    LIST_DEADLINE.as_secs()
                )))
            })
    }

    async fn list(&self, url: &str) -> Result<Vec<ToolSpec>, TransportError> {
        let session = self.session(url).await?;
        let mut tools = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_LIST_PAGES {
            let params = PaginatedRequestParams::default().with_cursor(cursor);
            let result = session.list_tools(Some(params)).await;
            let page = self.outcome(url, result)?.map_err(|refused| {
                TransportError::Connect(format!(
                    "the MCP server refused to list its tools: {}",
                    refused.body
                ))
            })?;
            tools.extend(page.tools.into_iter().map(spec_of));
            if tools.len() > MAX_TOOLS {
                return Err(TransportError::Connect(format!(
                    "the MCP server lists more than {MAX_TOOLS} tools"
                )));
            }
            match page.next_cursor {
                None => return Ok(tools),
                next => cursor = next,
            }
        }
        Err(TransportError::Connect(format!(
            "the MCP server's tool list did not end within {MAX_LIST_PAGES} pages"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_session_closes_first() {
        let mut open = OpenSessions::default();
        for n in 0..MAX_SESSIONS {
            open.insert(&format!("http://mcp/{n}"), Arc::new(n));
        }
        // The first one is used again, so the second is now the oldest.
        assert_eq!(open.get("http://mcp/0").as_deref(), Some(&0));
        open.insert("http://mcp/new", Arc::new(MAX_SESSIONS));
        assert_eq!(open.by_url.len(), MAX_SESSIONS);
        assert!(open.get("http://mcp/1").is_none(), "the oldest closed");
        assert!(open.get("http://mcp/0").is_some());
        assert!(open.get("http://mcp/new").is_some());
        // Replacing a URL's session evicts nothing.
        open.insert("http://mcp/0", Arc::new(7));
        assert_eq!(open.by_url.len(), MAX_SESSIONS);
        assert_eq!(open.get("http://mcp/0").as_deref(), Some(&7));
    }
}
