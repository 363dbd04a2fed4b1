//! Request ids: accepted from `X-Request-Id` when well formed, generated (UUIDv7) otherwise,
//! echoed on the response and recorded on the request's log span.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep; longer ones are replaced, not truncated.
const MAX_ID_LEN: usize = 128;

/// Generates time-ordered ids, so log lines sort by arrival.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRequestIdV7;

impl MakeRequestId for MakeRequestIdV7 {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// Drops a client-supplied id that is too long or holds characters unsafe for logs, so a fresh
/// one is generated instead.
pub async fn drop_invalid_request_id(mut request: Request, next: Next) -> Response {
    let valid = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .map(|value| is_valid_id(value.as_bytes()));
    if valid == Some(false) {
        request.headers_mut().remove(&REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn is_valid_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// The request id of a request, as text ("" before the id layer ran).
pub fn request_id_of<B>(request: &axum::http::Request<B>) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::is_valid_id;

    #[test]
    fn id_validation() {
        assert!(is_valid_id(b"abc-123_x.y:z"));
        assert!(!is_valid_id(b""));
        assert!(!is_valid_id(b"has space"));
        assert!(!is_valid_id(b"line\nbreak"));
        assert!(!is_valid_id(&[b'a'; 129]));
    }
}
