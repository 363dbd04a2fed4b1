//! Merging configuration sources with figment.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::Config;
use super::secrets::{is_secret_file_variable, secret_files};
use crate::error::{Error, Result};

/// Top-level keys that `SP_*` variables may set; other `SP_*` variables (`SP_CONFIG`,
/// `SP_MODELS_DIR` of the scripts, …) belong to other tools and are left alone.
const ENV_SECTIONS: &[&str] = &[
    "data_dir",
    "server",
    "database",
    "redis",
    "cache",
    "auth",
    "model",
    "log",
    "otel",
    "health",
    "hub",
    "events",
    "workflows",
    "cluster",
    "retention",
];

/// Where [`Config::load`] reads from.
///
/// ```
/// use sp_core::{Config, ConfigSources};
///
/// let sources = ConfigSources::default()
///     .without_env()
///     .set("server.listen", "127.0.0.1:9000");
/// let config = Config::load(&sources).unwrap();
/// assert_eq!(config.server.listen.port(), 9000);
///
/// let bad = ConfigSources::default().without_env().set("server.listen", "nowhere");
/// let err = Config::load(&bad).unwrap_err();
/// assert!(err.to_string().contains("server.listen"), "{err}");
/// ```
#[derive(Debug, Clone)]
pub struct ConfigSources {
    file: Option<PathBuf>,
    profile: Option<String>,
    read_env: bool,
    overrides: Vec<(String, figment::value::Value)>,
}

impl Default for ConfigSources {
    fn default() -> Self {
        ConfigSources {
            file: None,
            profile: None,
            read_env: true,
            overrides: Vec::new(),
        }
    }
}

impl ConfigSources {
    /// Reads a TOML file too; it must exist.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Applies the file's `[profiles.NAME]` table over the rest of the file (below the
    /// environment and overrides, which still win). A profile the file lacks, or a profile
    /// without a file, is `SP-CFG-001` naming `profile`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("sp.toml");
    /// std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:8080\"\n\n\
    ///     [profiles.prod.server]\nlisten = \"0.0.0.0:80\"\n").unwrap();
    /// let sources = sp_core::ConfigSources::default().without_env().file(&file);
    /// let dev = sp_core::Config::load(&sources).unwrap();
    /// assert_eq!(dev.server.listen.port(), 8080);
    /// let prod = sp_core::Config::load(&sources.clone().profile("prod")).unwrap();
    /// assert_eq!(prod.server.listen.port(), 80);
    /// let err = sp_core::Config::load(&sources.profile("staging")).unwrap_err();
    /// assert!(err.to_string().contains("profile"), "{err}");
    /// ```
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Ignores the process environment (for tests and embedding).
    pub fn without_env(mut self) -> Self {
        self.read_env = false;
        self
    }

    /// Sets a dotted key last, above every other source (command-line flags).
    pub fn set(mut self, key: &str, value: impl Into<figment::value::Value>) -> Self {
        self.overrides.push((key.to_owned(), value.into()));
        self
    }
}

impl Config {
    /// Merges defaults, the file, the environment and overrides, then validates.
    pub fn load(sources: &ConfigSources) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &sources.file {
            check_file(path)?;
            figment = figment.merge(Toml::file(path));
        }
        if let Some(name) = &sources.profile {
            figment = figment.merge(profile_overlay(sources.file.as_deref(), name)?);
        }
        if sources.read_env {
            figment = figment
                .merge(
                    Env::raw()
                        .only(&["DATABASE_URL"])
                        .map(|_| "database.url".into()),
                )
                .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis.url".into()))
                .merge(
                    Env::raw()
                        .only(&["SP_ADMIN_KEY"])
                        .map(|_| "auth.admin_key".into()),
                )
                .merge(Env::prefixed("SP_").split("__").filter(|key| {
                    let section = key.as_str().split('.').next().unwrap_or_default();
                    // `SP_…_FILE` names a file, not a setting: read below.
                    let variable = format!("SP_{}", key.as_str().replace('.', "__"));
                    ENV_SECTIONS
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(section))
                        && !is_secret_file_variable(&variable)
                }));
            for (key, value) in secret_files(|name| std::env::var(name).ok())? {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        for (key, value) in &sources.overrides {
            figment = figment.merge(Serialized::default(key, value));
        }
        let mut config: Config = figment.extract().map_err(config_error)?;
        config.normalize();
        config.validate()?;
        Ok(config)
    }
}

/// The file's `[profiles.NAME]` table, as settings.
fn profile_overlay(file: Option<&Path>, name: &str) -> Result<Figment> {
    let missing = |reason: String| Error::Config {
        key: "profile".into(),
        reason,
    };
    let file = file.ok_or_else(|| {
        missing(format!(
            "profile `{name}` needs a configuration file (--config, SP_CONFIG) holding [profiles.{name}]"
        ))
    })?;
    let whole = Figment::from(Toml::file(file));
    let key = format!("profiles.{name}");
    if whole.find_value(&key).is_err() {
        return Err(missing(format!(
            "{} has no [profiles.{name}] table",
            file.display()
        )));
    }
    Ok(whole.focus(&key))
}

fn check_file(path: &Path) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Config {
            key: "config".into(),
            reason: format!("file {} does not exist or is not a file", path.display()),
        })
    }
}

/// Turns figment's error into ours, naming the key and the source it came from.
fn config_error(err: figment::Error) -> Error {
    let key = if err.path.is_empty() {
        "(root)".to_owned()
    } else {
        err.path.join(".")
    };
    let source = err.metadata.as_ref().map(|meta| match &meta.source {
        Some(figment::Source::File(path)) => format!("file {}", path.display()),
        _ if meta.name.contains("environment") => {
            format!("environment variable {}", env_var_name(&err.path))
        }
        _ => meta.name.to_string(),
    });
    let reason = match source {
        Some(source) => format!("{} (from {source})", err.kind),
        None => err.kind.to_string(),
    };
    Error::Config { key, reason }
}

/// The variable that sets `path`: `SP_SERVER__LISTEN` for `server.listen`, or the conventional
/// name for the URLs that have one.
fn env_var_name(path: &[String]) -> String {
    match path.join(".").as_str() {
        "database.url" => "DATABASE_URL (or SP_DATABASE__URL)".to_owned(),
        "redis.url" => "REDIS_URL (or SP_REDIS__URL)".to_owned(),
        "auth.admin_key" => "SP_ADMIN_KEY (or SP_AUTH__ADMIN_KEY)".to_owned(),
        dotted => format!("SP_{}", dotted.replace('.', "__").to_ascii_uppercase()),
    }
}
