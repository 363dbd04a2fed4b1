//! What a model will take in memory, read from its GGUF header before anything is loaded.
//!
//! The header is read through llama.cpp's own `gguf` reader (FFI; the safe wrapper in
//! llama-cpp-2 has no tensor sizes), so every `unsafe` block here is one call on a context
//! this module owns.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::path::Path;

use serde::Serialize;
use sp_core::catalogue::{CatalogueEntry, ModelKind};
use sp_core::{Error, Result};

/// What the GGUF header says, without loading a tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufSummary {
    /// `general.architecture`.
    pub architecture: String,
    /// Context length it was trained with (0 when absent).
    pub trained_context: u32,
    /// Transformer blocks.
    pub layers: u32,
    /// Size of its hidden states (and of its embeddings).
    pub embedding_length: u32,
    /// Attention heads.
    pub heads: u32,
    /// Key/value heads (grouped-query attention).
    pub heads_kv: u32,
    /// Width of one key head.
    pub key_length: u32,
    /// Width of one value head.
    pub value_length: u32,
    /// Tokens in the vocabulary.
    pub vocab_size: u64,
    /// Bytes of every tensor together.
    pub weights_bytes: u64,
    /// `{architecture}.pooling_type` when declared (llama.cpp's numbering: 1 mean, 2 CLS,
    /// 3 last, 4 rank — a cross-encoder's score).
    pub pooling_type: Option<u32>,
}

/// A model's estimated resident bytes, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryEstimate {
    /// The tensors (memory-mapped from the file).
    pub weights: u64,
    /// Keys and values for every slot's whole context (f16).
    pub kv_cache: u64,
    /// Compute buffers, logits, the vocabulary's tables and per-context overhead.
    pub compute: u64,
    /// The RAM prefix cache's bound (`prefix_cache_mib`; a chat model's only): it fills as
    /// slots are given to other prompts, so it is counted whole.
    pub prefix_cache: u64,
    /// All of them.
    pub total: u64,
}

/// Fixed cost of a context (threads, graph metadata, sampler state), measured as a few MiB.
const CONTEXT_OVERHEAD: u64 = 16 << 20;
/// Heap bytes per vocabulary entry (its text, score, type and lookup tables), measured
/// against gemma-3's 262,144 tokens.
const VOCAB_ENTRY: u64 = 128;
/// Tokens one decode step takes at most (`EngineConfig::batch_size`'s default).
const MICRO_BATCH: u64 = 512;

impl GgufSummary {
    /// Reads `path`'s header (metadata and tensor descriptions; no tensor data).
    pub fn read(path: &Path) -> Result<Self> {
        let refuse = |reason: &str| Error::ModelLoad {
            path: path.display().to_string(),
            reason: reason.to_owned(),
        };
        crate::loader::precheck(path)?;
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| refuse("the path holds a NUL byte"))?;
        let params = llama_cpp_sys_2::gguf_init_params {
            no_alloc: true,
            ctx: std::ptr::null_mut(),
        };
        // SAFETY: a valid C string and no_alloc parameters; a null result is handled.
        let ctx = unsafe { llama_cpp_sys_2::gguf_init_from_file(c_path.as_ptr(), params) };
        if ctx.is_null() {
            return Err(refuse("its GGUF header is corrupt or truncated"));
        }
        let header = Header(ctx);
        let architecture = header
            .string("general.architecture")
            .ok_or_else(|| refuse("general.architecture is missing"))?;
        let arch_u32 = |key: &str| header.u32(&format!("{architecture}.{key}"));
        let embedding_length = arch_u32("embedding_length").unwrap_or(0);
        let heads = arch_u32("attention.head_count").unwrap_or(1).max(1);
        let head_width = embedding_length / heads;
        Ok(GgufSummary {
            trained_context: arch_u32("context_length").unwrap_or(0),
            layers: arch_u32("block_count").unwrap_or(0),
            embedding_length,
            heads,
            heads_kv: arch_u32("attention.head_count_kv").unwrap_or(heads),
            key_length: arch_u32("attention.key_length").unwrap_or(head_width),
            value_length: arch_u32("attention.value_length").unwrap_or(head_width),
            vocab_size: header.array_len("tokenizer.ggml.tokens").unwrap_or(0),
            weights_bytes: header.tensor_bytes(),
            pooling_type: arch_u32("pooling_type"),
            architecture,
        })
    }

    /// The memory `entry`'s settings need for this model.
    pub fn estimate(&self, entry: &CatalogueEntry) -> MemoryEstimate {
        let cells = match entry.kind {
            ModelKind::Chat => u64::from(entry.slots) * u64::from(entry.context_per_slot),
            // One embedding context of the window (at most what it was trained on).
            ModelKind::Embedding | ModelKind::Rerank => {
                u64::from(embedding_window(self.trained_context))
            }
        };
        let per_cell = u64::from(self.layers)
            * u64::from(self.heads_kv)
            * u64::from(self.key_length + self.value_length)
            * 2;
        let kv_cache = cells * per_cell;
        // Logits for one token per slot (the chat scheduler asks for no more; an embedding
        // context returns pooled vectors, no logits), one micro-batch of hidden states, its
        // attention scores over one slot's window (no flash attention on the CPU), and the
        // vocabulary's tables, which live outside the tensors.
        let micro_batch = MICRO_BATCH.min(cells.max(1));
        let (logits, window) = match entry.kind {
            ModelKind::Chat => (
                u64::from(entry.slots) * self.vocab_size * 4,
                u64::from(entry.context_per_slot),
            ),
            _ => (0, cells),
        };
        let hidden = micro_batch * u64::from(self.embedding_length) * 4 * 8;
        let scores = micro_batch * window * u64::from(self.heads) * 4;
        let vocabulary = self.vocab_size * VOCAB_ENTRY;
        let compute = CONTEXT_OVERHEAD + logits + hidden + scores + vocabulary;
        let prefix_cache = match entry.kind {
            ModelKind::Chat => u64::from(entry.prefix_cache_mib) << 20,
            ModelKind::Embedding | ModelKind::Rerank => 0,
        };
        MemoryEstimate {
            weights: self.weights_bytes,
            kv_cache,
            compute,
            prefix_cache,
            total: self.weights_bytes + kv_cache + compute + prefix_cache,
        }
    }
}

