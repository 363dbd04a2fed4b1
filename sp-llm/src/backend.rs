//! The process-wide llama.cpp backend: initialised once, on first use.

use std::sync::{Mutex, OnceLock};

use llama_cpp_2::llama_backend::LlamaBackend;
use sp_core::{Error, Result};

static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();

/// Serialises context creation: llama.cpp mutates the model while creating a context, so two
/// threads must not do it at once.
pub(crate) static CONTEXT_CREATION: Mutex<()> = Mutex::new(());

/// The shared backend. llama.cpp allows one initialisation per process; its logs go to
/// `tracing` (target `llama-cpp-2`) instead of stderr.
pub(crate) fn backend() -> Result<&'static LlamaBackend> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|err| err.to_string())
        })
        .as_ref()
        .map_err(|reason| Error::Inference(format!("llama.cpp backend: {reason}")))
}
