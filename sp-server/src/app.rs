//! Building and serving the application.

use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt as _;
use sp_core::config::ServerConfig;
use tokio::net::TcpListener;

use crate::connections::{ConnectionGate, GatedAcceptor, GatedListener};
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
    let cors = state.live().cors().clone();
    crate::middleware::apply_with_cors(crate::routes::router(state), &server, cors)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then lets in-flight requests
/// (streams included) finish for up to `server.shutdown_grace_secs` before returning; at
/// most `server.max_connections` connections are open at once; live event feeds end at the
/// signal with `event: draining` (their followers resume elsewhere). HTTPS
/// when the configuration names a certificate and key, plain HTTP otherwise. Last, the
/// workflow and agent runs this process drives are handed back (see
/// [`Workflows::hand_back`](sp_core::workflows::Workflows::hand_back)), so the next process
/// takes them over at once, and the usage not yet written is.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ServeLimits::of(&state.config().server);
    // Live feeds end as soon as the shutdown starts, not at the end of the grace period.
    let draining = state.clone();
    let shutdown = async move {
        shutdown.await;
        draining.begin_drain();
    };
    let served = match state.tls().cloned() {
        Some(tls) => {
            // Each handshake reads this configuration: a reload swaps the certificate for new
            // connections while open ones keep theirs.
            let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
            state.live().serving_tls(config.clone());
            serve_rustls(listener, app(state.clone()), config, shutdown, limits).await
        }
        None => serve_router(listener, app(state.clone()), shutdown, limits).await,
    };
    if let Some(services) = state.opened_platform() {
        match services.workflows.hand_back().await {
            Ok(runs) => tracing::info!(runs = runs.len(), "workflow runs handed back"),
            // Their leases lapse on their own: the next process waits `lease_ms` at most.
            Err(err) => tracing::warn!(%err, "could not hand back workflow runs"),
        }
        match services.agents.hand_back().await {
            Ok(runs) => tracing::info!(runs = runs.len(), "agent runs handed back"),
            Err(err) => tracing::warn!(%err, "could not hand back agent runs"),
        }
        if let Err(err) = services.usage.flush().await {
            tracing::error!(%err, pending = services.usage.pending_rows(), "usage rows lost at shutdown");
        }
        // The next start then reads the vector index instead of replaying changes into it.
        if let Err(err) = services.knowledge.store().flush().await {
            tracing::warn!(%err, "the vector index was not saved; the next start replays more");
        }
    }
    served
}

/// What [`serve_router`] and [`serve_router_tls`] bound: the shutdown grace, open
/// connections, the TLS handshake.
///
/// ```
/// let limits = sp_server::ServeLimits::of(&sp_core::config::ServerConfig::default());
/// assert_eq!(limits.max_connections, 4096);
/// assert_eq!(limits.grace, std::time::Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long in-flight requests (streams included) may finish after the shutdown signal.
    pub grace: Duration,
    /// Open client connections; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
}

impl ServeLimits {
    /// The limits `server` configures (`shutdown_grace_secs`, `max_connections`,
    /// `tls_handshake_timeout_secs`).
    pub fn of(server: &ServerConfig) -> Self {
        ServeLimits {
            grace: Duration::from_secs(server.shutdown_grace_secs),
            max_connections: server.max_connections,
            tls_handshake_timeout: Duration::from_secs(server.tls_handshake_timeout_secs),
        }
    }
}

/// Serves any router over TLS like [`serve_router`] does over plain HTTP; `tls` comes from
/// [`crate::tls::load`] or your own rustls configuration. A connection past
/// `limits.max_connections` is closed before its handshake.
pub async fn serve_router_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    serve_rustls(listener, router, config, shutdown, limits).await
}

async fn serve_rustls(
    listener: TcpListener,
    router: Router,
    config: axum_server::tls_rustls::RustlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Stops accepting, then gives open connections `grace` before closing them.
        stopper.graceful_shutdown(Some(limits.grace));
    });
    let gate = ConnectionGate::new(limits.max_connections);
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .handshake_timeout(limits.tls_handshake_timeout)
        .acceptor(GatedAcceptor::new(gate));
    axum_server::from_tcp(listener.into_std()?)?
        .acceptor(acceptor)
        .handle(handle)
        // The peer address rides along for the throttling of refused credentials.
        .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

/// Serves any router (yours with ours merged in, say) like [`serve`]: at most
/// `limits.max_connections` open connections (one more is closed at once), and after
/// `shutdown`, in-flight requests get `limits.grace` to finish.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping.send(());
    };
    // `tap_io` (doing nothing) because axum derives the peer address for connect info from
    // a tapped listener's address (`TcpListener`'s aside), and the address rides along for
    // the throttling of refused credentials.
    let listener =
        GatedListener::new(listener, ConnectionGate::new(limits.max_connections)).tap_io(|_| {});
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let grace = limits.grace;
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
