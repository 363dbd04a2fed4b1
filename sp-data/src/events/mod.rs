//! The event log on the embedded SQLite database and on PostgreSQL.

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_groups;
mod rows;
mod sqlite;
mod sqlite_groups;

#[cfg(feature = "postgres")]
pub use postgres::PgEventStore;
pub use sqlite::SqliteEventStore;
