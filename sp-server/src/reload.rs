//! Settings a running server takes again without a restart — on `SIGHUP` to `sp serve`, or
//! [`AppState::reload`] from an embedding application: `log.level`, `auth.default_rate_limit`,
//! `server.cors_allowed_origins` and the TLS certificate and key (re-read from their files; connections already open keep
//! the certificate they shook hands with). Everything else is read once at start; a reload
//! that changes it says so in the log and leaves it as it was.

use std::sync::{Mutex, RwLock};

use axum_server::tls_rustls::RustlsConfig;
use sp_core::auth::Quota;
use sp_core::{Config, Error, Result};

use crate::AppState;
use crate::middleware::LiveCors;

/// The reloadable settings in force.
pub(crate) struct LiveSettings {
    default_rate_limit: RwLock<Quota>,
    /// `server.cors_allowed_origins`, which the router's CORS middleware reads per request.
    cors: LiveCors,
    /// The TLS configuration the acceptor reads at each handshake, once serving over TLS.
    tls: Mutex<Option<RustlsConfig>>,
}

impl LiveSettings {
    pub(crate) fn new(config: &Config) -> Self {
        LiveSettings {
            default_rate_limit: RwLock::new(config.auth.default_rate_limit),
            cors: LiveCors::new(&config.server.cors_allowed_origins),
            tls: Mutex::new(None),
        }
    }

    pub(crate) fn default_rate_limit(&self) -> Quota {
        *self
            .default_rate_limit
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn cors(&self) -> &LiveCors {
        &self.cors
    }

    pub(crate) fn serving_tls(&self, config: RustlsConfig) {
        *self
            .tls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(config);
    }

    fn tls(&self) -> Option<RustlsConfig> {
        self.tls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Settings now in force with their new values, e.g. `log.level = debug`.
    pub applied: Vec<String>,
    /// Settings that differ from the running ones but need a restart.
    pub need_restart: Vec<&'static str>,
}

impl AppState {
    /// Takes the reloadable settings of `new` (a freshly loaded and validated configuration):
    /// the log level, the default rate limit, and the TLS certificate and key (re-read even
    /// when their paths did not change: that is how a renewed certificate is picked up). New
    /// certificate files that do not load leave the old ones serving and fail the reload with
    /// `SP-CFG-001`, as does anything else invalid; nothing is half-applied.
    ///
    /// ```no_run
    /// # async fn run(state: sp_server::AppState) -> sp_core::Result<()> {
    /// let mut config = state.config().clone();
    /// config.log.level = "debug".into();
    /// let done = state.reload(&config).await?;
    /// assert!(done.applied.contains(&"log.level = debug".to_owned()));
    /// assert!(done.need_restart.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn reload(&self, new: &Config) -> Result<Reloaded> {
        let running = self.config();
        let mut reloaded = Reloaded::default();
        let tls = match (self.live().tls(), crate::tls::load(&new.server)?) {
            (Some(serving), Some(fresh)) => Some((serving, fresh)),
            (Some(_), None) => {
                return Err(Error::Config {
                    key: "server.tls_cert_path".into(),
                    reason: "the server speaks HTTPS; turning TLS off needs a restart".into(),
                });
            }
            (None, _) => None,
        };
        crate::logging::set_level(&new.log.level)?;
        reloaded
            .applied
            .push(format!("log.level = {}", new.log.level));
        *self
            .live()
            .default_rate_limit
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new.auth.default_rate_limit;
        reloaded.applied.push(format!(
            "auth.default_rate_limit = {}",
            new.auth.default_rate_limit
        ));
        if self.live().cors.origins() != new.server.cors_allowed_origins {
            self.live().cors.set(&new.server.cors_allowed_origins);
            reloaded.applied.push(format!(
                "server.cors_allowed_origins = {:?}",
                new.server.cors_allowed_origins
            ));
        }
        if let Some((serving, fresh)) = tls {
            serving.reload_from_config(fresh);
            reloaded
                .applied
                .push("server.tls_cert_path / tls_key_path re-read".into());
        }
        for (key, differs) in [
            ("server.listen", running.server.listen != new.server.listen),
            ("data_dir", running.data_dir != new.data_dir),
            ("database", running.database.url != new.database.url),
            ("redis", running.redis != new.redis),
            ("cluster", running.cluster != new.cluster),
            ("retention", running.retention != new.retention),
            (
                "auth.audit_retention_days",
                running.auth.audit_retention_days != new.auth.audit_retention_days,
            ),
            ("model", running.model.path != new.model.path),
            ("log.format", running.log.format != new.log.format),
            (
                "server.watch_config",
                running.server.watch_config != new.server.watch_config,
            ),
        ] {
            if differs {
                reloaded.need_restart.push(key);
            }
        }
        Ok(reloaded)
    }
}

/// Watches `files` for changes (modification time or size, checked every `every`; a file that
/// appears or disappears counts too) and sends the first changed path of each round on the
/// returned channel — `server.watch_config`'s trigger. Polling, not inotify: it works the same
/// on every filesystem, through symlink swaps (Kubernetes ConfigMaps) and on every platform,
/// and two seconds is soon enough for a settings change.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("sp.toml");
/// std::fs::write(&file, "").unwrap();
/// let mut changes = sp_server::reload::watch_files(vec![file.clone()], std::time::Duration::from_millis(20));
/// tokio::time::sleep(std::time::Duration::from_millis(50)).await;
/// std::fs::write(&file, "[log]\nlevel = \"debug\"\n").unwrap();
/// assert_eq!(changes.recv().await, Some(file));
/// # });
/// ```
pub fn watch_files(
    files: Vec<std::path::PathBuf>,
    every: std::time::Duration,
) -> tokio::sync::mpsc::Receiver<std::path::PathBuf> {
    let (send, receive) = tokio::sync::mpsc::channel(1);
    let stamp = |path: &std::path::Path| {
        std::fs::metadata(path)
            .ok()
            .map(|meta| (meta.modified().ok(), meta.len()))
    };
    tokio::spawn(async move {
        let mut seen: Vec<_> = files.iter().map(|path| stamp(path)).collect();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut changed = None;
            for (path, last) in files.iter().zip(seen.iter_mut()) {
                let now = stamp(path);
                if now != *last {
                    *last = now;
                    changed = changed.or_else(|| Some(path.clone()));
                }
            }
            if let Some(path) = changed
                && send.send(path).await.is_err()
            {
                return;
            }
        }
    });
    receive
}
