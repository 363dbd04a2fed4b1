//! Agents, their runs and the runs' event streams on the embedded SQLite database and on
//! PostgreSQL, written once.

mod rows;
mod store;

#[cfg(feature = "postgres")]
pub use store::PgAgentStore;
pub use store::{SqlAgentStore, SqliteAgentStore};
