//! Query-string parameters shared by the platform routes.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;
use sp_core::events::Origin;
use sp_core::knowledge::Namespace;
use sp_core::{ErrorCode, PageRequest};
use utoipa::IntoParams;

use crate::error::ApiError;

/// The query string of a listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent); another
    /// tenant's, named in full (`acme.docs`), only for admins.
    #[param(value_type = Option<Namespace>)]
    namespace: Option<String>,
    /// Items per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The query string of a single resource: its namespace.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NamespaceQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent); another
    /// tenant's, named in full (`acme.docs`), only for admins.
    #[param(value_type = Option<Namespace>)]
    namespace: Option<String>,
}

/// The namespace `raw` names as the request's caller reaches it: its tenant's `default`
/// when absent, a bare name in its own tenant, another tenant's a 404 (unless an admin).
pub(crate) fn caller_namespace(parts: &Parts, raw: Option<String>) -> Result<Namespace, ApiError> {
    let caller = parts
        .extensions
        .get::<sp_core::auth::Principal>()
        .ok_or_else(crate::middleware::auth::unauthorized)?;
    Ok(caller.namespace(raw.map(Namespace::new).transpose()?)?)
}

/// `?namespace=…` of a single resource (anything else in the query string is refused), as
/// the caller reaches it (see [`caller_namespace`]).
#[derive(Debug, Clone)]
pub struct InNamespace(pub Namespace);

impl<S: Send + Sync> FromRequestParts<S> for InNamespace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryOf(raw) = QueryOf::<NamespaceQuery>::from_request_parts(parts, state).await?;
        Ok(InNamespace(caller_namespace(parts, raw.namespace)?))
    }
}

/// `?namespace=…&limit=…&cursor=…`, validated; the namespace as the caller reaches it.
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
        let QueryOf(raw) = QueryOf::<ListingQuery>::from_request_parts(parts, state).await?;
        Ok(Listing {
            namespace: caller_namespace(parts, raw.namespace)?,
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

/// The request's id (what `X-Request-Id` carries back), as the correlation id of the events
/// the request causes.
#[derive(Debug, Clone)]
pub struct RequestIdOf(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestIdOf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestIdOf(
            parts
                .extensions
                .get::<tower_http::request_id::RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .map(str::to_owned),
        ))
    }
}

/// Who made the request and its id, for the platform events the services record.
pub fn origin(caller: &crate::middleware::auth::Caller, request: &RequestIdOf) -> Origin {
    Origin::default()
        .by(caller.0.key_id.clone())
        .correlated_opt(request.0.clone())
}
