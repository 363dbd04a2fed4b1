//! Loading a catalogue entry off the async runtime, and the machine's available memory.

use sp_core::catalogue::{CatalogueEntry, ModelKind};
use sp_core::{Error, Result};

use super::Loaded;
use crate::{EmbeddingModel, Engine, EngineConfig};

pub(super) async fn load_blocking(entry: &CatalogueEntry) -> Result<Loaded> {
    let config = EngineConfig::from_entry(entry);
    config.validate()?;
    let kind = entry.kind;
    let path = entry.path.display().to_string();
    tokio::task::spawn_blocking(move || match kind {
        ModelKind::Chat => Engine::load(config).map(Loaded::Chat),
        ModelKind::Embedding | ModelKind::Rerank => {
            let model = EmbeddingModel::load(config)?;
            // A cross-encoder scores pairs and makes no vectors: each kind gets its own.
            match (kind, model.is_cross_encoder()) {
                (ModelKind::Rerank, false) => Err(Error::ModelLoad {
                    path,
                    reason: "kind = \"rerank\" needs a cross-encoder, whose GGUF declares rank \
                             pooling; this one embeds (kind = \"embedding\")"
                        .into(),
                }),
                (ModelKind::Embedding, true) => Err(Error::ModelLoad {
                    path,
                    reason: "this GGUF is a cross-encoder (rank pooling): declare it \
                             kind = \"rerank\""
                        .into(),
                }),
                _ => Ok(Loaded::Embedding(model)),
            }
        }
    })
    .await
    .map_err(|err| Error::internal(format!("model loading task failed: {err}")))?
}

/// Bytes of memory available now (`MemAvailable` in `/proc/meminfo`); `None` where that
/// cannot be read.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo
        .lines()
        .find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
