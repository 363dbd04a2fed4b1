//! Trace export over OTLP/HTTP — the `otel` cargo feature, off by default. With it and
//! `otel.endpoint` set, the spans `tracing` records (request, `model.call`, `store.query`,
//! `tool.call`) go to the collector as OpenTelemetry spans, batched on their own thread;
//! a request's caller (`traceparent`) is the parent of its request span. Without the feature,
//! a configured endpoint is refused (`SP-CFG-001`) rather than dropped unseen.

use sp_core::config::OtelConfig;
use sp_core::trace::TraceContext;
use sp_core::{Error, Result};
use tracing::Span;

/// Keeps the exporter running; [`Telemetry::shutdown`] (or dropping it) sends what is
/// still batched before the process ends.
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still batched and stops the exporter (a no-op when none runs).
    pub fn shutdown(mut self) {
        self.flush_and_stop();
    }

    fn flush_and_stop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take() {
            // The exporter's blocking client must not be dropped on a runtime thread.
            let stopped = std::thread::spawn(move || provider.shutdown()).join();
            if !matches!(stopped, Ok(Ok(()))) {
                eprintln!("warning: the trace exporter did not shut down cleanly");
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.flush_and_stop();
    }
}

/// The tracer spans are exported through, and the handle that flushes it: `None` when
/// `otel.endpoint` is unset.
#[cfg(feature = "otel")]
pub(crate) fn tracer(
    config: &OtelConfig,
) -> Result<Option<(opentelemetry_sdk::trace::Tracer, Telemetry)>> {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;
    let Some(url) = config.traces_url() else {
        return Ok(None);
    };
    // reqwest is built without a default TLS provider; https collectors need one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Built on a thread of its own: the blocking HTTP client may not be made on a runtime's.
    let service = config.service_name.clone();
    let built = std::thread::spawn(move || {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(std::time::Duration::from_secs(10))
            .build()?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build();
        Ok::<_, opentelemetry_otlp::ExporterBuildError>(
            opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build(),
        )
    })
    .join()
    .map_err(|_| Error::internal("the trace exporter's setup panicked"))?;
    let provider = built.map_err(|err| Error::Config {
        key: "otel.endpoint".into(),
        reason: format!("the OTLP exporter cannot be built: {err}"),
    })?;
    let tracer = provider.tracer("sp");
    Ok(Some((
        tracer,
        Telemetry {
            provider: Some(provider),
        },
    )))
}

/// Without the feature there is nothing to export with: an endpoint is a configuration
/// this build cannot honour.
#[cfg(not(feature = "otel"))]
pub(crate) fn refuse_unbuilt(config: &OtelConfig) -> Result<()> {
    match &config.endpoint {
        Some(_) => Err(Error::Config {
            key: "otel.endpoint".into(),
            reason: "this build of sp has no trace export: rebuild with `--features otel`".into(),
        }),
        None => Ok(()),
    }
}

/// Makes `caller` the parent of `span` in the exported trace (nothing without export).
pub(crate) fn set_remote_parent(span: &Span, caller: &TraceContext) {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags};
        use opentelemetry::trace::{TraceId, TraceState};
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let flags = if caller.sampled() {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let remote = SpanContext::new(
            TraceId::from_bytes(caller.trace_id()),
            SpanId::from_bytes(caller.span_id()),
            flags,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, caller);
}

/// The ids `span` is exported under, when it is.
pub(crate) fn exported_hop(span: &Span) -> Option<TraceContext> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let context = span.context();
        let exported = context.span();
        let ids = exported.span_context();
        if !ids.is_valid() {
            return None;
        }
        TraceContext::from_ids(
            ids.trace_id().to_bytes(),
            ids.span_id().to_bytes(),
            ids.is_sampled(),
        )
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}
