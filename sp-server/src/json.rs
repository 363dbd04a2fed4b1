//! A JSON extractor whose rejections use our error codes.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sp_core::ErrorCode;

use crate::error::ApiError;

/// Like [`axum::Json`], but a bad body becomes an [`ApiError`] with a registry code:
/// malformed JSON → `SP-REQ-004`, too large → `SP-REQ-003`, wrong content type → `SP-REQ-005`.
///
/// ```
/// use sp_server::ApiJson;
///
/// #[derive(serde::Deserialize)]
/// struct Input { name: String }
///
/// async fn handler(ApiJson(input): ApiJson<Input>) -> String {
///     input.name
/// }
/// let _app: axum::Router = axum::Router::new().route("/", axum::routing::post(handler));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_error(&rejection)),
        }
    }
}

/// Like [`ApiJson`], but a request with no body (no `Content-Type`, no length) is
/// `T::default()`: for endpoints whose body is all optional fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let empty = !headers.contains_key(axum::http::header::CONTENT_TYPE)
            && headers
                .get(axum::http::header::CONTENT_LENGTH)
                .is_none_or(|length| length == "0");
        if empty {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        let ApiJson(value) = ApiJson::from_request(request, state).await?;
        Ok(ApiJsonOrEmpty(value))
    }
}

fn rejection_to_error(rejection: &JsonRejection) -> ApiError {
    let code = match rejection {
        JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
            ErrorCode::MalformedJson
        }
        _ => ErrorCode::BadRequest,
    };
    ApiError::new(code, rejection.body_text())
}
