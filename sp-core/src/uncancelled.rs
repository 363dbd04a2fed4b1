//! Writes that finish even when their caller stops waiting.

use std::future::Future;

use crate::error::{Error, Result};

/// Runs `write` in a task of its own and waits for it: dropping the returned future (a
/// client that hung up, a request deadline) leaves the write running to its end instead of
/// cutting it between two steps that must both happen — a commit and the in-memory state
/// or cache that mirrors it (review finding M7). A write that panics is an internal error.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let done = Arc::new(AtomicBool::new(false));
/// let flag = done.clone();
/// let write = sp_core::uncancelled::to_the_end(async move {
///     tokio::time::sleep(std::time::Duration::from_millis(20)).await;
///     flag.store(true, Ordering::SeqCst);
///     Ok(())
/// });
/// // The caller gives up long before the write is done...
/// assert!(tokio::time::timeout(std::time::Duration::from_millis(1), write).await.is_err());
/// tokio::time::sleep(std::time::Duration::from_millis(100)).await;
/// // ...and the write finished all the same.
/// assert!(done.load(Ordering::SeqCst));
/// # });
/// ```
pub async fn to_the_end<T: Send + 'static>(
    write: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(write)
        .await
        .map_err(|err| Error::internal(format!("a write's task failed: {err}")))?
}
