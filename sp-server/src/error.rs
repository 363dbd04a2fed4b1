//! The one error shape every endpoint answers with.
//!
//! Handlers return [`ApiError`]; the envelope middleware adds the request id, so the body is
//! always `{"error":{"code":"…","message":"…","request_id":"…"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sp_core::{Error, ErrorCode};

/// An error on its way to the client: a stable code and a message safe to show.
///
/// ```
/// use sp_server::ApiError;
/// use sp_core::ErrorCode;
///
/// let err = ApiError::new(ErrorCode::NotFound, "document `x` not found");
/// assert_eq!(err.status().as_u16(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A message for the caller.
    pub message: String,
    /// Seconds for a `Retry-After` header (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl ApiError {
    /// The envelope for this error under `request_id`.
    pub fn envelope(&self, request_id: String) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
                r#type: error_type(self.code).to_owned(),
                request_id,
            },
        }
    }
}

impl ApiError {
    /// The error object sent inside a stream that has already started (its status line is
    /// gone): `{"code", "message", "type"}`.
    pub fn stream_body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
            "type": error_type(self.code),
        })
    }
}

/// OpenAI's error `type` for a code, so OpenAI clients classify our errors as theirs.
pub fn error_type(code: ErrorCode) -> &'static str {
    match code.http_status() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 => "service_unavailable_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = err.code();
        let message = match &err {
            // Internal details go to the log, keyed by request id, not to the caller.
            Error::Internal { message, source } => {
                tracing::error!(error = %message, cause = ?source, "internal error");
                "internal error; the request id locates the details in the server log".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = match &err {
            Error::RateLimited { retry_after_secs }
            | Error::CircuitOpen {
                retry_after_secs, ..
            }
            | Error::ModelMemory {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        ApiError {
            code,
            message,
            retry_after,
        }
    }
}

/// The JSON body of an error, request id included.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The fields of an error.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code from the registry (`docs/errors.md`).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// OpenAI's error class (`invalid_request_error`, `authentication_error`, …), so OpenAI
    /// clients raise the matching exception.
    #[serde(rename = "type", default)]
    pub r#type: String,
    /// The request id (also in the `X-Request-Id` header).
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The envelope middleware re-renders the body with the request id; without it (a
        // handler used outside the router) the body is still a valid envelope.
        let mut response =
            (self.status(), axum::Json(self.envelope(String::new()))).into_response();
        // Handlers' 429s (token budgets) carry their wait like the gateway's do.
        if let (
            ErrorCode::RateLimited | ErrorCode::CircuitOpen | ErrorCode::ModelMemory,
            Some(secs),
        ) = (self.code, self.retry_after)
            && let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        if self.code == ErrorCode::Overloaded {
            // The queue drains within a decode step or two.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response.extensions_mut().insert(self);
        response
    }
}
