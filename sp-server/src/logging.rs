//! Structured logs through `tracing`, and (the `otel` feature) their spans exported as traces.

use std::sync::OnceLock;

use sp_core::config::{LogConfig, LogFormat, OtelConfig};
use sp_core::{Error, Result};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry, reload};

use crate::telemetry::Telemetry;

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

/// Installs the global subscriber: JSON lines (or pretty text) on stderr, filtered by
/// `log.level` ([`set_level`] changes it later). `RUST_LOG`, when set, takes precedence as
/// usual, and then stays in force.
///
/// ```
/// sp_server::logging::init(&sp_core::config::LogConfig::default()).unwrap();
/// ```
pub fn init(config: &LogConfig) -> Result<()> {
    init_with_traces(config, &OtelConfig::default()).map(drop)
}

/// [`init`], and with `otel.endpoint` set (a build with the `otel` feature) the spans
/// exported over OTLP/HTTP, filtered like the logs. Keep the returned [`Telemetry`] until the
/// process ends: [`Telemetry::shutdown`] sends the last batch.
pub fn init_with_traces(config: &LogConfig, otel: &OtelConfig) -> Result<Telemetry> {
    let from_env = matches!(std::env::var("RUST_LOG"), Ok(env) if !env.is_empty());
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(&env).map_err(|err| Error::Config {
            key: "RUST_LOG".into(),
            reason: err.to_string(),
        })?,
        _ => level_filter(&config.level)?,
    };
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match config.format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otel")]
    let (subscriber, telemetry) = {
        let (layer, telemetry) = match crate::telemetry::tracer(otel)? {
            Some((tracer, telemetry)) => (
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
                telemetry,
            ),
            None => (None, Telemetry::default()),
        };
        (subscriber.with(layer), telemetry)
    };
    #[cfg(not(feature = "otel"))]
    let telemetry = {
        crate::telemetry::refuse_unbuilt(otel)?;
        Telemetry::default()
    };
    // A subscriber already installed (tests, embedding apps) is theirs to keep.
    if subscriber.try_init().is_ok() && !from_env {
        keep(handle);
    }
    Ok(telemetry)
}

fn keep(handle: reload::Handle<EnvFilter, Registry>) {
    let _ = FILTER.set(Box::new(move |filter| {
        handle.reload(filter).map_err(|err| err.to_string())
    }));
}
