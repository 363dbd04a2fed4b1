//! Several models in one process: loaded on first use (once, however many requests ask at
//! the same moment), unloaded when idle past their keep-alive, and admitted only when their
//! estimated memory fits the budget — idle models are unloaded to make room, and a model that
//! still does not fit is refused ([`sp_core::Error::ModelMemory`]), never loaded into an
//! out-of-memory kill.
//!
//! ```no_run
//! # async fn demo(config: sp_core::Config) -> sp_core::Result<()> {
//! use sp_core::catalogue::Catalogue;
//!
//! let models = sp_llm::ModelRuntime::start(Catalogue::from_config(&config)?, 2 << 30, None).await?;
//! let lease = models.acquire("gemma", None).await?; // loads it, or waits for the load in flight
//! let engine = lease.engine()?;
//! # let _ = engine; Ok(()) }
//! ```

mod estimate;
mod events;
mod forget;
mod idle;
mod lease;
mod load;
mod register;
mod runtime;
mod status;

pub use estimate::{GgufSummary, MemoryEstimate};
pub use events::{ModelEvent, ModelEventKind, ModelObserver};
pub use lease::ModelLease;
pub use load::available_memory;
pub use runtime::ModelRuntime;
pub use status::{ModelState, ModelStatus};

use crate::{EmbeddingModel, Engine};

/// A loaded model: a chat engine or an embedding worker.
#[derive(Clone)]
pub(crate) enum Loaded {
    Chat(Engine),
    Embedding(EmbeddingModel),
}
