//! KV state on disk: a slot's sequence state, saved after its request finished, restored when
//! a later request of the same cache scope shares its prefix and neither a slot nor the RAM
//! prefix cache holds it — after the slot went to others and RAM forgot it, or after a
//! restart. So a conversation's next turn after a restart costs a file read, not a prefill.
//!
//! One directory per model (`<dir>/<fingerprint>`: the model file's path, size and mtime, so
//! another model or a changed file never sees these states), one subdirectory per scope (a
//! hash of it; the scope itself is in each file). A file is `SPKV` 1, a JSON header (scope,
//! model, exact tokens, the payload's length and SHA-256), then llama.cpp's sequence state.
//! Every file is checked before llama.cpp reads it — magic, header, model, scope, tokens,
//! length and checksum — and one that does not match (truncated, corrupt, of another model)
//! is removed with a warning, never trusted. Writes happen on a thread of their own (the
//! decode loop only copies the state out), to a temporary name renamed into place; the total
//! is bounded, least recently used first.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::prefix_cache::longest_in_scope;

const MAGIC: &[u8; 5] = b"SPKV\x01";
/// Headers larger than this are not read (a window of tokens as JSON is far smaller).
const MAX_HEADER: u32 = 8 << 20;
/// Saves waiting for the writer thread; past it a save is skipped, never the decode slowed.
const PENDING_WRITES: usize = 4;

#[derive(Serialize, Deserialize)]
struct Header {
    scope: String,
    model: String,
    tokens: Vec<i32>,
    len: u64,
    sha256: String,
}

/// One state file, as the index knows it.
struct DiskEntry {
    scope: Arc<str>,
    tokens: Vec<LlamaToken>,
    path: PathBuf,
    size: u64,
    last_used: u64,
}

#[derive(Default)]
struct Index {
    entries: Vec<DiskEntry>,
    bytes: u64,
    clock: u64,
}

/// A state to write.
struct Save {
    scope: Arc<str>,
    tokens: Vec<LlamaToken>,
    state: Vec<u8>,
}

/// A restored state: its exact tokens and llama.cpp's bytes, checked.
pub(crate) struct Loaded {
    pub tokens: Vec<LlamaToken>,
    pub state: Vec<u8>,
}

/// The states of one model in one directory.
pub(crate) struct DiskKv {
    model: String,
    limit: u64,
    index: Arc<Mutex<Index>>,
    writes: std::sync::mpsc::SyncSender<Save>,
}

impl DiskKv {
    /// The states of the model at `model_path` under `dir`, at most `limit` bytes; the
    /// files already there are indexed (bad ones removed). What it holds is reported to
    /// `counters`.
    pub(crate) fn open(
        dir: &Path,
        model_path: &Path,
        limit: u64,
        counters: Arc<crate::stats::Counters>,
    ) -> std::io::Result<Self> {
        let model = fingerprint(model_path)?;
        let root = dir.join(&model);
        std::fs::create_dir_all(&root)?;
        let mut index = Index::default();
        for scope_dir in std::fs::read_dir(&root)?.flatten() {
            for file in std::fs::read_dir(scope_dir.path())?.flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "tmp") {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                match read_header(&path, &model) {
                    Ok((header, size)) => {
                        index.bytes += size;
                        index.entries.push(DiskEntry {
                            scope: header.scope.into(),
                            tokens: header.tokens.into_iter().map(LlamaToken).collect(),
                            path,
                            size,
                            last_used: 0,
                        });
                    }
                    Err(reason) => discard(&path, &reason),
                }
            }
        }
        counters.disk_held(index.bytes, index.entries.len());
        let index = Arc::new(Mutex::new(index));
        let (writes, queue) = std::sync::mpsc::sync_channel(PENDING_WRITES);
        let writer = Writer {
            root: root.clone(),
            model: model.clone(),
            limit,
            index: index.clone(),
            counters,
        };
        std::thread::Builder::new()
            .name("sp-llm-kv-writer".into())
            .spawn(move || {
                for save in queue {
                    writer.write(save);
                }
            })?;
        Ok(DiskKv {
            model,
            limit,
            index,
            writes,
        })
    }

    /// Bytes and files held.
    pub(crate) fn held(&self) -> (u64, usize) {
        let index = lock(&self.index);
        (index.bytes, index.entries.len())
    }

    /// Whether `scope` has `tokens` (or a longer state that begins with them) on disk.
    pub(crate) fn covers(&self, scope: &str, tokens: &[LlamaToken]) -> bool {
        lock(&self.index)
            .entries
            .iter()
            .any(|e| &*e.scope == scope && e.tokens.starts_with(tokens))
    }

    /// Queues `state`, the cache of `tokens` in `scope`, for writing; skipped when the
    /// writer is behind or it would not fit at all.
    pub(crate) fn save(&self, scope: Arc<str>, tokens: Vec<LlamaToken>, state: Vec<u8>) {
        if state.len() as u64 > self.limit {
            return;
        }
        if self
            .writes
            .try_send(Save {
                scope,
                tokens,
                state,
            })
            .is_err()
        {
            tracing::debug!("the KV writer is behind; a state was not saved");
        }
    }

    /// The file of `scope` sharing the longest prefix with `prompt`, when it shares more
    /// than `at_least` tokens: (shared, its checked state). A file that fails its checks is
    /// removed and the lookup goes on without it.
    pub(crate) fn best(
        &self,
        scope: &str,
        prompt: &[LlamaToken],
        at_least: usize,
    ) -> Option<(usize, Loaded)> {
        let (path, tokens, shared) = {
            let mut index = lock(&self.index);
            let (i, shared) = longest_in_scope(
                index
                    .entries
                    .iter()
                    .map(|e| (&*e.scope, e.tokens.as_slice())),
                scope,
                prompt,
                at_least,
            )?;
            index.clock += 1;
            let clock = index.clock;
            let entry = &mut index.entries[i];
            entry.last_used = clock;
            (entry.path.clone(), entry.tokens.clone(), shared)
        };
        match read_state(&path, &self.model, scope, &tokens) {
            Ok(state) => Some((shared, Loaded { tokens, state })),
            Err(reason) => {
                discard(&path, &reason);
                forget(&self.index, &path);
                None
            }
        }
    }
}

