//! The pool a SQL store is built on, whichever database holds it.

/// A migrated relational database: the embedded [`SqliteStore`](crate::SqliteStore) or
/// [`PgStore`](crate::PgStore). Every SQL store is built from one with `new(&db)`.
pub trait SqlDatabase {
    /// The sqlx driver.
    type Driver: sqlx::Database;

    /// The connection pool the stores share.
    fn pool(&self) -> &sqlx::Pool<Self::Driver>;
}

impl SqlDatabase for crate::SqliteStore {
    type Driver = sqlx::Sqlite;

    fn pool(&self) -> &sqlx::SqlitePool {
        crate::SqliteStore::pool(self)
    }
}

#[cfg(feature = "postgres")]
impl SqlDatabase for crate::PgStore {
    type Driver = sqlx::Postgres;

    fn pool(&self) -> &sqlx::PgPool {
        crate::PgStore::pool(self)
    }
}
