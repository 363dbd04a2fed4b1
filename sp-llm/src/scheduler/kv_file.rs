//! The format of a KV state file: `SPKV` 1, a little-endian `u32` header length, a JSON
//! header (scope, owner, model, exact tokens, the payload's length and SHA-256), then
//! llama.cpp's sequence state. Named `<owner hash>-<tokens hash>.kv` (or `<tokens hash>.kv`
//! without an owner) in `<model fingerprint>/<scope hash>/`, so that an owner's files are
//! found — and deleted — without reading them.

use std::io::Read;
use std::path::{Path, PathBuf};

use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(super) const MAGIC: &[u8; 5] = b"SPKV\x01";
/// Headers larger than this are not read (a window of tokens as JSON is far smaller).
const MAX_HEADER: u32 = 8 << 20;

#[derive(Serialize, Deserialize)]
pub(super) struct Header {
    pub scope: String,
    /// Whose state it is within the scope (a context); files before owners had none.
    #[serde(default)]
    pub owner: Option<String>,
    pub model: String,
    pub tokens: Vec<i32>,
    pub len: u64,
    pub sha256: String,
}

/// The model file's identity: its path, size and modification time.
pub(super) fn fingerprint(model_path: &Path) -> std::io::Result<String> {
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

pub(super) fn scope_dir(scope: &str) -> String {
    hex(&Sha256::digest(scope.as_bytes())[..8])
}

pub(super) fn token_bytes(tokens: &[LlamaToken]) -> Vec<u8> {
    tokens.iter().flat_map(|t| t.0.to_le_bytes()).collect()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's header and its whole size, when its magic and model match.
pub(super) fn read_header(path: &Path, model: &str) -> Result<(Header, u64), String> {
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
pub(super) fn read_state(
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

/// The file of `tokens` in `scope` by `owner`, under the model's directory `root`.
pub(super) fn state_path(
    root: &Path,
    scope: &str,
    owner: Option<&str>,
    tokens: &[LlamaToken],
) -> PathBuf {
    let tokens = hex(&Sha256::digest(token_bytes(tokens))[..8]);
    let name = match owner {
        Some(owner) => format!("{}-{tokens}.kv", owner_hash(owner)),
        None => format!("{tokens}.kv"),
    };
    root.join(scope_dir(scope)).join(name)
}

fn owner_hash(owner: &str) -> String {
    hex(&Sha256::digest(owner.as_bytes())[..8])
}

/// Writes a state file: to a temporary name, synced, renamed into place. Its size.
pub(super) fn write_state(path: &Path, header: &Header, state: &[u8]) -> std::io::Result<u64> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let header = serde_json::to_vec(header)?;
    let header_len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(MAGIC)?;
    file.write_all(&header_len.to_le_bytes())?;
    file.write_all(&header)?;
    file.write_all(state)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    Ok(MAGIC.len() as u64 + 4 + header.len() as u64 + state.len() as u64)
}

/// Deletes every state file of `owner` in `scope` under `dir` (a `model.kv_state_dir`),
/// for every model: the ones not loaded too. How many were deleted.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert_eq!(sp_llm::forget_kv_files(dir.path(), "acme", "context-1").unwrap(), 0);
/// // A stray file beside the model folders is no model's.
/// std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
/// assert_eq!(sp_llm::forget_kv_files(dir.path(), "acme", "context-1").unwrap(), 0);
/// ```
pub fn forget_kv_files(dir: &Path, scope: &str, owner: &str) -> std::io::Result<usize> {
    let prefix = format!("{}-", owner_hash(owner));
    let models = match std::fs::read_dir(dir) {
        Ok(models) => models,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut deleted = 0;
    for model in models {
        let files = match std::fs::read_dir(model?.path().join(scope_dir(scope))) {
            Ok(files) => files,
            // A model that never saw the scope, or a stray file beside the model folders.
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                continue;
            }
            Err(err) => return Err(err),
        };
        for file in files {
            let file = file?;
            if file.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(file.path())?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
