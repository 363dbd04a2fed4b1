//! W3C trace context at the gateway: a request's `traceparent` is accepted when well formed
//! (a new trace begins otherwise), this server becomes the next hop, the request's log span
//! carries the trace id, and the handler runs inside the hop ([`sp_core::trace::scope`]) so the
//! tool calls it makes through the hub send `traceparent` on. With the `otel` feature
//! exporting, the hop is the exported request span itself (its parent the caller's span), so
//! what a downstream service reports joins the same trace under it.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use sp_core::trace::TraceContext;

/// The W3C header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The caller's hop, as its `traceparent` named it (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct CallerHop(pub TraceContext);

/// Outside the request span: reads the caller's `traceparent` (a request extension, from
/// which the span takes its parent) and proposes this server's hop (another extension).
pub async fn trace_context(mut request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(&TRACEPARENT)
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::parse);
    let hop = match incoming {
        Some(parent) => {
            request.extensions_mut().insert(CallerHop(parent));
            parent.child()
        }
        None => TraceContext::new_trace(),
    };
    request.extensions_mut().insert(hop);
    next.run(request).await
}

/// Inside the request span: settles the hop (the exported span's ids when traces are
/// exported), records its trace id on the span, and serves the request inside it.
pub async fn trace_scope(mut request: Request, next: Next) -> Response {
    let proposed = request
        .extensions()
        .get::<TraceContext>()
        .copied()
        .unwrap_or_else(TraceContext::new_trace);
    let span = tracing::Span::current();
    let hop = crate::telemetry::exported_hop(&span).unwrap_or(proposed);
    span.record("trace_id", hop.trace_id_hex());
    request.extensions_mut().insert(hop);
    sp_core::trace::scope(hop, next.run(request)).await
}
