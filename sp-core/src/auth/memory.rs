//! Keys in process memory: for tests, examples and embedders that keep no keys on disk.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::keys::{ApiKey, KeyStore};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// A [`KeyStore`] in a map, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::auth::{KeyStore, MemoryKeyStore};
///
/// let store = MemoryKeyStore::default();
/// assert!(store.find("nobody").await?.is_none());
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, (ApiKey, String)>>,
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()> {
        let mut keys = self.keys.lock().await;
        if keys.contains_key(&key.id) {
            return Err(Error::Conflict(format!("key `{}` exists", key.id)));
        }
        keys.insert(key.id.clone(), (key.clone(), token_hash.to_owned()));
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>> {
        Ok(self.keys.lock().await.get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<ApiKey>> {
        let mut keys: Vec<ApiKey> = self
            .keys
            .lock()
            .await
            .values()
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(keys)
    }

    async fn revoke(&self, id: &str) -> Result<ApiKey> {
        let mut keys = self.keys.lock().await;
        let (key, _) = keys.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: crate::Resource::Key,
            id: id.into(),
        })?;
        key.revoked_at.get_or_insert_with(Timestamp::now);
        Ok(key.clone())
    }
}
