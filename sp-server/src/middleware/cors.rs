//! CORS for the configured origins, swappable while serving: a reload that changes
//! `server.cors_allowed_origins` takes effect at the next request (tower-http's CORS layer
//! does the work; this only picks the one in force).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::REQUEST_ID_HEADER;

/// The CORS policy in force; clones share it.
///
/// ```
/// let cors = sp_server::middleware::LiveCors::new(&[]);
/// assert!(cors.origins().is_empty(), "no origins: no CORS headers");
/// cors.set(&["https://app.example".to_owned()]);
/// assert_eq!(cors.origins(), ["https://app.example"]);
/// ```
#[derive(Clone, Default)]
pub struct LiveCors(Arc<RwLock<Policy>>);

#[derive(Default)]
struct Policy {
    origins: Vec<String>,
    /// `None` when no origin is allowed: responses carry no CORS headers at all.
    layer: Option<CorsLayer>,
}

impl LiveCors {
    /// A policy allowing `origins` (`["*"]` for any; empty sends no CORS headers).
    pub fn new(origins: &[String]) -> Self {
        let cors = LiveCors::default();
        cors.set(origins);
        cors
    }

    /// Allows `origins` from the next request on.
    pub fn set(&self, origins: &[String]) {
        let policy = Policy {
            origins: origins.to_vec(),
            layer: (!origins.is_empty()).then(|| layer(origins)),
        };
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = policy;
    }

    /// The origins allowed now.
    pub fn origins(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .origins
            .clone()
    }

    fn current(&self) -> Option<CorsLayer> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .layer
            .clone()
    }
}

/// Middleware: the request through the CORS layer in force, if any.
pub(crate) async fn live_cors(
    State(cors): State<LiveCors>,
    request: Request,
    next: Next,
) -> Response {
    match cors.current() {
        Some(layer) => match layer.layer(next).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        None => next.run(request).await,
    }
}

fn layer(origins: &[String]) -> CorsLayer {
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
            REQUEST_ID_HEADER,
        ])
        .expose_headers([
            REQUEST_ID_HEADER,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}
