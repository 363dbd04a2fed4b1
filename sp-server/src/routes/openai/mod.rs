//! The OpenAI-compatible API: chat, completions, embeddings, models — field names, stream
//! format (`data: …` chunks ending in `data: [DONE]`) and usage as OpenAI's clients expect.

mod chat;
mod embeddings;
mod messages;
mod models;
mod pull;
mod reply;
pub(crate) mod rerank;
mod shape;
mod wire;

mod router;
pub(crate) use chat::{charged, check_model, max_cost};
pub use router::router;
