//! Every error response leaves the server as the one JSON envelope.
//!
//! Errors raised by handlers ([`ApiError`]) get the request id filled in. Errors produced by
//! layers that know nothing of our format (body limits, panics, timeouts) are recognised by
//! status and rewritten with the matching registry code.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sp_core::ErrorCode;

use super::request_id::request_id_of;
use crate::error::ApiError;

/// Renders error responses as `{"error":{"code","message","request_id"}}`.
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request_id_of(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;

    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let error = match response.extensions().get::<ApiError>() {
        Some(error) => error.clone(),
        None if is_json(&response) => return response,
        None => from_status(status, &method, &path),
    };
    if status.is_server_error() {
        tracing::warn!(code = %error.code, message = %error.message, "request failed");
    }
    let body = error.envelope(request_id);
    let mut rendered = if crate::routes::anthropic::speaks_anthropic(&path) {
        // Anthropic's clients read `{"type": "error", "error": {"type", "message"}}`; our
        // code and request id ride inside.
        let mut body = serde_json::to_value(&body).unwrap_or_default();
        body["type"] = "error".into();
        body["error"]["type"] = crate::routes::anthropic::anthropic_type(status.as_u16()).into();
        (status, axum::Json(body)).into_response()
    } else {
        (status, axum::Json(body)).into_response()
    };
    for (name, value) in response.headers() {
        // Keep the original's meaningful headers (Allow, Retry-After, …), not its body's.
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered.extensions_mut().insert(error);
    rendered
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The registry code of an error status that carries no code of ours (a layer's or a
/// library's plain answer).
pub(crate) fn code_for_status(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::NOT_FOUND => ErrorCode::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_client_error() => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    }
}

fn from_status(status: StatusCode, method: &axum::http::Method, path: &str) -> ApiError {
    let code = code_for_status(status);
    let message = match code {
        ErrorCode::RouteNotFound => format!("no route for {method} {path}"),
        ErrorCode::MethodNotAllowed => format!("{method} is not allowed on {path}"),
        ErrorCode::PayloadTooLarge => "request body exceeds the size limit".to_owned(),
        ErrorCode::UnsupportedMediaType => "expected Content-Type: application/json".to_owned(),
        ErrorCode::Unavailable => "service unavailable".to_owned(),
        ErrorCode::BadRequest => status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_lowercase(),
        _ => "internal error; the request id locates the details in the server log".to_owned(),
    };
    ApiError::new(code, message)
}
