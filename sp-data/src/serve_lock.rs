//! One serving process per embedded data directory (review finding M11): the in-memory
//! vector indexes and hit rows mirror SQLite for the process that loaded them, so a second
//! `sp serve` on the same directory would miss the first one's writes and deletes in search.
//! A server takes an exclusive lock on `data_dir/serve.lock` (the operating system's
//! advisory file lock, released when the process ends, however it ends) and a second is
//! refused at start. Short-lived commands (`sp keys`, `sp tenants`) do not take it: they
//! write rows, never the indexes.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use sp_core::{Error, Result};

/// The lock file's name in the data directory.
pub const SERVE_LOCK_FILE: &str = "serve.lock";

/// The held lock; dropping it releases it.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let held = sp_data::ServeLock::acquire(dir.path()).unwrap();
/// // A second server on the same directory is refused, naming the holder's pid.
/// let refused = sp_data::ServeLock::acquire(dir.path()).unwrap_err();
/// assert!(refused.to_string().contains(&std::process::id().to_string()), "{refused}");
/// drop(held);
/// assert!(sp_data::ServeLock::acquire(dir.path()).is_ok());
/// ```
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    path: PathBuf,
}

impl ServeLock {
    /// Takes the serving lock of `data_dir` (creating the directory, owner-only, when
    /// missing), or refuses with `SP-CFG-001` naming the process that holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(SERVE_LOCK_FILE);
        let unusable = |err: std::io::Error| Error::Config {
            key: "data_dir".into(),
            reason: format!("cannot use {}: {err}", path.display()),
        };
        crate::sqlite::create_private_dir(data_dir).map_err(unusable)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unusable)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Config {
                    key: "data_dir".into(),
                    reason: format!(
                        "{} is served by another process (pid {}): one `sp serve` per embedded \
                         data directory — stop it, or give this one another --data-dir",
                        data_dir.display(),
                        holder.trim()
                    ),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(unusable(err)),
        }
        // Who holds it, for the refusal of the next one.
        file.set_len(0).map_err(unusable)?;
        file.seek(SeekFrom::Start(0)).map_err(unusable)?;
        write!(file, "{}", std::process::id()).map_err(unusable)?;
        file.flush().map_err(unusable)?;
        Ok(ServeLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
