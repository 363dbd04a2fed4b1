//! Building and serving the application.

use std::future::Future;
use std::sync::Arc;

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
/// (streams included) finish for up to `server.shutdown_grace_secs` before returning. HTTPS
/// when the configuration names a certificate and key, plain HTTP otherwise. Last, the
/// workflow runs this process drives are handed back (see
/// [`Workflows::hand_back`](sp_core::workflows::Workflows::hand_back)), so the next process
/// takes them over at once, and the usage not yet written is.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = std::time::Duration::from_secs(state.config().server.shutdown_grace_secs);
    let served = match state.tls().cloned() {
        Some(tls) => serve_router_tls(listener, app(state.clone()), tls, shutdown, grace).await,
        None => serve_router(listener, app(state.clone()), shutdown, grace).await,
    };
    if let Some(services) = state.opened_platform() {
        match services.workflows.hand_back().await {
            Ok(runs) => tracing::info!(runs = runs.len(), "workflow runs handed back"),
            // Their leases lapse on their own: the next process waits `lease_ms` at most.
            Err(err) => tracing::warn!(%err, "could not hand back workflow runs"),
        }
        if let Err(err) = services.usage.flush().await {
            tracing::error!(%err, pending = services.usage.pending_rows(), "usage rows lost at shutdown");
        }
    }
    served
}

/// Serves any router over TLS like [`serve_router`] does over plain HTTP; `tls` comes from
/// [`crate::tls::load`] or your own rustls configuration.
pub async fn serve_router_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Stops accepting, then gives open connections `grace` before closing them.
        stopper.graceful_shutdown(Some(grace));
    });
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(router.into_make_service())
        .await
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
