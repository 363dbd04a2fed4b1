//! Engine settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sp_core::{Error, Result};

/// How to load a model and run it.
///
/// ```
/// let config = sp_llm::EngineConfig::new("model.gguf").with_slots(8).with_context_per_slot(4096);
/// assert_eq!(config.total_context(), 8 * 4096);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// Concurrent sequences decoded together (continuous batching).
    pub slots: u32,
    /// Context window of one request (prompt + generated tokens).
    pub context_per_slot: u32,
    /// Most tokens handed to one decode call.
    pub batch_size: u32,
    /// Threads for generation; `None` uses every available core.
    pub threads: Option<u32>,
    /// Threads for prompt processing; `None` uses `threads`.
    pub threads_batch: Option<u32>,
    /// Layers offloaded to the GPU (needs a GPU feature); `0` runs on the CPU.
    pub gpu_layers: u32,
    /// Requests that may wait for a free slot before new ones get `Overloaded`.
    pub queue_capacity: usize,
    /// Context window of the embedding worker; longer texts are refused, not truncated.
    pub embedding_context: u32,
    /// Most texts packed into one embedding decode (llama.cpp's `n_seq_max`, 1..=256); a
    /// decode also never holds more tokens than the embedding window.
    pub embedding_sequences: u32,
    /// A Jinja chat template to use instead of the one in the GGUF (llama-server's
    /// `--chat-template-file`).
    pub chat_template: Option<String>,
    /// MiB of host RAM for KV prefixes of slots given to other prompts (restored when a
    /// later request of the same cache scope shares them); `0` keeps none.
    pub prefix_cache_mib: u32,
    /// Where KV state is kept on disk after each request (restored by a later request of the
    /// same cache scope that shares its prefix, even after a restart); `None` keeps none.
    pub kv_state_dir: Option<PathBuf>,
    /// MiB of disk for that state, least recently used first.
    pub kv_state_mib: u32,
    /// Prompt-lookup speculative decoding for greedy, unshaped requests (the output is the
    /// same; quoting and rewriting get faster).
    pub speculation: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            model_path: PathBuf::new(),
            slots: 4,
            context_per_slot: 4096,
            batch_size: 512,
            threads: None,
            threads_batch: None,
            gpu_layers: 0,
            queue_capacity: 64,
            embedding_context: 2048,
            embedding_sequences: 64,
            chat_template: None,
            prefix_cache_mib: 512,
            kv_state_dir: None,
            kv_state_mib: 2048,
            speculation: false,
        }
    }
}

impl EngineConfig {
    /// The RAM prefix cache's bound in bytes.
    pub fn prefix_cache_bytes(&self) -> usize {
        usize::try_from(u64::from(self.prefix_cache_mib) << 20).unwrap_or(usize::MAX)
    }

    /// Defaults for the model at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EngineConfig {
            model_path: path.into(),
            ..EngineConfig::default()
        }
    }

    /// The engine settings of a catalogue entry (`[[models]]`, or the `[model]` section's
    /// shorthand). An embedding model ignores the chat settings (slots, windows).
    pub fn from_entry(entry: &sp_core::catalogue::CatalogueEntry) -> Self {
        EngineConfig {
            model_path: entry.path.clone(),
            slots: entry.slots,
            context_per_slot: entry.context_per_slot,
            threads: entry.threads,
            gpu_layers: entry.gpu_layers,
            queue_capacity: entry.queue_capacity,
            prefix_cache_mib: entry.prefix_cache_mib,
            kv_state_dir: entry
                .kv_state_dir
                .clone()
                .filter(|_| entry.kv_state_mib > 0),
            kv_state_mib: entry.kv_state_mib,
            ..EngineConfig::default()
        }
    }

    /// Renders chats with this Jinja template instead of the GGUF's own.
    pub fn with_chat_template(mut self, source: impl Into<String>) -> Self {
        self.chat_template = Some(source.into());
        self
    }

    /// Sets the number of slots.
    pub fn with_slots(mut self, slots: u32) -> Self {
        self.slots = slots;
        self
    }

    /// Sets the context window of one request.
    pub fn with_context_per_slot(mut self, tokens: u32) -> Self {
        self.context_per_slot = tokens;
        self
    }

    /// Sets generation and prompt threads.
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets how many texts one embedding decode may pack.
    pub fn with_embedding_sequences(mut self, sequences: u32) -> Self {
        self.embedding_sequences = sequences;
        self
    }

    /// Keeps KV state on disk under `dir` (see [`EngineConfig::kv_state_dir`]).
    pub fn with_kv_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.kv_state_dir = Some(dir.into());
        self
    }

    /// Turns prompt-lookup speculative decoding on or off.
    pub fn with_speculation(mut self, on: bool) -> Self {
        self.speculation = on;
        self
    }

    /// Sets the queue capacity.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// The KV cache size: every slot's window.
    pub fn total_context(&self) -> u32 {
        self.slots.saturating_mul(self.context_per_slot)
    }

    /// Threads to use for generation.
    pub fn effective_threads(&self) -> u32 {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| u32::try_from(n.get()).unwrap_or(1))
                .unwrap_or(1)
        })
    }

    /// Refuses settings llama.cpp would crash or misbehave on.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, reason: &str| Err(Error::invalid_input(field, reason));
        if !(1..=64).contains(&self.slots) {
            return invalid("slots", "must be 1..=64");
        }
        if !(64..=1 << 20).contains(&self.context_per_slot) {
            return invalid("context_per_slot", "must be 64..=1048576");
        }
        if !(1..=8192).contains(&self.batch_size) {
            return invalid("batch_size", "must be 1..=8192");
        }
        if self.threads == Some(0) || self.threads_batch == Some(0) {
            return invalid("threads", "must be at least 1");
        }
        if self.queue_capacity == 0 {
            return invalid("queue_capacity", "must be at least 1");
        }
        if !(16..=1 << 16).contains(&self.embedding_context) {
            return invalid("embedding_context", "must be 16..=65536");
        }
        if !(1..=256).contains(&self.embedding_sequences) {
            return invalid("embedding_sequences", "must be 1..=256");
        }
        Ok(())
    }
}
