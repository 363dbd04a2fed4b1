//! The HTTP routes, one module per area.

mod contexts;
mod documents;
mod fallback;
mod health;
mod keys;
mod openai;
mod params;
mod tokens;

use axum::Router;

use crate::middleware::auth::authenticate;
use crate::state::AppState;

/// Every route of the reference server, without the gateway layers.
pub fn router(state: AppState) -> Router {
    // Everything under /v1 needs a credential; health stays open for probes.
    let protected = Router::new()
        .merge(openai::router())
        .merge(documents::router())
        .merge(contexts::router())
        .merge(keys::router())
        .merge(tokens::protected())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ));
    Router::new()
        .merge(health::router())
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .merge(protected)
        .merge(tokens::public())
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .with_state(state)
}
