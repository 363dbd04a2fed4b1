//! The SQL seam both relational backends share: column types each driver encodes natively,
//! the few statements that differ by dialect, and the pool every SQL store is built on. Store
//! code is written once against these and stamped for SQLite and PostgreSQL.

mod database;
mod dialect;
mod leases;
mod types;

pub use database::SqlDatabase;
pub(crate) use dialect::Dialect;
pub(crate) use leases::Leases;
pub(crate) use types::{DbId, DbTime};
