//! The OpenAI-compatible routes.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{chat, embeddings};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat::chat_completions))
        .routes(routes!(chat::completions))
        .routes(routes!(embeddings::embeddings))
        .routes(routes!(embeddings::models))
        .routes(routes!(embeddings::model))
}
