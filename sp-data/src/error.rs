//! Mapping driver errors onto the platform's coded errors.

use sp_core::Error;

/// Converts a sqlx error, keeping it as the coded error's `source()`: connectivity problems
/// become `Unavailable` (retryable, 503); a write that breaks a unique, foreign-key or check
/// constraint is a `Conflict` (409) naming the constraint — two requests racing for the same
/// key lose cleanly, not with a 500; a row a statement required but did not find is
/// `NotFound` (404); everything else is `Internal`.
pub(crate) fn sqlx_error(backend: &str, err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::unavailable_from(backend, err),
        // The server (or PgBouncer in front of it) is going away, starting, refusing
        // connections, or is a standby: retryable, like a dropped socket.
        sqlx::Error::Database(db) if db.code().is_some_and(|code| unavailable_state(&code)) => {
            Error::unavailable_from(backend, sqlx::Error::Database(db))
        }
        sqlx::Error::Database(db) => {
            let what = match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => "already exists",
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    "refers to something missing or is still referred to"
                }
                sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::NotNullViolation => "breaks a rule of the stored data",
                _ => return Error::internal_from(backend, sqlx::Error::Database(db)),
            };
            let constraint = db
                .constraint()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            Error::Conflict(format!("the record {what}{constraint}: {}", db.message()))
        }
        // A statement that must return a row found none: what it looked for is gone.
        sqlx::Error::RowNotFound => Error::NotFound {
            kind: sp_core::Resource::Record,
            id: format!("(in {backend})"),
        },
        other => Error::internal_from(backend, other),
    }
}

/// SQLSTATEs of a server that cannot serve now: class 08 (connection exception, also what
/// PgBouncer answers while its server is down), 53300 (too many connections), 57P01-57P03
/// (shutting down, crashed, starting up), 25006 (a write on a standby, as during a failover).
fn unavailable_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03" | "25006")
}

#[cfg(test)]
mod tests {
    use sp_core::ErrorCode;
    use sqlx::Executor as _;

    use super::sqlx_error;

    const INSERT: &str = "INSERT INTO sp_error_probe (k) VALUES ('a')";

    #[tokio::test]
    async fn a_unique_violation_is_a_conflict_on_sqlite() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        pool.execute("CREATE TABLE sp_error_probe (k TEXT PRIMARY KEY)")
            .await
            .expect("create");
        pool.execute(INSERT).await.expect("first insert");
        let err = sqlx_error("sqlite", pool.execute(INSERT).await.expect_err("duplicate"));
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
        assert!(err.to_string().contains("already exists"), "{err}");
        let missing = pool
            .execute("SELECT * FROM no_such_table")
            .await
            .expect_err("no table");
        let err = sqlx_error("sqlite", missing);
        assert_eq!(err.code(), ErrorCode::Internal);
        // The driver's error is kept as the cause, not flattened to text.
        let cause = std::error::Error::source(&err).expect("a source");
        let driver = cause.downcast_ref::<sqlx::Error>().expect("the sqlx error");
        assert!(driver.as_database_error().is_some(), "{driver}");
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_unique_violation_is_a_conflict_on_postgres() {
        let pool = sqlx::PgPool::connect(&sp_tests::service_url("DATABASE_URL"))
            .await
            .expect("postgres");
        let mut conn = pool.acquire().await.expect("connection");
        // A temporary table: private to this connection, gone when it closes.
        conn.execute(
            "CREATE TEMPORARY TABLE sp_error_probe (k TEXT CONSTRAINT sp_error_probe_key PRIMARY KEY)",
        )
        .await
        .expect("create");
        conn.execute(INSERT).await.expect("first insert");
        let err = sqlx_error(
            "postgres",
            conn.execute(INSERT).await.expect_err("duplicate"),
        );
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
        assert!(err.to_string().contains("sp_error_probe_key"), "{err}");
    }

    /// A connection the server ends (57P01, as on a shutdown or failover) and a write in a
    /// read-only transaction (25006, as on a standby) are retryable 503s, not internal errors.
    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn a_server_going_away_or_a_standby_is_unavailable_on_postgres() {
        let pool = sqlx::PgPool::connect(&sp_tests::service_url("DATABASE_URL"))
            .await
            .expect("postgres");
        let mut conn = pool.acquire().await.expect("connection");
        conn.execute("SET default_transaction_read_only = on")
            .await
            .expect("read only");
        let err = sqlx_error(
            "postgres",
            conn.execute("CREATE TEMPORARY SEQUENCE sp_error_probe_seq")
                .await
                .expect_err("read only"),
        );
        assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
        let ended = conn
            .execute("SELECT pg_terminate_backend(pg_backend_pid())")
            .await
            .expect_err("terminated");
        let err = sqlx_error("postgres", ended);
        assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    }
}
