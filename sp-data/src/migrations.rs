//! Migration status: which of this build's migrations a database has applied, which are
//! pending, and which differ — a migration changed after it was applied (its checksum
//! drifted) or one the database has that this build lacks (a newer `sp` wrote it). A store
//! with either is refused at open with `SP-CFG-002`, before anything is migrated.

use serde::Serialize;
use sp_core::{Error, Result};
use sqlx::migrate::Migrator;

/// One migration, by version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationInfo {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of its file name).
    pub description: String,
}

/// A database's migrations against this build's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Where: the database file, or the PostgreSQL schema.
    pub location: String,
    /// Applied, and the same as this build's.
    pub applied: Vec<MigrationInfo>,
    /// In this build, not applied yet (applied by `sp migrate` or at the server's start).
    pub pending: Vec<MigrationInfo>,
    /// Applied, but changed in this build since (checksums differ).
    pub drifted: Vec<MigrationInfo>,
    /// Applied, but not in this build (the database is newer than this `sp`).
    pub unknown: Vec<MigrationInfo>,
    /// Applied but left failed (a migration that broke off; PostgreSQL only).
    pub failed: Vec<MigrationInfo>,
}

/// A row of sqlx's `_sqlx_migrations` table.
pub(crate) struct AppliedRow {
    pub version: i64,
    pub description: String,
    pub checksum: Vec<u8>,
    pub success: bool,
}

impl MigrationStatus {
    /// Compares `applied` (the database's table) with `migrator` (this build's).
    pub(crate) fn compare(
        backend: &'static str,
        location: String,
        migrator: &Migrator,
        applied: Vec<AppliedRow>,
    ) -> Self {
        let mut status = MigrationStatus {
            backend,
            location,
            applied: Vec::new(),
            pending: Vec::new(),
            drifted: Vec::new(),
            unknown: Vec::new(),
            failed: Vec::new(),
        };
        for migration in migrator.iter() {
            let info = MigrationInfo {
                version: migration.version,
                description: migration.description.to_string(),
            };
            match applied.iter().find(|row| row.version == migration.version) {
                None => status.pending.push(info),
                Some(row) if !row.success => status.failed.push(info),
                Some(row) if row.checksum != migration.checksum.as_ref() => {
                    status.drifted.push(info)
                }
                Some(_) => status.applied.push(info),
            }
        }
        for row in applied {
            if !migrator.iter().any(|m| m.version == row.version) {
                status.unknown.push(MigrationInfo {
                    version: row.version,
                    description: row.description,
                });
            }
        }
        status
    }

    /// `SP-CFG-002` when a migration drifted, failed or is unknown to this build: nothing
    /// may run on such a database.
    pub fn check(&self) -> Result<()> {
        let list = |what: &str, infos: &[MigrationInfo]| {
            (!infos.is_empty()).then(|| {
                let versions: Vec<String> = infos
                    .iter()
                    .map(|m| format!("{} ({})", m.version, m.description))
                    .collect();
                format!("{what}: {}", versions.join(", "))
            })
        };
        let problems: Vec<String> = [
            list("changed since applied", &self.drifted),
            list("unknown to this build", &self.unknown),
            list("failed", &self.failed),
        ]
        .into_iter()
        .flatten()
        .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::MigrationDrift {
            backend: self.backend.into(),
            detail: format!("{} ({})", problems.join("; "), self.location),
        })
    }

    /// Whether nothing is pending and nothing differs.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.check().is_ok()
    }
}

/// The rows of `_sqlx_migrations` on `executor` (either backend); none when `table_exists`
/// (a `query_scalar` answering whether our table exists) says it does not yet.
macro_rules! applied_rows {
    ($executor:expr, $table_exists:expr) => {{
        let exists: bool = $table_exists
            .fetch_one($executor)
            .await
            .map_err(|err| $crate::error::sqlx_error("migrations", err))?;
        if exists {
            let rows: Vec<(i64, String, Vec<u8>, bool)> = sqlx::query_as(
                "SELECT version, description, checksum, success FROM _sqlx_migrations \
                 ORDER BY version",
            )
            .fetch_all($executor)
            .await
            .map_err(|err| $crate::error::sqlx_error("migrations", err))?;
            rows.into_iter()
                .map(
                    |(version, description, checksum, success)| $crate::migrations::AppliedRow {
                        version,
                        description,
                        checksum,
                        success,
                    },
                )
                .collect()
        } else {
            Vec::new()
        }
    }};
}
pub(crate) use applied_rows;
