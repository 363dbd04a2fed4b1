//! Helpers for the runnable examples next to this file
//! (`cargo run -p sp-examples --example NAME`).

use story_portal::prelude::*;

/// The test model that `scripts/models.sh` fetches: `$SP_MODELS_DIR` or
/// `~/.cache/story-portal/models`, unless `SP_TEST_MODEL` names another file.
pub fn default_model_path() -> String {
    if let Ok(path) = std::env::var("SP_TEST_MODEL") {
        return path;
    }
    let dir = std::env::var("SP_MODELS_DIR").unwrap_or_else(|_| {
        let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| {
            format!(
                "{}/.cache",
                std::env::var("HOME").unwrap_or_else(|_| ".".into())
            )
        });
        format!("{cache}/story-portal/models")
    });
    format!("{dir}/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Loads the model named by the first command-line argument, or [`default_model_path`], off
/// the async runtime (reading weights blocks).
pub async fn load_engine_from_args() -> Result<Engine, Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(default_model_path);
    let engine =
        tokio::task::spawn_blocking(move || Engine::load(EngineConfig::new(path))).await??;
    Ok(engine)
}
