//! Building and serving the application.

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

use crate::state::AppState;

/// The complete reference application: every route wrapped in the gateway layers.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let mut config = sp_core::Config::default();
/// config.data_dir = dir.path().to_path_buf();
/// let state = sp_server::AppState::open(config).await.unwrap();
/// let app: axum::Router = sp_server::app(state);
/// # });
/// ```
pub fn app(state: AppState) -> Router {
    let server = state.config().server.clone();
    crate::middleware::apply_with(crate::routes::router(state), &server)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
