//! Loading a GGUF file, with the checks that turn llama.cpp's null pointers into clear errors.

use std::io::Read as _;
use std::path::Path;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use serde::{Deserialize, Serialize};
use sp_core::{Error, Result};

use crate::backend::backend;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// What a loaded model says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// File name without extension, used as the model id.
    pub id: String,
    /// `general.architecture` (`llama`, `gemma3`, …).
    pub architecture: String,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// Context length the model was trained with.
    pub trained_context: u32,
    /// Size of its embeddings.
    pub embedding_size: u32,
    /// Tokens in its vocabulary.
    pub vocab_size: u32,
    /// Parameters.
    pub parameters: u64,
    /// Bytes of weights.
    pub size_bytes: u64,
    /// The chat template in the GGUF, if any.
    pub chat_template: Option<String>,
}

fn load_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::ModelLoad {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks the file before llama.cpp sees it: it exists, is readable and starts like a GGUF.
pub(crate) fn precheck(path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(|err| load_error(path, err.to_string()))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .map_err(|_| load_error(path, "file is too short to be a GGUF model"))?;
    if &magic != GGUF_MAGIC {
        return Err(load_error(path, "not a GGUF file (bad magic bytes)"));
    }
    Ok(())
}

/// Loads the weights with `gpu_layers` offloaded.
pub(crate) fn load(path: &Path, gpu_layers: u32) -> Result<(LlamaModel, ModelInfo)> {
    precheck(path)?;
    let params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers);
    let model = LlamaModel::load_from_file(backend()?, path, &params).map_err(|err| {
        load_error(
            path,
            format!("llama.cpp could not read it (corrupt or unsupported): {err}"),
        )
    })?;
    let info = describe(&model, path);
    Ok((model, info))
}

fn describe(model: &LlamaModel, path: &Path) -> ModelInfo {
    let meta = |key: &str| model.meta_val_str(key).ok().filter(|v| !v.is_empty());
    ModelInfo {
        id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        architecture: meta("general.architecture").unwrap_or_else(|| "unknown".into()),
        name: meta("general.name"),
        trained_context: model.n_ctx_train(),
        embedding_size: u32::try_from(model.n_embd()).unwrap_or(0),
        vocab_size: u32::try_from(model.n_vocab()).unwrap_or(0),
        parameters: model.n_params(),
        size_bytes: model.size(),
        chat_template: model
            .chat_template(None)
            .ok()
            .and_then(|t| t.to_string().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::ErrorCode;

    #[test]
    fn missing_and_non_gguf_files_are_refused_before_llama_cpp() {
        let err = precheck(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ModelLoad);
        let dir = std::env::temp_dir().join(format!("sp-llm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("fake.gguf");
        std::fs::write(&fake, b"PK\x03\x04 not a model").unwrap();
        let err = precheck(&fake).unwrap_err();
        assert!(err.to_string().contains("not a GGUF"), "{err}");
        std::fs::write(&fake, b"GG").unwrap();
        assert!(
            precheck(&fake)
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
