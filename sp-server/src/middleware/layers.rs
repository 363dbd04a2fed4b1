//! The gateway's layers in order: request id, trace span, timeout, body limit, CORS, panic catching, the error envelope.

use std::time::Duration;

use super::cors::{LiveCors, live_cors};
use super::{
    Guard, MakeRequestIdV7, REQUEST_ID_HEADER, error_envelope, guard, request_id, request_id_of,
    trace_context,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Wraps `router` in the gateway layers.
///
/// ```
/// use axum::{Router, routing::get};
///
/// let app: Router = sp_server::middleware::apply(Router::new().route("/", get(|| async { "hi" })), 1 << 20);
/// ```
pub fn apply(router: Router, max_body_bytes: usize) -> Router {
    router.layer(DefaultBodyLimit::max(max_body_bytes)).layer(
        // Outermost first: the id exists before the span, the span before the envelope.
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(
                request_id::drop_invalid_request_id,
            ))
            .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestIdV7))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
            .layer(axum::middleware::from_fn(trace_context::trace_context))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(make_span)
                    .on_request(())
                    .on_response(on_response),
            )
            .layer(axum::middleware::from_fn(trace_context::trace_scope))
            .layer(axum::middleware::from_fn(error_envelope))
            .layer(CatchPanicLayer::new())
            .layer(RequestBodyLimitLayer::new(max_body_bytes)),
    )
}

/// [`apply`] plus what the reference server configures: the in-flight bound and request
/// deadline ([`Guard`]) and CORS for the configured origins.
pub fn apply_with(router: Router, server: &sp_core::config::ServerConfig) -> Router {
    apply_with_cors(router, server, LiveCors::new(&server.cors_allowed_origins))
}

/// [`apply_with`], with CORS following `cors` (which a reload may change while serving).
pub fn apply_with_cors(
    router: Router,
    server: &sp_core::config::ServerConfig,
    cors: LiveCors,
) -> Router {
    let guard = Guard::new(
        server.max_concurrent_requests,
        Duration::from_secs(server.request_timeout_secs),
    );
    let router = router
        .layer(axum::middleware::from_fn_with_state(guard, self::guard))
        .layer(axum::middleware::from_fn_with_state(cors, live_cors));
    apply(router, server.max_body_bytes)
}

fn make_span<B>(request: &Request<B>) -> Span {
    let span = tracing::info_span!(
        "request",
        request_id = %request_id_of(request),
        // Recorded by `trace_scope` once the hop is settled.
        trace_id = tracing::field::Empty,
        method = %request.method(),
        path = %request.uri().path(),
    );
    if let Some(trace_context::CallerHop(caller)) = request.extensions().get() {
        crate::telemetry::set_remote_parent(&span, caller);
    }
    span
}

fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "response"
    );
}
