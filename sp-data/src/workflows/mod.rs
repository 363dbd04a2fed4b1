//! Workflows and their runs on the embedded SQLite database and on PostgreSQL.

#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgWorkflowStore;
pub use sqlite::SqliteWorkflowStore;
