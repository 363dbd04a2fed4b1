//! Load protection: a bound on requests in flight (more get `503` with `Retry-After` at once,
//! rather than queueing until every client times out) and a deadline for an answer to start.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sp_core::ErrorCode;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The guard's settings and its permits.
#[derive(Debug, Clone)]
pub struct Guard {
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl Guard {
    /// At most `max_in_flight` requests at once, each answering within `timeout`.
    pub fn new(max_in_flight: usize, timeout: Duration) -> Self {
        Guard {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            timeout,
        }
    }
}

fn busy(message: &str) -> Response {
    let mut response = ApiError::new(ErrorCode::Unavailable, message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The middleware.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    // The permit lives until the answer has started; a stream's body is not held to it.
    let Ok(_permit) = guard.permits.clone().try_acquire_owned() else {
        metrics::counter!("sp_http_shed_total").increment(1);
        return busy("the server is at its limit of requests in flight; retry shortly");
    };
    match tokio::time::timeout(guard.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => busy("the request did not finish within server.request_timeout_secs"),
    }
}
