//! The route tree: the public and the protected routers, merged under the gateway, and the OpenAPI document they make.

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use super::{
    agents, anthropic, console, contexts, documents, events, fallback, health, hub, keys, mcp,
    openai, replicas, requests, responses, tenants, tokens, usage, workflows,
};
use crate::middleware::auth::authenticate;
use crate::state::AppState;

/// Everything under /v1 that needs a credential.
fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(openai::router())
        .merge(anthropic::router())
        .merge(responses::router())
        .merge(documents::router())
        .merge(contexts::router())
        .merge(keys::router())
        .merge(tenants::router())
        .merge(usage::router())
        .merge(hub::router())
        .merge(mcp::router())
        .merge(events::router())
        .merge(workflows::router())
        .merge(agents::router())
        .merge(tokens::protected())
        .merge(requests::router())
        .merge(replicas::router())
}

/// Open routes: probes, metrics, the refresh exchange (its token is the credential).
fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .routes(routes!(crate::metrics::render))
        .merge(tokens::public())
}

/// The OpenAPI document of every route (what `/openapi.json` serves and `sp openapi` prints).
///
/// ```
/// let spec = sp_server::openapi();
/// assert!(spec.paths.paths.contains_key("/v1/chat/completions"));
/// ```
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, protected) = protected().split_for_parts();
    let (_, public) = public().split_for_parts();
    crate::openapi::document(protected, public)
}

/// Every route of the reference server, without the gateway layers.
pub fn router(state: AppState) -> Router {
    let (protected, protected_api) = protected().split_for_parts();
    let (public, public_api) = public().split_for_parts();
    let spec = crate::openapi::document(protected_api, public_api);
    // Model routing runs first: the replica that serves a request authenticates it.
    let protected = protected
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::middleware::route_by_model::route_by_model,
        ));
    Router::new()
        .merge(public)
        .merge(protected)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", spec))
        .merge(console::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::request_log::record,
        ))
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .with_state(state)
}
