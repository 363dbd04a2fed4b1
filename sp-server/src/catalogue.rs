//! The catalogue a configuration describes: its `model.*` shorthand and `[[models]]` entries,
//! then every model of the models directory that no entry names.

use std::path::PathBuf;

use sp_core::catalogue::Catalogue;
use sp_core::{Config, Result};
use sp_llm::ModelsDir;

/// The models directory of `config` (`model.models_dir`, `<data_dir>/models` otherwise),
/// looking `pypi:` sources up on `model.pypi_index`.
pub(crate) fn models_dir(config: &Config) -> ModelsDir {
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
