//! The service hub's registry on the embedded SQLite database and on PostgreSQL, and its HTTP
//! transport.

mod http;
mod mcp;
mod rows;
mod store;

pub use http::HttpTransport;
pub use mcp::{McpToolServer, mcp_endpoint, mcp_endpoint_of};
#[cfg(feature = "postgres")]
pub use store::PgRegistryStore;
pub use store::{SqlRegistryStore, SqliteRegistryStore};