/// The writer thread's side.
struct Writer {
    root: PathBuf,
    model: String,
    limit: u64,
    index: Arc<Mutex<Index>>,
    counters: Arc<crate::stats::Counters>,
}

impl Writer {
    fn write(&self, save: Save) {
        let dir = self.root.join(scope_dir(&save.scope));
        let name = hex(&Sha256::digest(token_bytes(&save.tokens))[..8]);
        let path = dir.join(format!("{name}.kv"));
        let header = Header {
            scope: save.scope.to_string(),
            model: self.model.clone(),
            tokens: save.tokens.iter().map(|t| t.0).collect(),
            len: save.state.len() as u64,
            sha256: hex(&Sha256::digest(&save.state)),
        };
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            let header = serde_json::to_vec(&header)?;
            let header_len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
            let temporary = path.with_extension("tmp");
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(MAGIC)?;
            file.write_all(&header_len.to_le_bytes())?;
            file.write_all(&header)?;
            file.write_all(&save.state)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            Ok(MAGIC.len() as u64 + 4 + header.len() as u64 + save.state.len() as u64)
        });
        let size = match written {
            Ok(size) => size,
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "a KV state was not saved");
                return;
            }
        };
        let mut index = lock(&self.index);
        // A longer state supersedes the shorter ones it begins with (and the same one).
        let superseded: Vec<usize> = (0..index.entries.len())
            .filter(|&i| {
                let e = &index.entries[i];
                e.scope == save.scope && save.tokens.starts_with(&e.tokens)
            })
            .collect();
        for i in superseded.into_iter().rev() {
            let gone = index.entries.swap_remove(i);
            index.bytes -= gone.size;
            if gone.path != path {
                let _ = std::fs::remove_file(&gone.path);
            }
        }
        index.clock += 1;
        let clock = index.clock;
        index.bytes += size;
        index.entries.push(DiskEntry {
            scope: save.scope,
            tokens: save.tokens,
            path: path.clone(),
            size,
            last_used: clock,
        });
        while index.bytes > self.limit {
            let Some(oldest) = (0..index.entries.len()).min_by_key(|&i| index.entries[i].last_used)
            else {
                break;
            };
            let gone = index.entries.swap_remove(oldest);
            index.bytes -= gone.size;
            let _ = std::fs::remove_file(&gone.path);
        }
        self.counters.disk_held(index.bytes, index.entries.len());
    }
}

fn lock(index: &Mutex<Index>) -> std::sync::MutexGuard<'_, Index> {
    index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(index: &Mutex<Index>, path: &Path) {
    let mut index = lock(index);
    if let Some(i) = index.entries.iter().position(|e| e.path == path) {
        let gone = index.entries.swap_remove(i);
        index.bytes -= gone.size;
    }
}

fn discard(path: &Path, reason: &str) {
    tracing::warn!(path = %path.display(), reason, "a KV state file did not match; removed");
    let _ = std::fs::remove_file(path);
}

/// The model file's identity: its path, size and modification time.
fn fingerprint(model_path: &Path) -> std::io::Result<String> {
    let path = std::fs::canonicalize(model_path)?;
    let meta = std::fs::metadata(&path)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut hash = Sha256::new();
    hash.update(path.to_string_lossy().as_bytes());
    hash.update(meta.len().to_le_bytes());
    hash.update(modified.to_le_bytes());
    Ok(hex(&hash.finalize()[..8]))
}

fn scope_dir(scope: &str) -> String {
    hex(&Sha256::digest(scope.as_bytes())[..8])
}

fn token_bytes(tokens: &[LlamaToken]) -> Vec<u8> {
    tokens.iter().flat_map(|t| t.0.to_le_bytes()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's header and its whole size, when its magic and model match.
fn read_header(path: &Path, model: &str) -> Result<(Header, u64), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut magic = [0u8; 5];
    file.read_exact(&mut magic).map_err(|e| e.to_string())?;
    if &magic != MAGIC {
        return Err("not a state file of this version".into());
    }
    let mut len = [0u8; 4];
    file.read_exact(&mut len).map_err(|e| e.to_string())?;
    let len = u32::from_le_bytes(len);
    if len > MAX_HEADER {
        return Err("header too large".into());
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    let header: Header = serde_json::from_slice(&header).map_err(|e| e.to_string())?;
    if header.model != model {
        return Err("of another model".into());
    }
    if size != MAGIC.len() as u64 + 4 + u64::from(len) + header.len {
        return Err("truncated or padded".into());
    }
    Ok((header, size))
}

/// A file's state, when everything about it matches what the index says.
fn read_state(
    path: &Path,
    model: &str,
    scope: &str,
    tokens: &[LlamaToken],
) -> Result<Vec<u8>, String> {
    let (header, _) = read_header(path, model)?;
    if header.scope != scope || header.tokens.iter().ne(tokens.iter().map(|t| &t.0)) {
        return Err("its scope or tokens changed".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let start = usize::try_from(header.len)
        .ok()
        .and_then(|len| bytes.len().checked_sub(len))
        .ok_or("truncated")?;
    let state = bytes[start..].to_vec();
    if hex(&Sha256::digest(&state)) != header.sha256 {
        return Err("checksum mismatch".into());
    }
    Ok(state)
}
