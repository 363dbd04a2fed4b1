//! The model catalogue: which models a server may load, under which names, with which
//! settings — `[[models]]` entries plus the `[model]` section's shorthand — and the
//! backend-free rules of their lifecycle (keep-alive, memory admission).
//!
//! ```
//! use sp_core::catalogue::{Catalogue, ModelEntry, ModelKind};
//!
//! let entry = |name: &str, kind| ModelEntry {
//!     kind,
//!     ..ModelEntry::new(name, format!("/models/{name}.gguf"))
//! };
//! let mut config = sp_core::Config::default();
//! config.models = vec![
//!     ModelEntry { aliases: vec!["small".into()], ..entry("smollm2", ModelKind::Chat) },
//!     entry("minilm", ModelKind::Embedding),
//! ];
//! let catalogue = Catalogue::from_config(&config)?;
//! assert_eq!(catalogue.resolve("small")?.name, "smollm2");
//! assert_eq!(catalogue.default_for(ModelKind::Embedding).unwrap().name, "minilm");
//! assert!(catalogue.resolve("gpt-4").is_err());
//! # Ok::<(), sp_core::Error>(())
//! ```

mod admission;
mod keep_alive;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use admission::{Admission, Resident, plan_admission};
pub use keep_alive::KeepAlive;

use crate::config::{Config, ModelConfig};
use crate::error::{Error, Result};

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Chat and completions (it can embed too, by mean pooling, when nothing better is there).
    #[default]
    Chat,
    /// Sentence embeddings (`/v1/embeddings`, the knowledge store).
    Embedding,
    /// Relevance scores of documents for a query.
    Rerank,
}

impl ModelKind {
    /// `chat`, `embedding` or `rerank`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
            ModelKind::Rerank => "rerank",
        }
    }
}

/// One `[[models]]` entry of the configuration. Settings left out come from `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The name requests use (`"model": "…"`).
    pub name: String,
    /// The GGUF file.
    pub path: PathBuf,
    /// What it is for.
    #[serde(default)]
    pub kind: ModelKind,
    /// Other names that route to it.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Requests decoded together.
    #[serde(default)]
    pub slots: Option<u32>,
    /// Context window of one request, in tokens.
    #[serde(default)]
    pub context_per_slot: Option<u32>,
    /// CPU threads.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU.
    #[serde(default)]
    pub gpu_layers: Option<u32>,
    /// How long it stays loaded once idle (`model.keep_alive` when unset).
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
    /// Loaded at start and never unloaded to make room (nor by keep-alive).
    #[serde(default)]
    pub pinned: bool,
    /// The model of its kind that requests without `model` use.
    #[serde(default)]
    pub default: bool,
}

impl ModelEntry {
    /// A chat model `name` at `path`, every other setting from `[model]`.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ModelEntry {
            name: name.into(),
            path: path.into(),
            kind: ModelKind::Chat,
            aliases: Vec::new(),
            slots: None,
            context_per_slot: None,
            threads: None,
            gpu_layers: None,
            keep_alive: None,
            pinned: false,
            default: false,
        }
    }
}

/// A catalogue entry with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueEntry {
    /// The name requests use.
    pub name: String,
    /// Other names that route to it.
    pub aliases: Vec<String>,
    /// The GGUF file.
    pub path: PathBuf,
    /// What it is for.
    pub kind: ModelKind,
    /// Requests decoded together.
    pub slots: u32,
    /// Context window of one request.
    pub context_per_slot: u32,
    /// CPU threads; `None` uses every core.
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU.
    pub gpu_layers: u32,
    /// Requests that may wait for a slot.
    pub queue_capacity: usize,
    /// MiB of host RAM for KV prefixes of evicted slots (`model.prefix_cache_mib`).
    pub prefix_cache_mib: u32,
    /// Where it keeps KV state on disk (`model.kv_state_dir`); `None` keeps none.
    pub kv_state_dir: Option<PathBuf>,
    /// MiB of disk for that state (`model.kv_state_mib`; `0` keeps none).
    pub kv_state_mib: u32,
    /// How long it stays loaded once idle.
    pub keep_alive: KeepAlive,
    /// Loaded at start, never unloaded but by hand. The default chat and embedding models
    /// always are: the platform's stores are built on them.
    pub pinned: bool,
}

impl CatalogueEntry {
    /// `entry` with what it leaves unset taken from `model.*`.
    pub fn resolve(entry: &ModelEntry, model: &ModelConfig) -> Self {
        CatalogueEntry {
            name: entry.name.clone(),
            aliases: entry.aliases.clone(),
            path: entry.path.clone(),
            kind: entry.kind,
            slots: entry.slots.unwrap_or(model.slots),
            context_per_slot: entry.context_per_slot.unwrap_or(model.context_per_slot),
            threads: entry.threads.or(model.threads),
            gpu_layers: entry.gpu_layers.unwrap_or(model.gpu_layers),
            queue_capacity: model.queue_capacity,
            prefix_cache_mib: model.prefix_cache_mib,
            kv_state_dir: model.kv_state_dir.clone(),
            kv_state_mib: model.kv_state_mib,
            keep_alive: entry.keep_alive.unwrap_or(model.keep_alive),
            pinned: entry.pinned,
        }
    }
}

/// Every model a server may load, by name and alias, with a default per kind.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: Vec<CatalogueEntry>,
    defaults: Vec<(ModelKind, usize)>,
}

