//! Which model serves a request: the `model` it names (a catalogue name or alias), loaded on
//! first use and held for the request, or the default of its kind.

use futures::{Stream, StreamExt as _};
use sp_core::catalogue::{KeepAlive, ModelKind};
use sp_core::{Embedder as _, Error, Result};
use sp_llm::{EmbeddingModel, Engine, ModelLease};

use crate::middleware::auth::Caller;
use crate::state::AppState;

/// A chat engine held for one request.
pub(crate) struct ServedChat {
    engine: Engine,
    name: String,
    /// Keeps an on-demand model loaded (and counted busy) until the request ends; the default
    /// model is resident and needs none.
    lease: Option<ModelLease>,
}

impl std::ops::Deref for ServedChat {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl ServedChat {
    /// The model's name, as responses and usage rows report it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `stream`, holding the model until it ends or is dropped.
    pub(crate) fn holding<S: Stream + Send + 'static>(
        &mut self,
        stream: S,
    ) -> impl Stream<Item = S::Item> + Send + 'static {
        let lease = self.lease.take();
        stream.map(move |item| {
            let _held = &lease;
            item
        })
    }
}

/// An embedding worker held for one request.
pub(crate) struct ServedEmbedder {
    embedder: EmbeddingModel,
    name: String,
    /// Held, never read: keeps an on-demand model loaded until the request ends.
    _lease: Option<ModelLease>,
}

impl ServedEmbedder {
    /// The model's name, as responses and usage rows report it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl std::ops::Deref for ServedEmbedder {
    type Target = EmbeddingModel;

    fn deref(&self) -> &EmbeddingModel {
        &self.embedder
    }
}

/// The chat model `model` names (absent or empty: the default), which the caller's key may
/// use. Unknown names are 404 `SP-LLM-007` listing the catalogue.
pub(crate) async fn chat(
    state: &AppState,
    caller: &Caller,
    model: Option<&str>,
    keep_alive: Option<KeepAlive>,
) -> Result<ServedChat> {
    chat_from(state.engine(), state.models(), model, keep_alive, |name| {
        caller.0.may_use_model(name)
    })
    .await
}

/// The chat model `model` names among `default` and the catalogue `runtime`, if `may_use`
/// allows its name.
pub(crate) async fn chat_from(
    default: Option<&Engine>,
    runtime: Option<&sp_llm::ModelRuntime>,
    model: Option<&str>,
    keep_alive: Option<KeepAlive>,
    may_use: impl Fn(&str) -> Result<()>,
) -> Result<ServedChat> {
    let name = model.filter(|name| !name.is_empty());
    let Some(runtime) = runtime else {
        let engine = default.cloned().ok_or_else(|| {
            Error::unavailable(
                "model",
                "the server has no chat model (model.path or [[models]])",
            )
        })?;
        let served = engine.info().id.clone();
        if let Some(name) = name.filter(|name| *name != served) {
            return Err(Error::NotFound {
                kind: sp_core::Resource::Model,
                id: name.to_owned(),
            });
        }
        may_use(&served)?;
        return Ok(ServedChat {
            engine,
            name: served,
            lease: None,
        });
    };
    let catalogue = runtime.catalogue();
    let entry = match name {
        Some(name) => catalogue.resolve(name)?,
        None => catalogue
            .default_for(ModelKind::Chat)
            .ok_or_else(|| Error::unavailable("model", "the catalogue has no chat model"))?,
    };
    may_use(&entry.name)?;
    if entry.kind != ModelKind::Chat {
        return Err(Error::invalid_input(
            "model",
            format!(
                "`{}` is a {} model; it does not chat",
                entry.name,
                entry.kind.as_str()
            ),
        ));
    }
    if let Some(engine) = runtime
        .resident_engine(&entry.name)
        .filter(|_| entry.pinned)
    {
        let name = entry.name.clone();
        return Ok(ServedChat {
            engine,
            name,
            lease: None,
        });
    }
    let lease = runtime.acquire(&entry.name, keep_alive).await?;
    Ok(ServedChat {
        engine: lease.engine()?.clone(),
        name: entry.name.clone(),
        lease: Some(lease),
    })
}

