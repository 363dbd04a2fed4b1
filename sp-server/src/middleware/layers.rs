//! The gateway's layers in order: request id, trace span, timeout, body limit, CORS, panic catching, the error envelope.

use std::time::Duration;

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
            .layer(axum::middleware::from_fn(error_envelope))
            .layer(CatchPanicLayer::new())
            .layer(RequestBodyLimitLayer::new(max_body_bytes)),
    )
}

/// [`apply`] plus what the reference server configures: the in-flight bound and request
/// deadline ([`Guard`]) and CORS for the configured origins.
pub fn apply_with(router: Router, server: &sp_core::config::ServerConfig) -> Router {
    let guard = Guard::new(
        server.max_concurrent_requests,
        Duration::from_secs(server.request_timeout_secs),
    );
    let mut router = router.layer(axum::middleware::from_fn_with_state(guard, self::guard));
    if !server.cors_allowed_origins.is_empty() {
        router = router.layer(cors(&server.cors_allowed_origins));
    }
    apply(router, server.max_body_bytes)
}

fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static(REQUEST_ID_HEADER_NAME),
        ])
        .expose_headers([
            HeaderName::from_static(REQUEST_ID_HEADER_NAME),
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

const REQUEST_ID_HEADER_NAME: &str = "x-request-id";

fn make_span<B>(request: &Request<B>) -> Span {
    tracing::info_span!(
        "request",
        request_id = %request_id_of(request),
        trace_id = %trace_context::trace_id_of(request),
        method = %request.method(),
        path = %request.uri().path(),
    )
}

fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "response"
    );
}
