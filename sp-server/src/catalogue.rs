//! The catalogue a configuration describes: its `model.*` shorthand and `[[models]]` entries,
//! then every model of the models directory that no entry names.

use std::path::PathBuf;

use std::sync::Arc;

use sp_core::catalogue::{Catalogue, ModelKind};
use sp_core::{Config, Error, Result};
use sp_llm::{EmbeddingModel, Engine, ModelObserver, ModelRuntime, ModelsDir};

/// The models directory of `config` (`model.models_dir`, `<data_dir>/models` otherwise),
/// looking `pypi:` sources up on `model.pypi_index`.
///
/// ```
/// let dir = sp_server::models_dir(&sp_core::Config::default());
/// assert!(dir.path().ends_with("models"));
/// ```
pub fn models_dir(config: &Config) -> ModelsDir {
    ModelsDir::new(config.models_dir()).with_index(config.model.pypi_index.clone())
}

/// The catalogue of `config` with the models directory's models added (named by their stem;
/// one whose name an entry already takes is left out, with a warning).
pub(crate) fn catalogue(config: &Config) -> Result<Catalogue> {
    let configured: Vec<PathBuf> = config
        .model
        .path
        .iter()
        .chain(config.model.embedding_path.iter())
        .cloned()
        .chain(config.models.iter().map(|entry| entry.path.clone()))
        .collect();
    let base = Catalogue::from_config(config)?;
    let found = models_dir(config).catalogue_entries(&configured)?;
    if found.is_empty() {
        return Ok(base);
    }
    let mut with_found = config.clone();
    for entry in found {
        if base.resolve(&entry.name).is_ok() {
            tracing::warn!(model = %entry.name, path = %entry.path.display(),
                "a model of the models directory is left out: an entry of the configuration has its name");
            continue;
        }
        with_found.models.push(entry);
    }
    Catalogue::from_config(&with_found)
}

/// `model.memory_budget_mib`, else three quarters of the memory available at start (no
/// limit where that cannot be read).
pub(crate) fn memory_budget(config: &Config) -> u64 {
    match config.model.memory_budget_mib {
        Some(mib) => mib.saturating_mul(1 << 20),
        None => sp_llm::available_memory().map_or(u64::MAX, |bytes| bytes / 4 * 3),
    }
}

/// The model runtime `config` describes, as the server starts it (catalogue, models
/// directory, memory budget; pinned models loaded), for a process that serves models
/// without the server — the Python bindings' `Models`. Needs a Tokio runtime.
///
/// ```no_run
/// # async fn demo() -> sp_core::Result<()> {
/// let mut config = sp_core::Config::default();
/// config.model.models_dir = Some("/var/lib/sp/models".into());
/// let models = sp_server::model_runtime(&config).await?;
/// for model in models.list() {
///     println!("{} {:?}", model.name, model.state);
/// }
/// # Ok(()) }
/// ```
pub async fn model_runtime(config: &Config) -> Result<ModelRuntime> {
    ModelRuntime::start(catalogue(config)?, memory_budget(config), None).await
}

/// What a server serves: every catalogue model, its default chat model (resident) and the
/// embedder of its knowledge store and `/v1/embeddings` — the default embedding model, else
/// the chat model's own hidden states, else none (the hashing embedder).
pub(crate) struct ServedModels {
    pub(crate) runtime: ModelRuntime,
    pub(crate) engine: Option<Engine>,
    pub(crate) embedder: Option<Arc<EmbeddingModel>>,
}

/// Starts the models `config` describes (pinned ones loaded), reporting loads and unloads to
/// `observer`; `sp serve` and `sp reindex` choose their embedder here, so both embed alike.
pub(crate) async fn served_models(
    config: &Config,
    observer: Option<ModelObserver>,
) -> Result<ServedModels> {
    let runtime = ModelRuntime::start(catalogue(config)?, memory_budget(config), observer)
        .await
        .map_err(name_model_key)?;
    let default_name = |kind| {
        runtime
            .catalogue()
            .default_for(kind)
            .map(|entry| entry.name.clone())
    };
    let engine = default_name(ModelKind::Chat).and_then(|name| runtime.resident_engine(&name));
    let embedder = default_name(ModelKind::Embedding)
        .and_then(|name| runtime.resident_embedder(&name))
        .map(Arc::new)
        .or_else(|| engine.as_ref().and_then(engine_embedder));
    Ok(ServedModels {
        runtime,
        engine,
        embedder,
    })
}

/// Invalid model settings name their `model.*` key.
fn name_model_key(err: Error) -> Error {
    match err {
        Error::InvalidInput { field, reason } => Error::Config {
            key: format!("model.{field}"),
            reason,
        },
        other => other,
    }
}

/// The chat model's own embedding worker, when no dedicated embedding model is configured.
pub(crate) fn engine_embedder(engine: &Engine) -> Option<Arc<EmbeddingModel>> {
    match EmbeddingModel::new(engine) {
        Ok(model) => Some(Arc::new(model)),
        Err(err) => {
            tracing::error!(%err, "the model cannot embed; /v1/embeddings and documents use the hashing embedder");
            None
        }
    }
}
