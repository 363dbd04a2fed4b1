//! Agent contexts on the embedded SQLite database and on PostgreSQL, written once.

mod rows;
mod store;

#[cfg(feature = "postgres")]
pub use store::PgContextStore;
pub use store::{SqlContextStore, SqliteContextStore};
