//! Query-string parameters shared by the platform routes.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;
use sp_core::knowledge::Namespace;
use sp_core::{ErrorCode, PageRequest};

use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    namespace: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `?namespace=…&limit=…&cursor=…`, validated.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The namespace (`default` when absent).
    pub namespace: Namespace,
    /// The page asked for.
    pub page: PageRequest,
}

impl<S: Send + Sync> FromRequestParts<S> for Listing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryOf(raw) = QueryOf::<Raw>::from_request_parts(parts, state).await?;
        let namespace = match raw.namespace {
            Some(name) => Namespace::new(name)?,
            None => Namespace::default(),
        };
        Ok(Listing {
            namespace,
            page: PageRequest::new(raw.limit, raw.cursor)?,
        })
    }
}

/// A query string, decoded into `T`; a malformed one is `SP-REQ-006`.
pub struct QueryOf<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryOf<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|err| ApiError::new(ErrorCode::BadRequest, err.body_text()))?;
        Ok(QueryOf(value))
    }
}

/// The `id` path segment, parsed.
pub fn parse_id(raw: &str) -> Result<sp_core::Id, ApiError> {
    Ok(sp_core::Id::parse_field("id", raw)?)
}
