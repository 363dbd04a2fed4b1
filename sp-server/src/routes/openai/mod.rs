//! The OpenAI-compatible API: chat, completions, embeddings, models — field names, stream
//! format (`data: …` chunks ending in `data: [DONE]`) and usage as OpenAI's clients expect.

mod chat;
mod embeddings;
mod messages;
mod reply;
mod shape;
mod wire;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat::chat_completions))
        .routes(routes!(chat::completions))
        .routes(routes!(embeddings::embeddings))
        .routes(routes!(embeddings::models))
        .routes(routes!(embeddings::model))
}
