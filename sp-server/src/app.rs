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
/// (streams included) finish for up to `server.shutdown_grace_secs` before returning.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = std::time::Duration::from_secs(state.config().server.shutdown_grace_secs);
    serve_router(listener, app(state), shutdown, grace).await
}

/// Serves any router (yours with ours merged in, say) like [`serve`]: after `shutdown`,
/// in-flight requests get `grace` to finish.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let deadline = async move {
        if stopped.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace elapsed; closing the remaining connections");
            Ok(())
        }
    }
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
