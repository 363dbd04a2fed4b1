//! The `sp` subcommands that administer data without serving: migrations and keys.

use std::sync::Arc;
use std::time::Duration;

use sp_core::auth::{KeyStore, NewApiKey, Quota, Scope, create_key};
use sp_core::{Config, Result, Timestamp};
use sp_data::{Backends, Database};

use crate::cli::KeysCommand;

/// The key store of the configured database (migrated).
pub async fn key_store(backends: &Backends) -> Result<Arc<dyn KeyStore>> {
    backends.database.migrate().await?;
    Ok(backends.database.key_store())
}

/// Applies every migration of the configured database.
pub async fn migrate(config: &Config) -> Result<String> {
    let backends = Backends::open(config).await?;
    backends.database.migrate().await?;
    Ok(match &backends.database {
        // SQLite migrates when it is opened.
        Database::Embedded(_) => format!(
            "embedded store in {} is up to date",
            config.data_dir.display()
        ),
        #[allow(unreachable_patterns)] // `Database` is non-exhaustive
        _ => format!(
            "PostgreSQL schema `{}` is up to date",
            config.database.schema
        ),
    })
}

/// Runs `sp keys …`; returns the lines to print.
pub async fn keys(config: &Config, command: &KeysCommand) -> Result<Vec<String>> {
    let backends = Backends::open(config).await?;
    let store = key_store(&backends).await?;
    match command {
        KeysCommand::Create {
            name,
            scopes,
            rate_limit,
            token_limit,
            expires_in_days,
        } => {
            let expires_at = expires_in_days.map(|days| {
                let micros = Timestamp::now().unix_micros()
                    + Duration::from_secs(u64::from(days) * 86_400).as_micros() as i64;
                Timestamp::from_unix_micros(micros).unwrap_or_else(Timestamp::now)
            });
            let new = NewApiKey {
                name: name.clone(),
                scopes: Scope::parse_list(scopes)?,
                rate_limit: rate_limit.as_deref().map(str::parse::<Quota>).transpose()?,
                token_limit: token_limit
                    .as_deref()
                    .map(str::parse::<Quota>)
                    .transpose()?,
                expires_at,
            };
            let created = create_key(store.as_ref(), new).await?;
            let key = &created.key;
            Ok(vec![
                format!("created key {} ({})", key.id, key.name),
                format!("scopes: {}", scope_list(&key.scopes)),
                format!(
                    "rate limit: {}",
                    key.rate_limit.map_or_else(
                        || format!("{} (server default)", config.auth.default_rate_limit),
                        |q| q.to_string()
                    )
                ),
                format!(
                    "token budget: {}",
                    key.token_limit
                        .or(config.auth.default_token_limit)
                        .map_or_else(|| "none".to_owned(), |q| q.to_string())
                ),
                "the token is shown once, on the next line; store it now:".into(),
                created.token,
            ])
        }
        KeysCommand::List => {
            let keys = store.list().await?;
            let mut lines = vec!["id\tname\tscopes\trate limit\tcreated\tstatus".to_owned()];
            let now = Timestamp::now();
            for key in keys {
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else if key.expires_at.is_some_and(|t| t <= now) {
                    "expired"
                } else {
                    "active"
                };
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}\t{status}",
                    key.id,
                    key.name,
                    scope_list(&key.scopes),
                    key.rate_limit
                        .map_or_else(|| "default".to_owned(), |q| q.to_string()),
                    key.created_at,
                ));
            }
            Ok(lines)
        }
        KeysCommand::Revoke { id } => {
            let key = store.revoke(id).await?;
            Ok(vec![format!("revoked key {} ({})", key.id, key.name)])
        }
    }
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
