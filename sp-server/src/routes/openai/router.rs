//! The OpenAI-compatible routes.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{chat, embeddings, models, pull, rerank};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat::chat_completions))
        .routes(routes!(chat::completions))
        .routes(routes!(embeddings::embeddings))
        .routes(routes!(rerank::rerank))
        .routes(routes!(models::models))
        .routes(routes!(models::model))
        .routes(routes!(models::load_model))
        .routes(routes!(models::unload_model))
        .routes(routes!(pull::pull_model))
}