impl Catalogue {
    /// The catalogue of `config`: `model.path` (a chat model, the default) and
    /// `model.embedding_path` (the default embedding model), both pinned as before the
    /// catalogue existed, then every `[[models]]` entry. Duplicate names or aliases, empty
    /// names and two defaults of one kind are refused with the key to fix.
    pub fn from_config(config: &Config) -> Result<Self> {
        let model = &config.model_settings();
        let mut catalogue = Catalogue::default();
        let mut explicit_defaults = Vec::new();
        let shorthand = [
            (model.path.as_ref(), ModelKind::Chat, "model.path"),
            (
                model.embedding_path.as_ref(),
                ModelKind::Embedding,
                "model.embedding_path",
            ),
        ];
        for (path, kind, key) in shorthand {
            let Some(path) = path else { continue };
            let name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .filter(|stem| !stem.is_empty())
                .ok_or_else(|| config_error(key, "names no file"))?;
            catalogue.push(
                CatalogueEntry {
                    name,
                    aliases: Vec::new(),
                    path: path.clone(),
                    kind,
                    slots: model.slots,
                    context_per_slot: model.context_per_slot,
                    threads: model.threads,
                    gpu_layers: model.gpu_layers,
                    queue_capacity: model.queue_capacity,
                    prefix_cache_mib: model.prefix_cache_mib,
                    kv_state_dir: model.kv_state_dir.clone(),
                    kv_state_mib: model.kv_state_mib,
                    keep_alive: KeepAlive::Forever,
                    pinned: true,
                },
                key,
            )?;
            explicit_defaults.push((kind, catalogue.entries.len() - 1, key.to_owned()));
        }
        for (index, entry) in config.models.iter().enumerate() {
            let key = format!("models[{index}]");
            catalogue.push(CatalogueEntry::resolve(entry, model), &key)?;
            if entry.default {
                explicit_defaults.push((entry.kind, catalogue.entries.len() - 1, key));
            }
        }
        for (kind, index, key) in explicit_defaults {
            if let Some((_, other)) = catalogue.defaults.iter().find(|(k, _)| *k == kind) {
                return Err(config_error(
                    &key,
                    format!(
                        "`{}` and `{}` are both the default {} model",
                        catalogue.entries[*other].name,
                        catalogue.entries[index].name,
                        kind.as_str()
                    ),
                ));
            }
            catalogue.defaults.push((kind, index));
        }
        for kind in [ModelKind::Chat, ModelKind::Embedding, ModelKind::Rerank] {
            if catalogue.defaults.iter().all(|(k, _)| *k != kind)
                && let Some(first) = catalogue.entries.iter().position(|e| e.kind == kind)
            {
                catalogue.defaults.push((kind, first));
            }
        }
        // The platform's stores are built on the default chat model (contexts count tokens
        // with its vocabulary) and the default embedding model (the knowledge store's
        // vectors): they load at start and stay.
        for (kind, index) in &catalogue.defaults {
            if matches!(kind, ModelKind::Chat | ModelKind::Embedding) {
                let entry = &mut catalogue.entries[*index];
                entry.pinned = true;
                entry.keep_alive = KeepAlive::Forever;
            }
        }
        Ok(catalogue)
    }

    fn push(&mut self, entry: CatalogueEntry, key: &str) -> Result<()> {
        for name in std::iter::once(&entry.name).chain(&entry.aliases) {
            if name.trim().is_empty() || name.len() > 128 {
                return Err(config_error(key, "names and aliases are 1-128 characters"));
            }
            if let Some(other) = self.find(name) {
                return Err(config_error(
                    key,
                    format!("`{name}` already names the model `{}`", other.name),
                ));
            }
        }
        // The shorthand's settings are `model.*` keys; an entry's are its own.
        let setting = |name: &str| match key.strip_prefix("model.") {
            Some(_) => format!("model.{name}"),
            None => format!("{key}.{name}"),
        };
        for (name, value) in [
            ("slots", entry.slots),
            ("context_per_slot", entry.context_per_slot),
        ] {
            if value == 0 {
                return Err(config_error(&setting(name), "must be at least 1"));
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Adds a model to a running catalogue (a pulled one): a name or alias another entry
    /// holds is [`Error::Conflict`]. It becomes no kind's default.
    ///
    /// ```
    /// use sp_core::catalogue::{Catalogue, CatalogueEntry, ModelEntry};
    ///
    /// let mut catalogue = Catalogue::default();
    /// let entry = CatalogueEntry::resolve(&ModelEntry::new("m", "m.gguf"), &Default::default());
    /// catalogue.add(entry.clone()).unwrap();
    /// assert_eq!(catalogue.add(entry).unwrap_err().code(), sp_core::ErrorCode::Conflict);
    /// ```
    pub fn add(&mut self, entry: CatalogueEntry) -> Result<()> {
        let name = entry.name.clone();
        self.push(entry, "models").map_err(|err| match err {
            Error::Config { reason, .. } => Error::Conflict(format!("`{name}`: {reason}")),
            other => other,
        })
    }

    fn find(&self, name: &str) -> Option<&CatalogueEntry> {
        self.entries
            .iter()
            .find(|entry| entry.name == name || entry.aliases.iter().any(|alias| alias == name))
    }

    /// The entry `name` or one of its aliases routes to; unknown names are
    /// [`Error::ModelNotFound`], listing the names there are.
    pub fn resolve(&self, name: &str) -> Result<&CatalogueEntry> {
        self.find(name).ok_or_else(|| Error::ModelNotFound {
            name: name.to_owned(),
            available: self.entries.iter().map(|e| e.name.clone()).collect(),
        })
    }

    /// The model of `kind` used when a request names none.
    pub fn default_for(&self, kind: ModelKind) -> Option<&CatalogueEntry> {
        self.defaults
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, index)| &self.entries[*index])
    }

    /// Every entry, in configuration order.
    pub fn entries(&self) -> &[CatalogueEntry] {
        &self.entries
    }

    /// True when there is no model at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn config_error(key: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
