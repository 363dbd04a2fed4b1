//! The Model Context Protocol (Streamable HTTP) for the hub, through the official SDK `rmcp`:
//! the client side imports and calls an MCP server's tools, the server side offers the
//! registry's tools to MCP clients.

mod client;
mod convert;
mod server;

pub(crate) use client::McpSessions;
pub use server::{McpToolServer, mcp_endpoint, mcp_endpoint_of};
