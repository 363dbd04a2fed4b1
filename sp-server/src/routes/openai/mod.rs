//! The OpenAI-compatible API: chat, completions, embeddings, models — field names, stream
//! format (`data: …` chunks ending in `data: [DONE]`) and usage as OpenAI's clients expect.

mod chat;
mod embeddings;
mod wire;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/completions", post(chat::completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/models", get(embeddings::models))
        .route("/v1/models/{id}", get(embeddings::model))
}
