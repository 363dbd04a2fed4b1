//! The service hub's registry on the embedded SQLite database and on PostgreSQL, and its HTTP
//! transport.

mod http;
mod mcp;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;

pub use http::HttpTransport;
pub use mcp::{McpToolServer, mcp_endpoint};
#[cfg(feature = "postgres")]
pub use postgres::PgRegistryStore;
pub use sqlite::SqliteRegistryStore;
