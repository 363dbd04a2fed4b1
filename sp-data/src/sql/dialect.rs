//! What differs between the SQL dialects, as constants the shared store code splices in.

use sp_core::Error;

use crate::error::sqlx_error;

/// A database the shared SQL is written for.
///
/// Statements use `$N` placeholders, which both SQLite and PostgreSQL accept; only what truly
/// differs in the dialects lives here.
pub(crate) trait Dialect: sqlx::Database {
    /// The backend's name in errors and metrics.
    const BACKEND: &'static str;
    /// Opens a transaction that writes: SQLite takes the write lock up front (`IMMEDIATE`),
    /// so two writers never both read and then fail to upgrade; PostgreSQL locks rows.
    const BEGIN_WRITE: &'static str;
    /// Appended to a `SELECT` whose rows the transaction will update: PostgreSQL's row lock;
    /// nothing in SQLite, whose write transaction already excludes other writers.
    const LOCK_ROWS: &'static str;
    /// Appended to a locking `SELECT` whose locked rows other workers should skip.
    const SKIP_LOCKED: &'static str;

    /// This backend's driver error as a coded platform error.
    fn error(err: sqlx::Error) -> Error {
        sqlx_error(Self::BACKEND, err)
    }
}

impl Dialect for sqlx::Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_ROWS: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
}

#[cfg(feature = "postgres")]
impl Dialect for sqlx::Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = "BEGIN";
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
}
