//! Tenants: who owns namespaces, keys, audit entries and usage.
//!
//! A tenant is a team or customer sharing one deployment. Every key belongs to exactly one;
//! every namespace is one tenant's ([`Namespace::tenant`](crate::Namespace::tenant)), so a
//! request reaches only its key's tenant's data (admins cross explicitly, by naming another
//! tenant's namespace in full). The `default` tenant always exists: it owns the data stored
//! before tenants did, and the bootstrap admin key.

mod memory;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::MemoryTenantStore;

use crate::Timestamp;
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
}

impl NewTenant {
    /// The tenant it creates, now.
    ///
    /// ```
    /// use sp_core::tenants::NewTenant;
    ///
    /// let new = NewTenant { id: sp_core::TenantId::new("acme")?, name: None };
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
        Ok(Tenant {
            id: self.id,
            name,
            created_at: Timestamp::now(),
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
}

/// The tenant `id`, or `NotFound`.
pub async fn require_tenant(store: &dyn TenantStore, id: &TenantId) -> Result<Tenant> {
    store.find(id).await?.ok_or_else(|| tenant_not_found(id))
}
