//! `sp backup` and `sp restore` of the embedded store (PostgreSQL is backed up with its own
//! tools: docs/operations.md#postgresql).

use sp_core::{Config, Error, Result};
use sp_data::BackupManifest;

use crate::cli::{BackupArgs, RestoreArgs};

/// Runs `sp backup`; returns the lines to print.
pub async fn backup(config: &Config, args: &BackupArgs) -> Result<Vec<String>> {
    embedded_only(config, "backup")?;
    let manifest = sp_data::backup_embedded(&config.data_dir, &args.dest).await?;
    let mut lines = report(&manifest, args.json, "backed up")?;
    if args.verify {
        let checked = sp_data::verify_backup(&args.dest).await?;
        if checked != manifest {
            return Err(Error::internal(
                "the backup's manifest changed while it was verified",
            ));
        }
        if !args.json {
            lines.push(format!(
                "verified: restored into a scratch folder, checksum, integrity and {} tables' row counts equal",
                checked.tables.len()
            ));
        }
    }
    Ok(lines)
}

/// Runs `sp restore`; returns the lines to print.
pub async fn restore(config: &Config, args: &RestoreArgs) -> Result<Vec<String>> {
    embedded_only(config, "restore")?;
    if args.check {
        let manifest = sp_data::verify_backup(&args.src).await?;
        return report(&manifest, args.json, "checked (nothing restored)");
    }
    let manifest = sp_data::restore_embedded(&args.src, &config.data_dir, args.force).await?;
    let mut lines = report(&manifest, args.json, "restored")?;
    if !args.json {
        lines.push(format!("into {}", config.data_dir.display()));
    }
    Ok(lines)
}

fn embedded_only(config: &Config, what: &str) -> Result<()> {
    if config.database.url.is_some() {
        return Err(Error::invalid_input(
            "database.url",
            format!(
                "`sp {what}` covers the embedded store; back PostgreSQL up with its own tools \
                 (pg_basebackup and WAL archiving, docs/operations.md#postgresql)"
            ),
        ));
    }
    Ok(())
}

fn report(manifest: &BackupManifest, json: bool, done: &str) -> Result<Vec<String>> {
    if json {
        return Ok(vec![
            serde_json::to_string_pretty(manifest).map_err(Error::internal)?,
        ]);
    }
    let documents = manifest.tables.get("kb_documents").copied().unwrap_or(0);
    Ok(vec![format!(
        "{done}: {} documents, {} rows in {} tables, {} bytes, sha256 {}, taken {} by sp {}",
        documents,
        manifest.rows(),
        manifest.tables.len(),
        manifest.bytes,
        manifest.sha256,
        manifest.taken_at,
        manifest.sp_version
    )])
}
