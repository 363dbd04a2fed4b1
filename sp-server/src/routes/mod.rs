//! The HTTP routes, one module per area.

mod fallback;
mod health;

use axum::Router;

use crate::state::AppState;

/// Every route of the reference server, without the gateway layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .with_state(state)
}
