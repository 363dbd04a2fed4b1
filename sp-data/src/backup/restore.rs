//! Checking and restoring a backup. Nothing is trusted before it is checked: the manifest's
//! format, the database's size and SHA-256, SQLite's integrity check, every table's row
//! count, and the migrations (a backup of a newer build is refused; an older one is migrated
//! forward). A restore assembles the database beside the target and swaps it in with
//! renames only once every check passed, so a bad backup leaves the target untouched.

use std::path::{Path, PathBuf};

use sp_core::{Error, Id, Result};

use super::{BackupManifest, FORMAT, FORMAT_VERSION, MANIFEST_FILE, checksum, open_read_only};
use super::{sync_dir, table_rows};
use crate::sqlite::DATABASE_FILE;

/// What a restored data directory's database comes with, derived from it: moved aside with
/// it, so nothing of the replaced store is read against the restored one.
const BESIDE_DATABASE: [&str; 3] = ["-wal", "-shm", ".kb-index"];

/// Checks the backup in `src` whole — manifest, checksum, integrity, row counts — and that
/// this build opens it (restored into a scratch folder, then removed).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// sp_data::SqliteStore::open(&dir.path().join("data")).await.unwrap();
/// let dest = dir.path().join("backup");
/// let taken = sp_data::backup_embedded(&dir.path().join("data"), &dest).await.unwrap();
/// assert_eq!(sp_data::verify_backup(&dest).await.unwrap(), taken);
/// # });
/// ```
pub async fn verify_backup(src: &Path) -> Result<BackupManifest> {
    let manifest = read_manifest(src)?;
    let scratch = std::env::temp_dir().join(format!("sp-verify-{}", Id::new()));
    let checked = assemble(src, &manifest, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    checked.map(|()| manifest)
}

/// Restores the backup in `src` into `data_dir`, which no server may be serving; a store
/// already there is replaced only with `replace`. Returns the backup's manifest.
pub async fn restore_embedded(
    src: &Path,
    data_dir: &Path,
    replace: bool,
) -> Result<BackupManifest> {
    let manifest = read_manifest(src)?;
    let _serving = crate::ServeLock::acquire(data_dir)?;
    let target = data_dir.join(DATABASE_FILE);
    if target.exists() && !replace {
        return Err(Error::invalid_input(
            "data_dir",
            format!(
                "{} holds a store; restoring replaces it only when asked (--force)",
                data_dir.display()
            ),
        ));
    }
    let scratch = data_dir.join(format!(".restore-{}", Id::new()));
    if let Err(err) = assemble(src, &manifest, &scratch).await {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(err);
    }
    let aside = data_dir.join(format!(".replaced-{}", Id::new()));
    let swapped = swap_in(&scratch, data_dir, &aside);
    let _ = std::fs::remove_dir_all(&scratch);
    swapped?;
    sync_dir(data_dir);
    let _ = std::fs::remove_dir_all(&aside);
    Ok(manifest)
}

fn invalid(src: &Path, reason: impl Into<String>) -> Error {
    Error::BackupInvalid {
        path: src.display().to_string(),
        reason: reason.into(),
    }
}

fn read_manifest(src: &Path) -> Result<BackupManifest> {
    let text = std::fs::read(src.join(MANIFEST_FILE))
        .map_err(|err| invalid(src, format!("no readable {MANIFEST_FILE}: {err}")))?;
    let manifest: BackupManifest = serde_json::from_slice(&text).map_err(|err| {
        invalid(
            src,
            format!("{MANIFEST_FILE} is not a backup manifest: {err}"),
        )
    })?;
    if manifest.format != FORMAT || manifest.backend != "sqlite" {
        return Err(invalid(
            src,
            format!(
                "a {} backup of {}; this build restores {FORMAT} of sqlite",
                manifest.format, manifest.backend
            ),
        ));
    }
    if manifest.version != FORMAT_VERSION {
        return Err(invalid(
            src,
            format!(
                "format version {} (taken by sp {}); this build reads version {FORMAT_VERSION}",
                manifest.version, manifest.sp_version
            ),
        ));
    }
    Ok(manifest)
}

/// Copies the backup's database into `scratch` and checks it there: size and checksum,
/// integrity, row counts, then an open by this build (which migrates an older one forward
/// and refuses a newer one).
async fn assemble(src: &Path, manifest: &BackupManifest, scratch: &Path) -> Result<()> {
    let db = src.join(DATABASE_FILE);
    let (bytes, sha256) =
        checksum(&db).map_err(|err| invalid(src, format!("unreadable database: {err}")))?;
    if bytes != manifest.bytes {
        return Err(invalid(
            src,
            format!(
                "the database has {bytes} bytes, the manifest says {}: truncated or replaced",
                manifest.bytes
            ),
        ));
    }
    if sha256 != manifest.sha256 {
        return Err(invalid(
            src,
            "the database's SHA-256 differs from the manifest's: corrupt",
        ));
    }
    std::fs::create_dir_all(scratch)
        .and_then(|()| std::fs::copy(&db, scratch.join(DATABASE_FILE)).map(drop))
        .map_err(|err| Error::invalid_input("data_dir", format!("{}: {err}", scratch.display())))?;
    let copy = scratch.join(DATABASE_FILE);
    let pool = open_read_only(&copy).await?;
    let checked = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .map_err(|err| invalid(src, format!("integrity check: {err}")))?;
        if integrity != "ok" {
            return Err(invalid(src, format!("integrity check: {integrity}")));
        }
        let tables = table_rows(&pool).await?;
        if tables != manifest.tables {
            return Err(invalid(src, "row counts differ from the manifest's"));
        }
        Ok(())
    }
    .await;
    pool.close().await;
    checked?;
    let store = crate::SqliteStore::open(scratch).await?;
    store.pool().close().await;
    Ok(())
}

/// Moves the store in `data_dir` (the database and what is derived from it) into `aside`,
/// then the assembled one from `scratch` into its place.
fn swap_in(scratch: &Path, data_dir: &Path, aside: &Path) -> Result<()> {
    let moved = |from: PathBuf, to: PathBuf| -> Result<()> {
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|err| {
                Error::internal(format!("{} → {}: {err}", from.display(), to.display()))
            })?;
        }
        Ok(())
    };
    std::fs::create_dir_all(aside)
        .map_err(|err| Error::internal(format!("{}: {err}", aside.display())))?;
    moved(data_dir.join(DATABASE_FILE), aside.join(DATABASE_FILE))?;
    for suffix in BESIDE_DATABASE {
        let name = format!("{DATABASE_FILE}{suffix}");
        moved(data_dir.join(&name), aside.join(&name))?;
    }
    // The assembled database and its own WAL, if closing left one.
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("{DATABASE_FILE}{suffix}");
        moved(scratch.join(&name), data_dir.join(&name))?;
    }
    Ok(())
}
