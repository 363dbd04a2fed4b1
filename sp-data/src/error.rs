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
