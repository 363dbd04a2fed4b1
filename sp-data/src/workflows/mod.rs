//! Workflows and their runs on the embedded SQLite database and on PostgreSQL, written once.

pub(crate) mod rows;
mod store;

#[cfg(feature = "postgres")]
pub use store::PgWorkflowStore;
pub use store::{SqlWorkflowStore, SqliteWorkflowStore};
