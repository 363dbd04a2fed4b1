//! The embedded default: SQLite in the data directory, no server needed.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use sp_core::health::HealthCheck;
use sp_core::{Error, Result};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::sqlx_error;
use crate::migrations::{MigrationStatus, applied_rows};

/// Whether sqlx's migration table exists (SQLite).
const SQLITE_TABLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')";

/// The file name of the embedded database inside the data directory.
pub const DATABASE_FILE: &str = "sp.db";

/// This build's migrations of the embedded database.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded SQLite database, opened in WAL mode so readers never wait for the writer.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::health::HealthCheck;
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = sp_data::SqliteStore::open(dir.path()).await.unwrap();
/// store.check().await.unwrap();
/// assert!(dir.path().join("sp.db").exists());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

/// Creates `data_dir` when missing, readable by its owner only.
pub(crate) fn create_private_dir(data_dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(data_dir)
    }
}

/// Creates `data_dir` and the database file `path` in it when missing, readable by their
/// owner only (review finding L6: under a 022 umask both were readable by every local user;
/// SQLite gives the `-wal` and `-shm` files the database file's mode). What exists already
/// keeps its mode.
fn create_private(data_dir: &Path, path: &Path) -> std::io::Result<()> {
    create_private_dir(data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(err),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

impl SqliteStore {
    /// Opens (creating when missing, readable by its owner only) `data_dir/sp.db`.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(DATABASE_FILE);
        create_private(data_dir, &path).map_err(|err| Error::Config {
            key: "data_dir".into(),
            reason: format!("cannot create {}: {err}", data_dir.display()),
        })?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|err| sqlx_error("sqlite", err))?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a commit survives a crash of the process; only an OS crash or power
            // loss can drop the last transactions, never corrupt the file. FULL would fsync on
            // every commit and cap ingestion at the disk's flush rate.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A connection to a local file cannot go stale; the default ping before every
            // acquire was a round trip to the connection's worker thread per query.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|err| Error::unavailable("sqlite", format!("{}: {err}", path.display())))?;
        // A database changed under this build, or written by a newer one, is refused before
        // anything is migrated.
        let applied = applied_rows!(&pool, sqlx::query_scalar(SQLITE_TABLE_EXISTS));
        MigrationStatus::compare("sqlite", path.display().to_string(), &MIGRATOR, applied)
            .check()?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|err| Error::internal(format!("sqlite migrations: {err}")))?;
        Ok(SqliteStore { pool, path })
    }

    /// The migrations of `data_dir/sp.db` against this build's, read without migrating or
    /// creating anything (a missing database has every migration pending).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let before = sp_data::SqliteStore::migration_status(dir.path()).await.unwrap();
    /// assert!(before.applied.is_empty() && !before.pending.is_empty());
    /// sp_data::SqliteStore::open(dir.path()).await.unwrap();
    /// let after = sp_data::SqliteStore::migration_status(dir.path()).await.unwrap();
    /// assert!(after.is_current());
    /// # });
    /// ```
    pub async fn migration_status(data_dir: &Path) -> Result<MigrationStatus> {
        let path = data_dir.join(DATABASE_FILE);
        let location = path.display().to_string();
        if !path.exists() {
            return Ok(MigrationStatus::compare(
                "sqlite",
                location,
                &MIGRATOR,
                Vec::new(),
            ));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|err| sqlx_error("sqlite", err))?
            .filename(&path)
            .read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|err| Error::unavailable("sqlite", format!("{location}: {err}")))?;
        let applied = applied_rows!(&pool, sqlx::query_scalar(SQLITE_TABLE_EXISTS));
        pool.close().await;
        Ok(MigrationStatus::compare(
            "sqlite", location, &MIGRATOR, applied,
        ))
    }

    /// The connection pool, for the stores built on this database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where the database file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    fn name(&self) -> &str {
        "sqlite"
    }

    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|err| sqlx_error("sqlite", err))
    }
}