/// The window an embedding worker runs with (`EngineConfig::embedding_context`'s default,
/// at most the trained context).
fn embedding_window(trained_context: u32) -> u32 {
    let configured = crate::EngineConfig::default().embedding_context;
    match trained_context {
        0 => configured,
        trained => configured.min(trained),
    }
}

/// Owns a `gguf_context` and frees it.
struct Header(*mut llama_cpp_sys_2::gguf_context);

impl Drop for Header {
    fn drop(&mut self) {
        // SAFETY: the pointer came from gguf_init_from_file and is freed once.
        unsafe { llama_cpp_sys_2::gguf_free(self.0) }
    }
}

impl Header {
    fn key(&self, key: &str) -> Option<i64> {
        let c_key = CString::new(key).ok()?;
        // SAFETY: a live context and a valid C string.
        let id = unsafe { llama_cpp_sys_2::gguf_find_key(self.0, c_key.as_ptr()) };
        (id >= 0).then_some(id)
    }

    fn kind(&self, id: i64) -> llama_cpp_sys_2::gguf_type {
        // SAFETY: `id` was returned by gguf_find_key on this context.
        unsafe { llama_cpp_sys_2::gguf_get_kv_type(self.0, id) }
    }

    fn u32(&self, key: &str) -> Option<u32> {
        let id = self.key(key)?;
        // SAFETY: the getter matches the value's type, checked first.
        match self.kind(id) {
            llama_cpp_sys_2::GGUF_TYPE_UINT32 => {
                Some(unsafe { llama_cpp_sys_2::gguf_get_val_u32(self.0, id) })
            }
            llama_cpp_sys_2::GGUF_TYPE_INT32 => {
                u32::try_from(unsafe { llama_cpp_sys_2::gguf_get_val_i32(self.0, id) }).ok()
            }
            llama_cpp_sys_2::GGUF_TYPE_UINT64 => {
                u32::try_from(unsafe { llama_cpp_sys_2::gguf_get_val_u64(self.0, id) }).ok()
            }
            _ => None,
        }
    }

    fn string(&self, key: &str) -> Option<String> {
        let id = self.key(key)?;
        if self.kind(id) != llama_cpp_sys_2::GGUF_TYPE_STRING {
            return None;
        }
        // SAFETY: a string value; the pointer lives as long as the context.
        let ptr = unsafe { llama_cpp_sys_2::gguf_get_val_str(self.0, id) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: gguf strings are NUL-terminated.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    fn array_len(&self, key: &str) -> Option<u64> {
        let id = self.key(key)?;
        if self.kind(id) != llama_cpp_sys_2::GGUF_TYPE_ARRAY {
            return None;
        }
        // SAFETY: an array value.
        u64::try_from(unsafe { llama_cpp_sys_2::gguf_get_arr_n(self.0, id) }).ok()
    }

    fn tensor_bytes(&self) -> u64 {
        // SAFETY: a live context; ids below n_tensors are valid.
        let count = unsafe { llama_cpp_sys_2::gguf_get_n_tensors(self.0) };
        (0..count)
            .map(|id| unsafe { llama_cpp_sys_2::gguf_get_tensor_size(self.0, id) } as u64)
            .sum()
    }
}
