//! # sp-llm
//!
//! Local inference through llama.cpp: load a GGUF model, chat with its own chat template,
//! stream tokens, embed texts, and serve many concurrent requests from one model with
//! continuous batching and prompt-cache reuse.
//!
//! ```no_run
//! # async fn demo() -> sp_core::Result<()> {
//! use futures::StreamExt as _;
//! use sp_core::chat::{ChatMessage, Sampling, StreamEvent};
//!
//! let engine = sp_llm::Engine::load(sp_llm::EngineConfig::new("SmolLM2-135M-Instruct.Q4_1.gguf"))?;
//! let mut stream = engine.chat_stream(&[ChatMessage::user("Hi!")], &Sampling::greedy(64))?;
//! while let Some(event) = stream.next().await {
//!     match event? {
//!         StreamEvent::Delta { text } => print!("{text}"),
//!         StreamEvent::Done { finish_reason, usage } => println!("\n{finish_reason:?} {usage:?}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Design
//! One worker thread owns the llama.cpp context; async callers hand it jobs through a bounded
//! queue (full → [`sp_core::Error::Overloaded`]) and read results from a channel. The worker
//! decodes every busy slot in one batch per step, so requests join and leave between steps.
//! A new request takes the free slot whose KV cache shares the longest prefix with its prompt
//! and only computes the rest (`usage.cached_tokens`). See `docs/inference.md`.
//!
//! ## Features
//! | feature | what it adds |
//! |---|---|
//! | `cuda` | NVIDIA GPUs (CUDA toolkit at build time); set `gpu_layers` |
//! | `metal` | Apple GPUs |
//! | `vulkan` | GPUs through Vulkan (Vulkan SDK at build time) |
//!
//! Without features everything runs on the CPU.

mod backend;
mod catalogue;
mod chat;
mod completion;
mod config;
mod constraint;
mod embed;
mod engine;
mod health;
mod loader;
mod prompt_tokens;
mod pull;
mod reply;
mod sampler;
mod scheduler;
mod shaping;
mod stats;
mod template;
mod text;
mod threadpool;
mod top_k;
mod traits;

pub use catalogue::{
    GgufSummary, MemoryEstimate, ModelEvent, ModelEventKind, ModelLease, ModelObserver,
    ModelRuntime, ModelState, ModelStatus, available_memory,
};
pub use chat::TemplateInfo;
pub use config::EngineConfig;
pub use embed::{EmbedBatchStats, EmbeddingModel, abandoned_jobs};
pub use engine::{CompletionStream, Engine};
pub use loader::ModelInfo;
pub use pull::{
    ModelsDir, PYPI_SIMPLE, ProgressSink, PullPhase, PullProgress, PullRequest, PullSource,
    PulledModel, StoredModel, kind_of,
};
pub use reply::ReplyStream;
pub use scheduler::forget_kv_files;
pub use stats::EngineStats;
pub use template::ChatTemplate;
