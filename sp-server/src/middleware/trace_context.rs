//! W3C trace context at the gateway: a request's `traceparent` is accepted when well formed
//! (a new trace begins otherwise), this server becomes the next hop, the request's log span
//! carries the trace id, and the handler runs inside the hop ([`sp_core::trace::scope`]) so the
//! tool calls it makes through the hub send `traceparent` on.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use sp_core::trace::TraceContext;

/// The W3C header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Sets the request's hop (a request extension, for its log span) and serves it inside it.
pub async fn trace_context(mut request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(&TRACEPARENT)
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::parse);
    let hop = match incoming {
        Some(parent) => parent.child(),
        None => TraceContext::new_trace(),
    };
    request.extensions_mut().insert(hop);
    sp_core::trace::scope(hop, next.run(request)).await
}

/// The trace id a request's span shows ("" before [`trace_context`] ran).
pub fn trace_id_of<B>(request: &axum::http::Request<B>) -> String {
    request
        .extensions()
        .get::<TraceContext>()
        .map(TraceContext::trace_id_hex)
        .unwrap_or_default()
}
