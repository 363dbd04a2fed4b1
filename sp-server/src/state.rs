//! What handlers share.

use std::sync::Arc;
use std::time::Duration;

use sp_core::health::{HealthCheck, HealthReport, run_checks};
use sp_core::{Config, Error};
use sp_data::Backends;
use sp_llm::{EmbeddingModel, Engine, ModelEvent, ModelRuntime};

use sp_platform::Platform;

/// The state behind every route: configuration and backends. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    backends: Backends,
    /// The default chat model (resident: the platform's contexts use it).
    engine: Option<Engine>,
    embedder: Option<Arc<EmbeddingModel>>,
    /// Every catalogue model, loaded on demand; `None` for a state built around one engine.
    models: Option<ModelRuntime>,
    checks: Vec<Arc<dyn HealthCheck>>,
    /// Opened on first use when the database was down at start.
    platform: tokio::sync::OnceCell<Platform>,
    jwt: Option<Arc<crate::jwt::Jwt>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Refused credentials per client address (`auth.failed_credential_limit`).
    failed_credentials: sp_core::auth::LocalRateLimiter,
    /// What a reload may change while serving.
    live: crate::reload::LiveSettings,
    /// The recent requests of this process (`/v1/requests`).
    requests: crate::request_log::RequestLog,
    /// When this state was opened (the server's uptime).
    started: std::time::Instant,
    /// Heartbeats and model routing between replicas (`[cluster]`).
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Set once the server starts shutting down: live feeds end so it need not wait on them.
    draining: tokio::sync::watch::Sender<bool>,
}

/// An [`AppState`] that does not keep it alive.
pub(crate) struct WeakAppState(std::sync::Weak<Inner>);

impl WeakAppState {
    /// The state, unless it is gone.
    pub(crate) fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(|inner| AppState { inner })
    }
}

/// The models a state serves.
struct Parts {
    engine: Option<Engine>,
    embedder: Option<Arc<EmbeddingModel>>,
    models: Option<ModelRuntime>,
}

impl AppState {
    /// Opens the backends `config` selects and loads the models `model.path` and
    /// `model.embedding_path` name.
    pub async fn open(config: Config) -> sp_core::Result<Self> {
        // Unreadable or malformed signing keys and certificates stop the start here, before
        // the slow parts.
        let jwt = crate::jwt::Jwt::from_config(&config.auth.jwt)?;
        let tls = crate::tls::load(&config.server)?;
        let backends = Backends::open(&config).await?;
        let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel::<ModelEvent>();
        let observer: sp_llm::ModelObserver = Arc::new(move |event| {
            let _ = events_tx.send(event);
        });
        let served = crate::catalogue::served_models(&config, Some(observer)).await?;
        let parts = Parts {
            engine: served.engine,
            embedder: served.embedder,
            models: Some(served.runtime),
        };
        let state = Self::with_parts(config, backends, parts, jwt, tls);
        tokio::spawn(crate::model_events::record(state.downgrade(), events_rx));
        if state.cluster().is_some() {
            tokio::spawn(crate::cluster::run(state.downgrade()));
        }

        // Open the stores now so that a bad store (a dimension mismatch, a failed migration)
        // stops the start; a database that is merely down is retried on first use.
        match state.platform().await {
            Ok(_) => {}
            Err(Error::Unavailable {
                backend, reason, ..
            }) => {
                tracing::warn!(%backend, %reason, "stores not opened yet; retrying on first use");
            }
            Err(other) => return Err(other),
        }
        Ok(state)
    }

    /// Wraps already-open backends and an optional loaded model; fails on unreadable JWT keys
    /// or TLS files.
    pub fn new(
        config: Config,
        backends: Backends,
        engine: Option<Engine>,
    ) -> sp_core::Result<Self> {
        let jwt = crate::jwt::Jwt::from_config(&config.auth.jwt)?;
        let tls = crate::tls::load(&config.server)?;
        let embedder = engine.as_ref().and_then(crate::catalogue::engine_embedder);
        let parts = Parts {
            engine,
            embedder,
            models: None,
        };
        Ok(Self::with_parts(config, backends, parts, jwt, tls))
    }

