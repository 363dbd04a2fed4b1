//! The `sp` subcommands that administer data without serving: migrations, tenants and keys.

use std::sync::Arc;
use std::time::Duration;

use sp_core::auth::{KeyAdmin, KeyStore, NewApiKey, Quota, Scope};
use sp_core::events::Origin;
use sp_core::tenants::{NewTenant, StorageQuota, TenantQuotas};
use sp_core::{Config, Result, TenantId, Timestamp};
use sp_data::{Backends, Database};

use crate::cli::{KeysCommand, TenantsCommand};

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
    let admin = KeyAdmin::new(store.clone(), backends.database.tenant_store());
    match command {
        KeysCommand::Create {
            name,
            scopes,
            tenant,
            models,
            tools,
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
                tenant: TenantId::new(tenant.as_str())?,
                scopes: Scope::parse_list(scopes)?,
                models: models.as_deref().map(comma_list),
                tools: tools.as_deref().map(comma_list),
                rate_limit: rate_limit.as_deref().map(str::parse::<Quota>).transpose()?,
                token_limit: token_limit
                    .as_deref()
                    .map(str::parse::<Quota>)
                    .transpose()?,
                expires_at,
            };
            let created = admin.create(new, &Origin::default()).await?;
            let key = &created.key;
            Ok(vec![
                format!(
                    "created key {} ({}) of tenant {}",
                    key.id, key.name, key.tenant
                ),
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
            let mut lines =
                vec!["id\ttenant\tname\tscopes\trate limit\tcreated\tstatus".to_owned()];
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
                    "{}\t{}\t{}\t{}\t{}\t{}\t{status}",
                    key.id,
                    key.tenant,
                    key.name,
                    scope_list(&key.scopes),
                    key.rate_limit
                        .map_or_else(|| "default".to_owned(), |q| q.to_string()),
                    key.created_at,
                ));
            }
            Ok(lines)
        }
        KeysCommand::Rotate { id, grace_secs } => {
            let grace = Duration::from_secs(*grace_secs);
            let rotated = admin.rotate(id, grace, &Origin::default()).await?;
            let until = rotated
                .key
                .previous_expires_at
                .map_or_else(|| "now".to_owned(), |t| t.to_string());
            Ok(vec![
                format!("rotated key {} ({})", rotated.key.id, rotated.key.name),
                format!("the old token works until {until}"),
                "the new token is shown once, on the next line; store it now:".into(),
                rotated.token,
            ])
        }
        KeysCommand::Revoke { id } => {
            let key = store.revoke(id).await?;
            Ok(vec![format!("revoked key {} ({})", key.id, key.name)])
        }
    }
}

/// Runs `sp tenants …`; returns the lines to print.
pub async fn tenants(config: &Config, command: &TenantsCommand) -> Result<Vec<String>> {
    let backends = Backends::open(config).await?;
    let keys = key_store(&backends).await?;
    let admin = KeyAdmin::new(keys, backends.database.tenant_store());
    match command {
        TenantsCommand::Create { id, name, quotas } => {
            let new = NewTenant {
                id: TenantId::new(id.as_str())?,
                name: name.clone(),
                quotas: quotas.parse()?,
            };
            let tenant = admin.create_tenant(new, &Origin::default()).await?;
            Ok(vec![format!(
                "created tenant {} ({}); its namespaces are {}.<name>",
                tenant.id, tenant.name, tenant.id
            )])
        }
        TenantsCommand::List => {
            let mut lines = vec!["id\tname\tcreated\trate_limit\ttoken_limits\tstorage".to_owned()];
            for tenant in admin.tenants().await? {
                let (rate, tokens) = shown_quotas(&tenant.quotas);
                let storage = shown_storage(&tenant.quotas.storage);
                lines.push(format!(
                    "{}\t{}\t{}\t{rate}\t{tokens}\t{storage}",
                    tenant.id, tenant.name, tenant.created_at
                ));
            }
            Ok(lines)
        }
        TenantsCommand::Quotas { id, quotas } => {
            let id = TenantId::new(id.as_str())?;
            let tenant = admin
                .set_tenant_quotas(&id, quotas.parse()?, &Origin::default())
                .await?;
            let (rate, tokens) = shown_quotas(&tenant.quotas);
            let storage = shown_storage(&tenant.quotas.storage);
            Ok(vec![format!(
                "tenant {}: rate limit {rate}, token limits {tokens}, storage {storage}",
                tenant.id
            )])
        }
    }
}

/// A tenant's quotas as `sp tenants` prints them (`-` for none).
fn shown_quotas(quotas: &TenantQuotas) -> (String, String) {
    let rate = quotas
        .rate_limit
        .map_or_else(|| "-".to_owned(), |q| q.to_string());
    let tokens = if quotas.token_limits.is_empty() {
        "-".to_owned()
    } else {
        quotas
            .token_limits
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    (rate, tokens)
}

/// A storage quota as `sp tenants` prints it: `sections/bytes`, `-` for none of either.
fn shown_storage(quota: &StorageQuota) -> String {
    let bound = |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| b.to_string());
    format!(
        "{} sections/{} bytes",
        bound(quota.max_sections),
        bound(quota.max_bytes)
    )
}

impl crate::cli::QuotaArgs {
    /// The quotas the flags give.
    fn parse(&self) -> Result<TenantQuotas> {
        let quotas = TenantQuotas {
            rate_limit: self.rate_limit.as_deref().map(str::parse).transpose()?,
            token_limits: self
                .token_limit
                .iter()
                .map(|q| q.parse())
                .collect::<Result<Vec<_>>>()?,
            storage: StorageQuota {
                max_sections: self.max_sections,
                max_bytes: self.max_bytes,
            },
        };
        quotas.validate()?;
        Ok(quotas)
    }
}

fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
