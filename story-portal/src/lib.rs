//! # Story Portal
//!
//! One dependency for an agentic AI application that runs its own models: documents and
//! hybrid search, agent contexts with memory, a service hub with tool calling, an event log,
//! durable workflows, local llama.cpp models and an OpenAI-compatible server — in process,
//! on an embedded SQLite default or on PostgreSQL + pgvector and Redis.
//!
//! ```toml
//! [dependencies]
//! story-portal = { version = "0.1", features = ["llm"] }
//! ```
//!
//! | capability | type | example |
//! |---|---|---|
//! | every service over one set of backends | [`Platform`], [`PlatformBuilder`] | below |
//! | documents, hybrid search (vectors + full text) | [`knowledge::KnowledgeBase`] | `examples/search_notes.rs` |
//! | agent contexts: messages, memory blocks, assembly, compaction | [`context::Contexts`] | `examples/chat_memory.rs` |
//! | a service registry, discovery, tool calls (HTTP and MCP) | [`hub::Hub`] | `examples/workflow.rs` |
//! | an append-only event log with live subscribers and consumer groups | [`events::EventLog`] | `examples/workflow.rs` |
//! | durable workflows of tool, search and model steps | [`workflows::Workflows`] | `examples/workflow.rs` |
//! | local models: chat, streaming, tool calls, constrained output (feature `llm`) | `llm::Engine` | `examples/chat_repl.rs` |
//! | embeddings from a local model (feature `llm`) | `llm::EmbeddingModel` | `examples/embed_texts.rs` |
//! | the HTTP server, embeddable in an axum app (feature `server`) | `server::app`, `server::AppState` | `examples/embed_server.rs` |
//! | storage backends: SQLite, PostgreSQL (`postgres`), Redis (`redis`) | [`data::Backends`], [`data::Database`] | [`data`] |
//! | stable error codes | [`Error`], [`ErrorCode`] | [`Error::code`] |
//!
//! Features: `postgres`, `redis`, `llm`, `server` (brings `llm`), and `cuda`, `metal` or
//! `vulkan` to run models on a GPU (each brings `llm`). Without any, the platform runs on the
//! embedded database with the feature-hashing embedder and no chat model.
//!
//! ```
//! use story_portal::prelude::*;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir()?;
//! let mut config = Config::default();
//! config.data_dir = dir.path().to_path_buf();
//! let platform = Platform::builder(config).build().await?;
//!
//! let notes: NewDocument = serde_json::from_value(serde_json::json!({
//!     "title": "Otters", "content": "Sea otters hold hands while they sleep."}))?;
//! platform.knowledge.ingest(notes).await?;
//! let hits = platform.knowledge.search(&SearchQuery::new("otters sleeping")).await?;
//! assert_eq!(hits[0].title, "Otters");
//!
//! let context = platform.contexts.create(NewContext::default()).await?;
//! platform
//!     .contexts
//!     .append(&context.namespace, context.id, NewMessage::new(Role::User, "Tell me about otters"))
//!     .await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod prelude;

pub use sp_core::{
    BoxError, ChatModel, Config, ConfigSources, Cursor, Embedder, Error, ErrorCode, Id, Namespace,
    Page, PageRequest, Resource, Result, Timestamp, Tokenizer,
};
pub use sp_core::{
    agents, auth, cache, chat, config, context, events, health, hub, knowledge, workflows,
};
pub use sp_platform::{HASH_DIMENSIONS, KEY_LOOKUP_TTL, Platform, PlatformBuilder};

/// Storage: the embedded SQLite database, PostgreSQL + pgvector (feature `postgres`) and Redis
/// (feature `redis`), each store behind its trait in the domain modules.
pub mod data {
    pub use sp_data::*;
}

/// Local inference through llama.cpp (feature `llm`).
#[cfg(feature = "llm")]
pub mod llm {
    pub use sp_llm::*;
}

/// The embeddable axum router, the gateway's middleware and the `sp` server (feature
/// `server`).
#[cfg(feature = "server")]
pub mod server {
    pub use sp_server::*;
}
