//! Tenants in process memory.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{Tenant, TenantId, TenantQuotas, TenantStore, tenant_not_found};
use crate::Timestamp;
use crate::error::{Error, Result};

/// A [`TenantStore`] in a map, holding the default tenant from the start.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::tenants::{MemoryTenantStore, TenantStore};
///
/// let store = MemoryTenantStore::default();
/// assert_eq!(store.list().await?.len(), 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryTenantStore {
    tenants: Mutex<BTreeMap<TenantId, Tenant>>,
}

impl Default for MemoryTenantStore {
    fn default() -> Self {
        let default = Tenant {
            id: TenantId::default(),
            name: "Default".into(),
            created_at: Timestamp::now(),
            quotas: TenantQuotas::default(),
        };
        MemoryTenantStore {
            tenants: Mutex::new(BTreeMap::from([(default.id.clone(), default)])),
        }
    }
}

#[async_trait]
impl TenantStore for MemoryTenantStore {
    async fn insert(&self, tenant: &Tenant) -> Result<()> {
        let mut tenants = self.tenants.lock().await;
        if tenants.contains_key(&tenant.id) {
            return Err(Error::Conflict(format!("tenant `{}` exists", tenant.id)));
        }
        tenants.insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn find(&self, id: &TenantId) -> Result<Option<Tenant>> {
        Ok(self.tenants.lock().await.get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<Tenant>> {
        Ok(self.tenants.lock().await.values().cloned().collect())
    }

    async fn set_quotas(&self, id: &TenantId, quotas: &TenantQuotas) -> Result<Tenant> {
        let mut tenants = self.tenants.lock().await;
        let tenant = tenants.get_mut(id).ok_or_else(|| tenant_not_found(id))?;
        tenant.quotas = quotas.clone();
        Ok(tenant.clone())
    }
}
