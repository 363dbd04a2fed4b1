//! `sp export` and `sp import`: the whole store as versioned JSON Lines, between the embedded
//! store and PostgreSQL in either direction (docs/operations.md, "Moving a store").

use sp_core::{Config, Error, Result};
use sp_data::{Database, ServeLock, TransferSummary};

use crate::cli::TransferArgs;

/// The configured store: PostgreSQL when `database.url` is set, the embedded one otherwise;
/// migrated.
async fn open(config: &Config) -> Result<Database> {
    let location = match &config.database.url {
        Some(url) => url.clone(),
        None => config.data_dir.display().to_string(),
    };
    let database = Database::open(&location, Some(&config.database.schema)).await?;
    database.migrate().await?;
    Ok(database)
}

/// Runs `sp export`; returns the lines to print. Servers may keep running: the export reads
/// one consistent snapshot.
pub async fn export(config: &Config, args: &TransferArgs) -> Result<Vec<String>> {
    let database = open(config).await?;
    let summary = sp_data::export_store(&database, &args.file).await?;
    report(
        &summary,
        args.json,
        &format!("exported to {}", args.file.display()),
    )
}

/// Runs `sp import`; returns the lines to print. The target must hold no data yet; no server
/// may run on an embedded target (its serve lock is taken).
pub async fn import(config: &Config, args: &TransferArgs) -> Result<Vec<String>> {
    let _lock = match config.database.url {
        None => Some(ServeLock::acquire(&config.data_dir)?),
        Some(_) => None,
    };
    let database = open(config).await?;
    let summary = sp_data::import_store(&database, &args.file).await?;
    let into = match &config.database.url {
        Some(_) => format!("PostgreSQL schema `{}`", config.database.schema),
        None => config.data_dir.display().to_string(),
    };
    report(&summary, args.json, &format!("imported into {into}"))
}

fn report(summary: &TransferSummary, json: bool, done: &str) -> Result<Vec<String>> {
    if json {
        return Ok(vec![
            serde_json::to_string_pretty(summary).map_err(Error::internal)?,
        ]);
    }
    let count = |table: &str| summary.rows.get(table).copied().unwrap_or(0);
    Ok(vec![format!(
        "{done}: {} rows — {} documents, {} sections, {} contexts, {} messages, {} events, {} keys, \
         {} workflow runs, {} agent runs",
        summary.total(),
        count("kb_documents"),
        count("kb_sections"),
        count("ctx_contexts"),
        count("ctx_messages"),
        count("events"),
        count("auth_keys"),
        count("workflow_runs"),
        count("agent_runs"),
    )])
}
