//! Mapping driver errors onto the platform's coded errors.

use sp_core::Error;

/// Converts a sqlx error: connectivity problems become `Unavailable` (retryable, 503),
/// everything else `Internal`.
pub(crate) fn sqlx_error(backend: &str, err: sqlx::Error) -> Error {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::unavailable(backend, err),
        other => Error::internal(format!("{backend}: {other}")),
    }
}

/// A stored time (microseconds since the epoch, as every table keeps or selects it); one out
/// of range means a corrupt row.
pub(crate) fn stored_time(micros: i64) -> sp_core::Result<sp_core::Timestamp> {
    sp_core::Timestamp::from_unix_micros(micros).ok_or_else(|| Error::internal("bad timestamp"))
}
