//! Structured logs through `tracing`.

use std::sync::OnceLock;

use sp_core::config::{LogConfig, LogFormat};
use sp_core::{Error, Result};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::reload::Handle;

/// Swaps the installed subscriber's filter: `log.level` on a reload.
type FilterHandle = Box<dyn Fn(EnvFilter) -> std::result::Result<(), String> + Send + Sync>;

/// Set by [`init`] when it installed the subscriber (and `RUST_LOG` did not fix the filter).
static FILTER: OnceLock<FilterHandle> = OnceLock::new();

fn level_filter(level: &str) -> Result<EnvFilter> {
    EnvFilter::try_new(level).map_err(|err| Error::Config {
        key: "log.level".into(),
        reason: format!("`{level}` is not a tracing filter: {err}"),
    })
}

/// Makes `level` the filter of the subscriber [`init`] installed. Checked even when there is
/// none to change (another subscriber, or `RUST_LOG` set): a bad level is `SP-CFG-001`.
pub fn set_level(level: &str) -> Result<()> {
    let filter = level_filter(level)?;
    if let Some(swap) = FILTER.get() {
        swap(filter).map_err(|reason| Error::Config {
            key: "log.level".into(),
            reason,
        })?;
    }
    Ok(())
}

fn keep<L, S>(handle: Handle<L, S>)
where
    L: From<EnvFilter> + Send + Sync + 'static,
    S: 'static,
{
    let _ = FILTER.set(Box::new(move |filter| {
        handle
            .reload(L::from(filter))
            .map_err(|err| err.to_string())
    }));
}

/// Installs the global subscriber: JSON lines (or pretty text) on stderr, filtered by
/// `log.level` ([`set_level`] changes it later). `RUST_LOG`, when set, takes precedence as
/// usual, and then stays in force.
pub fn init(config: &LogConfig) -> Result<()> {
    let from_env = matches!(std::env::var("RUST_LOG"), Ok(env) if !env.is_empty());
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(&env).map_err(|err| Error::Config {
            key: "RUST_LOG".into(),
            reason: err.to_string(),
        })?,
        _ => level_filter(&config.level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.format {
        LogFormat::Json => {
            let builder = builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map(|()| {
                if !from_env {
                    keep(handle);
                }
            })
        }
        LogFormat::Pretty => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().map(|()| {
                if !from_env {
                    keep(handle);
                }
            })
        }
    };
    // A subscriber already installed (tests, embedding apps) is theirs to keep.
    drop(installed);
    Ok(())
}
