//! Tenants: who owns namespaces, keys, audit entries and usage.
//!
//! A tenant is a team or customer sharing one deployment. Every key belongs to exactly one;
//! every namespace is one tenant's ([`Namespace::tenant`](crate::Namespace::tenant)), so a
//! request reaches only its key's tenant's data (admins cross explicitly, by naming another
//! tenant's namespace in full). The `default` tenant always exists: it owns the data stored
//! before tenants did, and the bootstrap admin key.

mod memory;
mod storage;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::MemoryTenantStore;
pub use storage::{StorageDelta, StorageQuota, StorageUse};

use crate::Timestamp;
use crate::auth::Quota;
use crate::error::{Error, Result};
pub use crate::namespace::{DEFAULT_TENANT, TenantId};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    /// Its id: what its namespaces' full names start with (`acme.docs`).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: TenantId,
    /// Who it is, for people.
    pub name: String,
    /// When it was created (the default tenant: when the database was).
    pub created_at: Timestamp,
    /// What all its keys together may use (each key's own limits apply too).
    #[serde(default)]
    pub quotas: TenantQuotas,
}

/// Most token quotas one tenant may have (one per period, say a minute and a day).
pub const MAX_TOKEN_LIMITS: usize = 4;

/// A tenant's own quotas, shared by all its keys (the bootstrap admin key is exempt, so a
/// quota can always be changed back).
///
/// ```
/// use sp_core::tenants::TenantQuotas;
///
/// let quotas: TenantQuotas = serde_json::from_value(serde_json::json!({
///     "rate_limit": "6000/min", "token_limits": ["100000/min", "2000000/day"]}))?;
/// quotas.validate()?;
/// assert_eq!(quotas.token_limits.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TenantQuotas {
    /// Requests of all its keys together, e.g. `6000/min` (none when absent).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "6000/min"))]
    pub rate_limit: Option<Quota>,
    /// Tokens (prompt + completion + embedding) of all its keys together, one quota per
    /// period, at most four, e.g. `["100000/min", "2000000/day"]`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub token_limits: Vec<Quota>,
    /// What its documents may take: sections and bytes, e.g. `{"max_sections": 100000}`.
    #[serde(default)]
    pub storage: StorageQuota,
}

impl TenantQuotas {
    /// Refuses more than [`MAX_TOKEN_LIMITS`] token quotas, two of one period, or a zero storage
    /// bound.
    pub fn validate(&self) -> Result<()> {
        self.storage.validate()?;
        if self.token_limits.len() > MAX_TOKEN_LIMITS {
            return Err(Error::invalid_input(
                "token_limits",
                format!("at most {MAX_TOKEN_LIMITS}"),
            ));
        }
        for (i, quota) in self.token_limits.iter().enumerate() {
            if self.token_limits[..i]
                .iter()
                .any(|q| q.period == quota.period)
            {
                return Err(Error::invalid_input(
                    "token_limits",
                    format!(
                        "two quotas per {}s: keep one per period",
                        quota.period.as_secs()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A tenant to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// 1-32 characters of `a-z 0-9 _ -`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: TenantId,
    /// 1-100 characters (the id when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// Its quotas (none when absent).
    #[serde(default)]
    pub quotas: TenantQuotas,
}

impl NewTenant {
    /// The tenant it creates, now.
    ///
    /// ```
    /// use sp_core::tenants::NewTenant;
    ///
    /// let new = NewTenant { id: sp_core::TenantId::new("acme")?, name: None, quotas: Default::default() };
    /// assert_eq!(new.into_tenant()?.name, "acme");
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn into_tenant(self) -> Result<Tenant> {
        let name = self
            .name
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| self.id.to_string());
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid_input("name", "must be 1-100 characters"));
        }
        self.quotas.validate()?;
        Ok(Tenant {
            id: self.id,
            name,
            created_at: Timestamp::now(),
            quotas: self.quotas,
        })
    }
}

fn tenant_not_found(id: &TenantId) -> Error {
    Error::NotFound {
        kind: crate::Resource::Tenant,
        id: id.to_string(),
    }
}

/// Where tenants live. Implemented on SQLite and PostgreSQL by `sp-data`, and in memory
/// ([`MemoryTenantStore`]). The default tenant is always there.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Stores a new tenant; `Conflict` when the id is taken.
    async fn insert(&self, tenant: &Tenant) -> Result<()>;
    /// A tenant by id.
    async fn find(&self, id: &TenantId) -> Result<Option<Tenant>>;
    /// Every tenant, by id.
    async fn list(&self) -> Result<Vec<Tenant>>;
    /// Replaces a tenant's quotas; `NotFound` when it does not exist.
    async fn set_quotas(&self, id: &TenantId, quotas: &TenantQuotas) -> Result<Tenant>;
}

/// The tenant `id`, or `NotFound`.
pub async fn require_tenant(store: &dyn TenantStore, id: &TenantId) -> Result<Tenant> {
    store.find(id).await?.ok_or_else(|| tenant_not_found(id))
}
