//! [`KeyAdmin`]: creating, listing and revoking API keys, with the platform events they cause.

use std::sync::Arc;

use serde_json::json;

use super::keys::{ApiKey, CreatedKey, KeyStore, NewApiKey, create_key, rotate_key};
use crate::error::Result;
use crate::events::{EventLog, Origin, Recorder, platform_event};
use crate::knowledge::Namespace;
use crate::tenants::{NewTenant, Tenant, TenantId, TenantQuotas, TenantStore, require_tenant};

/// Key administration over a [`KeyStore`]: a key is created only for a tenant the
/// [`TenantStore`] holds. Keys are the operator's business, so their events (`key.created`,
/// `key.revoked`, naming the key's tenant) and the tenants' go to the admins-only
/// [`Namespace::operator`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::auth::{KeyAdmin, NewApiKey};
/// use sp_core::events::Origin;
///
/// # let store = std::sync::Arc::new(sp_core::auth::MemoryKeyStore::default());
/// # let tenants = std::sync::Arc::new(sp_core::tenants::MemoryTenantStore::default());
/// let admin = KeyAdmin::new(store, tenants);
/// let new: NewApiKey =
///     serde_json::from_value(serde_json::json!({"name": "ci", "scopes": ["documents:read"]}))
///         .map_err(sp_core::Error::internal)?;
/// let created = admin.create(new, &Origin::default()).await?;
/// assert!(created.token.starts_with("sp_"));
/// let revoked = admin.revoke(&created.key.id, &Origin::default()).await?;
/// assert!(revoked.revoked_at.is_some());
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
pub struct KeyAdmin {
    store: Arc<dyn KeyStore>,
    tenants: Arc<dyn TenantStore>,
    events: Recorder,
}

impl KeyAdmin {
    /// Administration of the keys in `store`, for the tenants in `tenants`.
    pub fn new(store: Arc<dyn KeyStore>, tenants: Arc<dyn TenantStore>) -> Self {
        KeyAdmin {
            store,
            tenants,
            events: Recorder::default(),
        }
    }

    /// Records key creations and revocations in `log`.
    pub fn with_events(mut self, log: Arc<EventLog>) -> Self {
        self.events = Recorder::new(log);
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Creates a key and returns it with its token (shown once).
    pub async fn create(&self, new: NewApiKey, origin: &Origin) -> Result<CreatedKey> {
        new.validate()?;
        require_tenant(self.tenants.as_ref(), &new.tenant).await?;
        let created = create_key(self.store.as_ref(), new).await?;
        let key = &created.key;
        self.record(
            "key.created",
            key,
            json!({"id": key.id, "tenant": key.tenant, "scopes": key.scopes}),
            origin,
        )
        .await;
        Ok(created)
    }

    /// Every key, revoked ones included (never their secrets).
    pub async fn list(&self) -> Result<Vec<ApiKey>> {
        self.store.list().await
    }

    /// Revokes a key.
    pub async fn revoke(&self, id: &str, origin: &Origin) -> Result<ApiKey> {
        let key = self.store.revoke(id).await?;
        self.record(
            "key.revoked",
            &key,
            json!({"id": key.id, "tenant": key.tenant}),
            origin,
        )
        .await;
        Ok(key)
    }

    /// Gives a key a new secret (`key.rotated`); the old one keeps working for `grace`.
    pub async fn rotate(
        &self,
        id: &str,
        grace: std::time::Duration,
        origin: &Origin,
    ) -> Result<CreatedKey> {
        let rotated = rotate_key(self.store.as_ref(), id, grace).await?;
        let key = &rotated.key;
        let data = json!({"id": key.id, "tenant": key.tenant,
            "previous_expires_at": key.previous_expires_at});
        self.record("key.rotated", key, data, origin).await;
        Ok(rotated)
    }

    /// Creates a tenant (`tenant.created`); `Conflict` when its id is taken.
    pub async fn create_tenant(&self, new: NewTenant, origin: &Origin) -> Result<Tenant> {
        let tenant = new.into_tenant()?;
        self.tenants.insert(&tenant).await?;
        self.events
            .record(|| {
                let subject = format!("tenants/{}", tenant.id);
                let data = json!({"id": tenant.id, "name": tenant.name});
                platform_event(
                    &Namespace::operator(),
                    "tenants",
                    "tenant.created",
                    subject,
                    origin,
                    data,
                )
            })
            .await;
        Ok(tenant)
    }

    /// Replaces a tenant's quotas (`tenant.quotas_changed`); `NotFound` when absent.
    pub async fn set_tenant_quotas(
        &self,
        id: &TenantId,
        quotas: TenantQuotas,
        origin: &Origin,
    ) -> Result<Tenant> {
        quotas.validate()?;
        let tenant = self.tenants.set_quotas(id, &quotas).await?;
        self.events
            .record(|| {
                let subject = format!("tenants/{}", tenant.id);
                let data = json!({"id": tenant.id, "quotas": tenant.quotas});
                platform_event(
                    &Namespace::operator(),
                    "tenants",
                    "tenant.quotas_changed",
                    subject,
                    origin,
                    data,
                )
            })
            .await;
        Ok(tenant)
    }

    /// Every tenant, by id.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.tenants.list().await
    }

    /// One tenant, or `NotFound`.
    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        require_tenant(self.tenants.as_ref(), id).await
    }

    async fn record(&self, kind: &str, key: &ApiKey, data: serde_json::Value, origin: &Origin) {
        self.events
            .record(|| {
                let subject = format!("keys/{}", key.id);
                platform_event(&Namespace::operator(), "keys", kind, subject, origin, data)
            })
            .await;
    }
}
