//! The event log on the embedded SQLite database and on PostgreSQL: reads and consumer groups
//! written once, appends per backend.

mod groups;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;
mod store;

#[cfg(feature = "postgres")]
pub use postgres::PgEventStore;
pub use sqlite::SqliteEventStore;
