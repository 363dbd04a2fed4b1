//! What handlers share.

use std::sync::Arc;
use std::time::Duration;

use sp_core::Config;
use sp_core::health::{HealthCheck, HealthReport, run_checks};
use sp_data::Backends;

/// The state behind every route: configuration and backends. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    backends: Backends,
    checks: Vec<Arc<dyn HealthCheck>>,
}

impl AppState {
    /// Opens the backends `config` selects.
    pub async fn open(config: Config) -> sp_core::Result<Self> {
        let backends = Backends::open(&config).await?;
        Ok(Self::new(config, backends))
    }

    /// Wraps already-open backends.
    pub fn new(config: Config, backends: Backends) -> Self {
        let checks = backends.health_checks();
        AppState {
            inner: Arc::new(Inner {
                config,
                backends,
                checks,
            }),
        }
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// Runs every health check within the configured timeout.
    pub async fn check_health(&self) -> HealthReport {
        let timeout = Duration::from_millis(self.inner.config.health.check_timeout_ms);
        run_checks(&self.inner.checks, timeout).await
    }
}
