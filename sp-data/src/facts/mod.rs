//! The facts contexts learn, on the embedded SQLite database and on PostgreSQL, written once.

mod rows;
mod store;

#[cfg(feature = "postgres")]
pub use store::PgFactStore;
pub use store::{SqlFactStore, SqliteFactStore};