/// The embedding model `model` names (absent: the default — a dedicated embedding model,
/// else the chat model's mean-pooled states).
pub(crate) async fn embedder(
    state: &AppState,
    caller: &Caller,
    model: Option<&str>,
    keep_alive: Option<KeepAlive>,
) -> Result<ServedEmbedder> {
    let default = || {
        state.embedder().map(|e| e.as_ref().clone()).ok_or_else(|| {
            Error::unavailable(
                "model",
                "the server has no embedding model (model.embedding_path, model.path or [[models]])",
            )
        })
    };
    let name = model.filter(|name| !name.is_empty());
    let served = |embedder: EmbeddingModel, name: &str| ServedEmbedder {
        embedder,
        name: name.to_owned(),
        _lease: None,
    };
    let (Some(runtime), Some(name)) = (state.models(), name) else {
        let embedder = default()?;
        check_served(embedder.model_id(), caller, name)?;
        let id = embedder.model_id().to_owned();
        return Ok(served(embedder, &id));
    };
    let catalogue = runtime.catalogue();
    let entry = catalogue.resolve(name)?;
    caller.0.may_use_model(&entry.name)?;
    let is_default = state
        .embedder()
        .is_some_and(|e| e.model_id() == entry.name || e.model_id() == file_stem(&entry.path));
    if is_default {
        return Ok(served(default()?, &entry.name));
    }
    if entry.kind != ModelKind::Embedding {
        return Err(Error::invalid_input(
            "model",
            format!(
                "`{}` is a {} model; it does not embed",
                entry.name,
                entry.kind.as_str()
            ),
        ));
    }
    leased(runtime, &entry.name, keep_alive).await
}

/// The embedding worker of catalogue model `name`, held loaded for the request.
async fn leased(
    runtime: &sp_llm::ModelRuntime,
    name: &str,
    keep_alive: Option<KeepAlive>,
) -> Result<ServedEmbedder> {
    let lease = runtime.acquire(name, keep_alive).await?;
    Ok(ServedEmbedder {
        embedder: lease.embedder()?.clone(),
        name: name.to_owned(),
        _lease: Some(lease),
    })
}

/// The model `/v1/rerank` and the search's rerank stage score with: a cross-encoder
/// (`kind = "rerank"`) when `model` names one, or when `model` is absent and the catalogue
/// has one the caller's key may use; otherwise the embedding model [`embedder`] picks
/// (cosine similarities).
pub(crate) async fn scorer(
    state: &AppState,
    caller: &Caller,
    model: Option<&str>,
    keep_alive: Option<KeepAlive>,
) -> Result<ServedEmbedder> {
    if let Some(runtime) = state.models() {
        let catalogue = runtime.catalogue();
        let entry = match model.filter(|name| !name.is_empty()) {
            Some(name) => Some(catalogue.resolve(name)?),
            // Unnamed, the rerank model only for a key that may use it; else, as before,
            // the default embedding model.
            None => catalogue
                .default_for(ModelKind::Rerank)
                .filter(|entry| caller.0.may_use_model(&entry.name).is_ok()),
        };
        if let Some(entry) = entry.filter(|entry| entry.kind == ModelKind::Rerank) {
            caller.0.may_use_model(&entry.name)?;
            return leased(runtime, &entry.name, keep_alive).await;
        }
    }
    embedder(state, caller, model, keep_alive).await
}

fn file_stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Refuses a `model` other than `served` (404) and a `served` the caller's key may not use
/// (403; an absent `model` means `served`).
pub(crate) fn check_served(served: &str, caller: &Caller, model: Option<&str>) -> Result<()> {
    match model {
        Some(name) if !name.is_empty() && name != served => Err(Error::NotFound {
            kind: sp_core::Resource::Model,
            id: name.to_owned(),
        }),
        _ => caller.0.may_use_model(served),
    }
}
