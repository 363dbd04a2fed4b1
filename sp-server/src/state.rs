//! What handlers share.

use std::sync::Arc;
use std::time::Duration;

use sp_core::health::{HealthCheck, HealthReport, run_checks};
use sp_core::{Config, Error};
use sp_data::Backends;
use sp_llm::{EmbeddingModel, Engine, EngineConfig};

use sp_platform::Platform;

/// The state behind every route: configuration and backends. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    backends: Backends,
    engine: Option<Engine>,
    embedder: Option<Arc<EmbeddingModel>>,
    checks: Vec<Arc<dyn HealthCheck>>,
    /// Opened on first use when the database was down at start.
    platform: tokio::sync::OnceCell<Platform>,
    jwt: Option<Arc<crate::jwt::Jwt>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Refused credentials per client address (`auth.failed_credential_limit`).
    failed_credentials: sp_core::auth::LocalRateLimiter,
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
        let engine = match EngineConfig::from_model_config(&config.model) {
            Some(engine_config) => Some(load_blocking(engine_config, Engine::load).await?),
            None => None,
        };
        let embedder = match EngineConfig::embedding_from_model_config(&config.model) {
            Some(embedding_config) => Some(Arc::new(
                load_blocking(embedding_config, EmbeddingModel::load).await?,
            )),
            None => engine.as_ref().and_then(engine_embedder),
        };
        let state = Self::with_parts(config, backends, engine, embedder, jwt, tls);
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
        let embedder = engine.as_ref().and_then(engine_embedder);
        Ok(Self::with_parts(
            config, backends, engine, embedder, jwt, tls,
        ))
    }

    fn with_parts(
        config: Config,
        backends: Backends,
        engine: Option<Engine>,
        embedder: Option<Arc<EmbeddingModel>>,
        jwt: Option<crate::jwt::Jwt>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        crate::metrics::handle();
        let mut checks = backends.health_checks();
        if let Some(engine) = &engine {
            checks.push(Arc::new(engine.clone()));
        }
        AppState {
            inner: Arc::new(Inner {
                config,
                backends,
                engine,
                embedder,
                checks,
                platform: tokio::sync::OnceCell::new(),
                jwt: jwt.map(Arc::new),
                tls,
                failed_credentials: sp_core::auth::LocalRateLimiter::default(),
            }),
        }
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
                builder.build().await
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

    /// The model, when one is configured.
    pub fn engine(&self) -> Option<&Engine> {
        self.inner.engine.as_ref()
    }

    /// The configuration the server runs with.
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

    /// Runs every health check within the configured timeout.
    pub async fn check_health(&self) -> HealthReport {
        let timeout = Duration::from_millis(self.inner.config.health.check_timeout_ms);
        run_checks(&self.inner.checks, timeout).await
    }
}

/// Loads a model (a chat engine or an embedding model) off the async runtime; invalid
/// settings name their `model.*` key.
async fn load_blocking<T: Send + 'static>(
    config: EngineConfig,
    load: fn(EngineConfig) -> sp_core::Result<T>,
) -> sp_core::Result<T> {
    config.validate().map_err(|err| match err {
        Error::InvalidInput { field, reason } => Error::Config {
            key: format!("model.{field}"),
            reason,
        },
        other => other,
    })?;
    tokio::task::spawn_blocking(move || load(config))
        .await
        .map_err(|err| Error::internal(format!("model loading task failed: {err}")))?
}

/// The chat model's own embedding worker, when no dedicated embedding model is configured.
fn engine_embedder(engine: &Engine) -> Option<Arc<EmbeddingModel>> {
    match EmbeddingModel::new(engine) {
        Ok(model) => Some(Arc::new(model)),
        Err(err) => {
            tracing::error!(%err, "the model cannot embed; /v1/embeddings and documents use the hashing embedder");
            None
        }
    }
}
