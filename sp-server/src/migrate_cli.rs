//! `sp migrate`: apply the pending migrations, list them (`status`), or say what would be
//! applied (`--dry-run`). A database whose applied migrations differ from this build's is
//! never migrated: the status is printed and the command fails with `SP-CFG-002`.

use sp_core::{Config, Result};
use sp_data::{Backends, MigrationInfo, MigrationStatus};

use crate::cli::{MigrateArgs, MigrateCommand};

/// What `sp migrate` prints (stdout), and the error that fails it after printing, if any.
pub struct MigrateOutcome {
    /// Lines for stdout.
    pub lines: Vec<String>,
    /// Drift (or a failure to migrate): printed on stderr, and the exit status.
    pub error: Option<sp_core::Error>,
}

/// Runs `sp migrate` as `args` say.
pub async fn migrate(config: &Config, args: &MigrateArgs) -> Result<MigrateOutcome> {
    let status = Backends::migration_status(config).await?;
    let drift = status.check().err();
    let report = |status: &MigrationStatus| -> Result<Vec<String>> {
        if args.json {
            Ok(vec![
                serde_json::to_string_pretty(status).map_err(sp_core::Error::internal)?,
            ])
        } else {
            Ok(describe(status))
        }
    };
    if matches!(args.command, Some(MigrateCommand::Status)) || drift.is_some() {
        return Ok(MigrateOutcome {
            lines: report(&status)?,
            error: drift,
        });
    }
    if args.dry_run {
        let mut lines = report(&status)?;
        if !args.json {
            lines.push(match status.pending.len() {
                0 => "dry run: nothing to apply".to_owned(),
                n => format!("dry run: would apply {n} migration(s); nothing was applied"),
            });
        }
        return Ok(MigrateOutcome { lines, error: None });
    }
    let line = crate::admin::migrate(config).await?;
    let after = Backends::migration_status(config).await?;
    let mut lines = if args.json {
        report(&after)?
    } else {
        vec![line]
    };
    if !args.json && !status.pending.is_empty() {
        lines.push(format!("applied {} migration(s)", status.pending.len()));
    }
    Ok(MigrateOutcome { lines, error: None })
}

/// The status as a table: a summary line, then one line per migration that is not plainly
/// applied (all of them with none applied yet would be noise: they are counted).
fn describe(status: &MigrationStatus) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {}: {} applied, {} pending, {} changed since applied, {} unknown to this build, {} failed",
        status.backend,
        status.location,
        status.applied.len(),
        status.pending.len(),
        status.drifted.len(),
        status.unknown.len(),
        status.failed.len(),
    )];
    let rows = |label: &str, infos: &[MigrationInfo], lines: &mut Vec<String>| {
        for info in infos {
            lines.push(format!(
                "  {label:<8} {:04}  {}",
                info.version, info.description
            ));
        }
    };
    rows("pending", &status.pending, &mut lines);
    rows("CHANGED", &status.drifted, &mut lines);
    rows("UNKNOWN", &status.unknown, &mut lines);
    rows("FAILED", &status.failed, &mut lines);
    if let Some(last) = status.applied.last() {
        lines.push(format!(
            "  latest applied: {:04}  {}",
            last.version, last.description
        ));
    }
    lines
}
