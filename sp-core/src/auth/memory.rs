//! The auth stores in process memory: for tests, examples and embedders that keep nothing on
//! disk. Each behaves as the SQL stores do (the shared suites in `sp-data/tests` run on them).

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::audit::{AuditEntry, AuditFilter, AuditStore};
use super::keys::{ApiKey, KeyStore};
use super::refresh::{RefreshRecord, RefreshStore};
use crate::Id;
use crate::error::{Error, Result};
use crate::page::{Page, PageRequest};
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

    async fn rotate(
        &self,
        id: &str,
        token_hash: &str,
        previous_until: Timestamp,
    ) -> Result<ApiKey> {
        let mut keys = self.keys.lock().await;
        let (key, hash) = keys.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: crate::Resource::Key,
            id: id.into(),
        })?;
        if key.revoked_at.is_some() {
            return Err(Error::Conflict(format!("key `{id}` is revoked")));
        }
        key.previous_token_hash = Some(std::mem::replace(hash, token_hash.to_owned()));
        key.previous_expires_at = Some(previous_until);
        key.rotated_at = Some(Timestamp::now());
        Ok(key.clone())
    }
}

/// An [`AuditStore`] in a list, gone with the process.
#[derive(Debug, Default)]
pub struct MemoryAuditStore {
    entries: std::sync::Mutex<Vec<AuditEntry>>,
}

#[async_trait]
impl AuditStore for MemoryAuditStore {
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.iter().any(|e| e.id == entry.id) {
            return Err(Error::Conflict(format!(
                "audit entry `{}` exists",
                entry.id
            )));
        }
        entries.push(entry.clone());
        Ok(())
    }

    async fn list(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEntry>> {
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let mut rows: Vec<AuditEntry> = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|e| filter.key_id.as_ref().is_none_or(|k| e.key_id == *k))
            .filter(|e| filter.tenant.as_ref().is_none_or(|t| e.tenant == *t))
            .filter(|e| after.is_none_or(|a| e.id < a))
            .cloned()
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse(e.id));
        rows.truncate(page.limit as usize + 1);
        Page::from_rows(rows, page.limit, |e| e.id)
    }

    async fn prune(&self, before: Timestamp) -> Result<u64> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was = entries.len();
        entries.retain(|e| e.at >= before);
        Ok((was - entries.len()) as u64)
    }
}

/// A [`RefreshStore`] in a map, gone with the process.
#[derive(Debug, Default)]
pub struct MemoryRefreshStore {
    records: std::sync::Mutex<HashMap<String, (RefreshRecord, String)>>,
}

impl MemoryRefreshStore {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, (RefreshRecord, String)>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn insert(&self, record: &RefreshRecord, token_hash: &str) -> Result<()> {
        let mut records = self.records();
        if records.contains_key(&record.id) {
            return Err(Error::Conflict(format!(
                "refresh token `{}` exists",
                record.id
            )));
        }
        records.insert(record.id.clone(), (record.clone(), token_hash.to_owned()));
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>> {
        Ok(self.records().get(id).cloned())
    }

    async fn mark_used(&self, id: &str) -> Result<bool> {
        // One lock: two exchanges of the same token cannot both see it unused.
        Ok(match self.records().get_mut(id) {
            Some((record, _)) if record.used_at.is_none() => {
                record.used_at = Some(Timestamp::now());
                true
            }
            _ => false,
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<()> {
        let now = Timestamp::now();
        for (record, _) in self.records().values_mut() {
            if record.family == family {
                record.revoked_at.get_or_insert(now);
            }
        }
        Ok(())
    }

    async fn prune(&self, before: Timestamp) -> Result<u64> {
        let mut records = self.records();
        let was = records.len();
        records.retain(|_, (record, _)| record.expires_at >= before);
        Ok((was - records.len()) as u64)
    }
}
