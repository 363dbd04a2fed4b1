//! Structured logs through `tracing`.

use sp_core::config::{LogConfig, LogFormat};
use sp_core::{Error, Result};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: JSON lines (or pretty text) on stderr, filtered by
/// `log.level`. `RUST_LOG`, when set, takes precedence as usual.
pub fn init(config: &LogConfig) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(&env).map_err(|err| Error::Config {
            key: "RUST_LOG".into(),
            reason: err.to_string(),
        })?,
        _ => EnvFilter::try_new(&config.level).map_err(|err| Error::Config {
            key: "log.level".into(),
            reason: format!("`{}` is not a tracing filter: {err}", config.level),
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // A subscriber already installed (tests, embedding apps) is theirs to keep.
    drop(installed);
    Ok(())
}
