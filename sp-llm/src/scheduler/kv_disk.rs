//! KV state on disk: a slot's sequence state, saved after its request finished, restored when
//! a later request of the same cache scope shares its prefix and neither a slot nor the RAM
//! prefix cache holds it — after the slot went to others and RAM forgot it, or after a
//! restart. So a conversation's next turn after a restart costs a file read, not a prefill.
//!
//! One directory per model (`<dir>/<fingerprint>`: the model file's path, size and mtime, so
//! another model or a changed file never sees these states), one subdirectory per scope (a
//! hash of it; the scope itself is in each file); the format is `kv_file`'s. A state is
//! tagged with its owner (a context, `Sampling::cache_owner`), whose deletion deletes its
//! files — including a save still in flight then. Every file is checked before llama.cpp reads it — magic, header, model, scope, tokens,
//! length and checksum — and one that does not match (truncated, corrupt, of another model)
//! is removed with a warning, never trusted. Writes happen on a thread of their own (the
//! decode loop only copies the state out), to a temporary name renamed into place; the total
//! is bounded, least recently used first.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

use super::kv_file::{Header, fingerprint, hex, read_header, read_state, state_path, write_state};
use super::prefix_cache::longest_in_scope;

/// Saves waiting for the writer thread; past it a save is skipped, never the decode slowed.
const PENDING_WRITES: usize = 4;
/// Owners deleted lately: a save of theirs that was in flight is dropped when it lands.
/// Owners are never reused (context ids), so a bounded memory of them is enough.
const FORGOTTEN: usize = 1024;

/// One state file, as the index knows it.
struct DiskEntry {
    scope: Arc<str>,
    owner: Option<Arc<str>>,
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
    /// (scope, owner) deleted lately, oldest first.
    forgotten: VecDeque<(Arc<str>, Arc<str>)>,
}

impl Index {
    fn was_forgotten(&self, scope: &str, owner: Option<&str>) -> bool {
        owner.is_some_and(|owner| {
            self.forgotten
                .iter()
                .any(|(s, o)| &**s == scope && &**o == owner)
        })
    }
}

/// A state to write.
struct Save {
    scope: Arc<str>,
    owner: Option<Arc<str>>,
    tokens: Vec<LlamaToken>,
    state: Vec<u8>,
}

/// A restored state: its exact tokens and llama.cpp's bytes, checked.
pub(crate) struct Loaded {
    pub tokens: Vec<LlamaToken>,
    pub state: Vec<u8>,
}

/// The states of one model in one directory. Clones share them (the engine keeps one to
/// delete an owner's files; the worker thread the other).
#[derive(Clone)]
pub(crate) struct DiskKv {
    model: String,
    limit: u64,
    index: Arc<Mutex<Index>>,
    writes: std::sync::mpsc::SyncSender<Save>,
    counters: Arc<crate::stats::Counters>,
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
                            owner: header.owner.map(Into::into),
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
            counters: counters.clone(),
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
            counters,
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
    pub(crate) fn save(
        &self,
        scope: Arc<str>,
        owner: Option<Arc<str>>,
        tokens: Vec<LlamaToken>,
        state: Vec<u8>,
    ) {
        if state.len() as u64 > self.limit {
            return;
        }
        if self
            .writes
            .try_send(Save {
                scope,
                owner,
                tokens,
                state,
            })
            .is_err()
        {
            tracing::debug!("the KV writer is behind; a state was not saved");
        }
    }

    /// Deletes the files of `owner` in `scope`, and a save of theirs still queued when it
    /// lands. How many files were deleted.
    pub(crate) fn forget(&self, scope: &str, owner: &str) -> usize {
        let mut index = lock(&self.index);
        index.forgotten.push_back((scope.into(), owner.into()));
        if index.forgotten.len() > FORGOTTEN {
            index.forgotten.pop_front();
        }
        let mut deleted = 0;
        let mut i = 0;
        while i < index.entries.len() {
            let e = &index.entries[i];
            if &*e.scope == scope && e.owner.as_deref() == Some(owner) {
                let gone = index.entries.swap_remove(i);
                index.bytes -= gone.size;
                if std::fs::remove_file(&gone.path).is_ok() {
                    deleted += 1;
                }
            } else {
                i += 1;
            }
        }
        self.counters.disk_held(index.bytes, index.entries.len());
        deleted
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
        let path = state_path(&self.root, &save.scope, save.owner.as_deref(), &save.tokens);
        let header = Header {
            scope: save.scope.to_string(),
            owner: save.owner.as_deref().map(str::to_owned),
            model: self.model.clone(),
            tokens: save.tokens.iter().map(|t| t.0).collect(),
            len: save.state.len() as u64,
            sha256: hex(&Sha256::digest(&save.state)),
        };
        let size = match write_state(&path, &header, &save.state) {
            Ok(size) => size,
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "a KV state was not saved");
                return;
            }
        };
        let mut index = lock(&self.index);
        if index.was_forgotten(&save.scope, save.owner.as_deref()) {
            // Its owner was deleted while it was being written.
            let _ = std::fs::remove_file(&path);
            return;
        }
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
            owner: save.owner,
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
