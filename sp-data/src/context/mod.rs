//! Agent contexts on the embedded SQLite database and on PostgreSQL.

#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgContextStore;
pub use sqlite::SqliteContextStore;
