//! Backups of the embedded store (`sp backup`, `sp restore`): a consistent online snapshot of
//! the SQLite database, taken with `VACUUM INTO` while the server keeps serving (one read
//! transaction: what was committed before it began, nothing after), beside a manifest — the
//! format version, the build, the applied migrations, the database's size and SHA-256, and
//! every table's row count. The in-process indexes are not copied: they are derived from the
//! database and rebuilt (or caught up from its journal) when the store opens.
//!
//! A backup is written into `DEST.partial/` and renamed to `DEST` only once the database and
//! the manifest are whole and synced, so a full or unwritable destination never leaves a
//! half-written backup under the name of a good one.

mod restore;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sp_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

pub use restore::{restore_embedded, verify_backup};

use crate::sqlite::DATABASE_FILE;

/// The manifest's file name in a backup folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// What a backup folder's manifest says it is.
const FORMAT: &str = "sp-backup";
/// The manifest's format version this build writes and reads.
const FORMAT_VERSION: u32 = 1;

/// What a backup holds, as its `manifest.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Always `sp-backup`.
    pub format: String,
    /// The manifest's format version.
    pub version: u32,
    /// The `sp` build that took it.
    pub sp_version: String,
    /// `sqlite` (the embedded store).
    pub backend: String,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// The migrations applied to the database, by version.
    pub migrations: Vec<i64>,
    /// The database file's size in bytes.
    pub bytes: u64,
    /// The database file's SHA-256, hex.
    pub sha256: String,
    /// Rows of every table.
    pub tables: BTreeMap<String, u64>,
}

impl BackupManifest {
    /// Rows of all tables together.
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

/// Takes a backup of the embedded store in `data_dir` into the new folder `dest` (which must
/// not exist), while servers on it keep serving.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// sp_data::SqliteStore::open(&dir.path().join("data")).await.unwrap();
/// let dest = dir.path().join("backup");
/// let manifest = sp_data::backup_embedded(&dir.path().join("data"), &dest).await.unwrap();
/// assert!(dest.join("sp.db").is_file() && dest.join("manifest.json").is_file());
/// assert!(manifest.tables.contains_key("kb_documents"));
/// # });
/// ```
pub async fn backup_embedded(data_dir: &Path, dest: &Path) -> Result<BackupManifest> {
    let source = data_dir.join(DATABASE_FILE);
    if !source.is_file() {
        return Err(Error::invalid_input(
            "data_dir",
            format!("{} holds no embedded store", data_dir.display()),
        ));
    }
    if dest.exists() {
        return Err(Error::invalid_input(
            "dest",
            format!("{} exists; a backup goes into a new folder", dest.display()),
        ));
    }
    let partial = partial_path(dest);
    // A partial folder is an earlier attempt that failed: never a backup.
    let _ = std::fs::remove_dir_all(&partial);
    let unwritable =
        |err: std::io::Error| Error::invalid_input("dest", format!("{}: {err}", partial.display()));
    std::fs::create_dir_all(&partial).map_err(unwritable)?;
    let written = write_backup(&source, &partial).await;
    let manifest = match written {
        Ok(manifest) => manifest,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(err);
        }
    };
    std::fs::rename(&partial, dest).map_err(|err| {
        let _ = std::fs::remove_dir_all(&partial);
        Error::invalid_input("dest", format!("{}: {err}", dest.display()))
    })?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent);
    }
    Ok(manifest)
}

/// The snapshot and its manifest, into `folder`.
async fn write_backup(source: &Path, folder: &Path) -> Result<BackupManifest> {
    let target = folder.join(DATABASE_FILE);
    let live = open_read_only(source).await?;
    let into = format!(
        "VACUUM INTO '{}'",
        target.to_string_lossy().replace('\'', "''")
    );
    let vacuumed = sqlx::query(sqlx::AssertSqlSafe(into)).execute(&live).await;
    live.close().await;
    vacuumed.map_err(|err| Error::invalid_input("dest", format!("{}: {err}", target.display())))?;
    let manifest = describe(&target).await?;
    let json = serde_json::to_vec_pretty(&manifest).map_err(Error::internal)?;
    let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::File::create(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write(&folder.join(MANIFEST_FILE), &json)
        .and_then(|()| std::fs::File::open(&target)?.sync_all())
        .map_err(|err| Error::invalid_input("dest", format!("{}: {err}", folder.display())))?;
    sync_dir(folder);
    Ok(manifest)
}

/// The manifest of the database file `db`: its checksum, migrations and row counts.
pub(crate) async fn describe(db: &Path) -> Result<BackupManifest> {
    let (bytes, sha256) = checksum(db)?;
    let pool = open_read_only(db).await?;
    let described = async {
        let migrations: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .map_err(|err| crate::error::sqlx_error("sqlite", err))?;
        Ok::<_, Error>((migrations, table_rows(&pool).await?))
    }
    .await;
    pool.close().await;
    let (migrations, tables) = described?;
    Ok(BackupManifest {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        sp_version: env!("CARGO_PKG_VERSION").into(),
        backend: "sqlite".into(),
        taken_at: sp_core::Timestamp::now().to_string(),
        migrations,
        bytes,
        sha256,
        tables,
    })
}

/// Rows of every table of the database (SQLite's own excepted).
pub(crate) async fn table_rows(pool: &SqlitePool) -> Result<BTreeMap<String, u64>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(|err| crate::error::sqlx_error("sqlite", err))?;
    let mut rows = BTreeMap::new();
    for name in names {
        // Names come from sqlite_master, quoted as identifiers.
        let count = format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .fetch_one(pool)
            .await
            .map_err(|err| crate::error::sqlx_error("sqlite", err))?;
        rows.insert(name, u64::try_from(n).unwrap_or(0));
    }
    Ok(rows)
}

/// Size and SHA-256 (hex) of a file.
pub(crate) fn checksum(path: &Path) -> Result<(u64, String)> {
    let unreadable = |err: std::io::Error| Error::internal(format!("{}: {err}", path.display()));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hash.update(&buffer[..n]);
    }
    let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, hex))
}

pub(crate) async fn open_read_only(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|err| Error::unavailable("sqlite", format!("{}: {err}", path.display())))
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Makes a rename in `dir` durable (best effort where directories cannot be synced).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}
