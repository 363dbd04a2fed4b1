//! A tenant store that remembers lookups for a moment, in front of any other.

use async_trait::async_trait;
use sp_core::Result;
use sp_core::tenants::{Tenant, TenantId, TenantQuotas, TenantStore};

/// A tenant store that remembers lookups for a moment, so applying a tenant's quotas to a
/// request does not cost a database round trip every time. A change through this store
/// applies at once; one made elsewhere (another process) within `ttl` (1 s in the server).
pub struct CachedTenantStore {
    inner: std::sync::Arc<dyn TenantStore>,
    found: moka::sync::Cache<TenantId, Option<Tenant>>,
}

impl std::fmt::Debug for CachedTenantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTenantStore").finish_non_exhaustive()
    }
}

impl CachedTenantStore {
    /// Remembers up to 10,000 lookups of `inner` for `ttl` each.
    pub fn new(inner: std::sync::Arc<dyn TenantStore>, ttl: std::time::Duration) -> Self {
        CachedTenantStore {
            inner,
            found: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }
}

#[async_trait]
impl TenantStore for CachedTenantStore {
    async fn insert(&self, tenant: &Tenant) -> Result<()> {
        self.inner.insert(tenant).await?;
        self.found.invalidate(&tenant.id);
        Ok(())
    }

    async fn find(&self, id: &TenantId) -> Result<Option<Tenant>> {
        if let Some(found) = self.found.get(id) {
            return Ok(found);
        }
        let found = self.inner.find(id).await?;
        self.found.insert(id.clone(), found.clone());
        Ok(found)
    }

    async fn list(&self) -> Result<Vec<Tenant>> {
        self.inner.list().await
    }

    async fn set_quotas(&self, id: &TenantId, quotas: &TenantQuotas) -> Result<Tenant> {
        let set = self.inner.set_quotas(id, quotas).await;
        self.found.invalidate(id);
        set
    }
}