    fn with_parts(
        config: Config,
        backends: Backends,
        Parts {
            engine,
            embedder,
            models,
        }: Parts,
        jwt: Option<crate::jwt::Jwt>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        crate::metrics::handle();
        let mut checks = backends.health_checks();
        if let Some(engine) = &engine {
            checks.push(Arc::new(engine.clone()));
        }
        let live = crate::reload::LiveSettings::new(&config);
        let cluster = crate::cluster::Cluster::new(&config, backends.database.replica_store());
        AppState {
            inner: Arc::new(Inner {
                live,
                config,
                backends,
                engine,
                embedder,
                models,
                checks,
                platform: tokio::sync::OnceCell::new(),
                jwt: jwt.map(Arc::new),
                tls,
                failed_credentials: sp_core::auth::LocalRateLimiter::default(),
                requests: crate::request_log::RequestLog::default(),
                started: std::time::Instant::now(),
                cluster,
                draining: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    pub(crate) fn downgrade(&self) -> WeakAppState {
        WeakAppState(Arc::downgrade(&self.inner))
    }

    /// Every service of the platform, opened on first use.
    pub async fn platform(&self) -> sp_core::Result<&Platform> {
        let inner = &self.inner;
        inner
            .platform
            .get_or_try_init(|| async {
                let mut builder =
                    Platform::builder(inner.config.clone()).backends(inner.backends.clone());
                // Documents are sized by the embedder's own tokens, contexts' messages by the
                // chat model's. A model that cannot embed still chats; documents then use the
                // hashing embedder.
                if let Some(embedder) = &inner.embedder {
                    builder = builder.embedder(embedder.clone(), embedder.clone());
                }
                if let Some(engine) = &inner.engine {
                    builder = builder
                        .chat_model(Arc::new(engine.clone()))
                        .chat_tokenizer(Arc::new(engine.clone()));
                }
                let agent_models = crate::agent_models::CatalogueModels {
                    default: inner.engine.clone(),
                    runtime: inner.models.clone(),
                };
                builder.agent_models(Arc::new(agent_models)).build().await
            })
            .await
    }

    /// The platform if something opened it already (never opens it).
    pub(crate) fn opened_platform(&self) -> Option<&Platform> {
        self.inner.platform.get()
    }

    /// The access-token signer, when JWT is configured.
    pub fn jwt(&self) -> Option<&Arc<crate::jwt::Jwt>> {
        self.inner.jwt.as_ref()
    }

    /// The TLS configuration, when `server.tls_cert_path` / `tls_key_path` are set.
    pub fn tls(&self) -> Option<&Arc<rustls::ServerConfig>> {
        self.inner.tls.as_ref()
    }

    /// The embedding worker: the dedicated embedding model's (`model.embedding_path`), else
    /// the chat model's.
    pub fn embedder(&self) -> Option<&Arc<EmbeddingModel>> {
        self.inner.embedder.as_ref()
    }

    /// The default chat model, when there is one.
    pub fn engine(&self) -> Option<&Engine> {
        self.inner.engine.as_ref()
    }

    /// Every catalogue model, when the state was opened from a configuration
    /// ([`AppState::open`]).
    pub fn models(&self) -> Option<&ModelRuntime> {
        self.inner.models.as_ref()
    }

    /// Where pulled models go (`model.models_dir`).
    pub(crate) fn models_dir(&self) -> sp_llm::ModelsDir {
        crate::catalogue::models_dir(&self.inner.config)
    }

    /// The settings a reload may change ([`AppState::reload`]).
    pub(crate) fn live(&self) -> &crate::reload::LiveSettings {
        &self.inner.live
    }

    /// How long this state has been serving.
    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// The recent requests of this process.
    pub fn requests(&self) -> &crate::request_log::RequestLog {
        &self.inner.requests
    }

    /// The configuration the server started with (see [`AppState::reload`] for the settings
    /// that may have changed since).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// Refused credentials per client address, in this process.
    pub(crate) fn failed_credentials(&self) -> &sp_core::auth::LocalRateLimiter {
        &self.inner.failed_credentials
    }

    /// Starts draining: live event feeds end with `event: draining` (their followers resume
    /// elsewhere from their last offset). [`crate::serve`] calls it when its shutdown signal
    /// fires; an application serving our routes itself calls it from its own.
    pub fn begin_drain(&self) {
        self.inner.draining.send_replace(true);
    }

    /// Resolves once [`AppState::begin_drain`] was called.
    pub(crate) fn draining(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut watching = self.inner.draining.subscribe();
        async move {
            let _ = watching.wait_for(|draining| *draining).await;
        }
    }

    /// This replica's part in a cluster, when `cluster.advertise_url` is set.
    pub(crate) fn cluster(&self) -> Option<&Arc<crate::cluster::Cluster>> {
        self.inner.cluster.as_ref()
    }

    /// Removes this replica from the cluster's view at once (a graceful stop); a no-op
    /// outside a cluster. Without it the others stop routing here after three heartbeats.
    pub async fn leave_cluster(&self) {
        if let Some(cluster) = &self.inner.cluster {
            cluster.leave().await;
        }
    }

    /// Runs every health check within the configured timeout.
    pub async fn check_health(&self) -> HealthReport {
        let timeout = Duration::from_millis(self.inner.config.health.check_timeout_ms);
        run_checks(&self.inner.checks, timeout).await
    }
}
