use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::auth::MemoryRefreshStore;

/// A store where a concurrent reuse's revocation lands right after `mark_used`, before the
/// successor is inserted: the interleaving of review finding L1, made certain.
#[derive(Default)]
struct RacingStore(MemoryRefreshStore, std::sync::Mutex<Vec<String>>);

#[async_trait]
impl RefreshStore for RacingStore {
    async fn insert(&self, record: &RefreshRecord, token_hash: &str) -> Result<()> {
        self.1.lock().unwrap().push(record.id.clone());
        self.0.insert(record, token_hash).await
    }
    async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>> {
        self.0.find(id).await
    }
    async fn mark_used(&self, id: &str) -> Result<bool> {
        let marked = self.0.mark_used(id).await?;
        if let Some((record, _)) = self.0.find(id).await? {
            self.0.revoke_family(&record.family).await?;
        }
        Ok(marked)
    }
    async fn revoke_family(&self, family: &str) -> Result<()> {
        self.0.revoke_family(family).await
    }
    async fn prune(&self, before: Timestamp) -> Result<u64> {
        self.0.prune(before).await
    }
}

#[tokio::test]
async fn a_reuse_revoking_the_family_mid_rotation_leaves_no_live_successor() {
    let store = RacingStore::default();
    let ttl = Duration::from_secs(600);
    let (_, token) = issue_refresh(&store, "k1", None, &[], ttl).await.unwrap();
    let rotation = rotate_refresh(&store, &token, ttl).await.unwrap();
    assert!(
        matches!(rotation, Rotation::ReuseDetected),
        "the rotation lost the race: {rotation:?}"
    );
    // Whatever successor was stored is revoked with its family.
    let ids = store.1.lock().unwrap().clone();
    let mut family = Vec::new();
    for id in ids {
        family.push(store.0.find(&id).await.unwrap().unwrap().0);
    }
    assert!(family.len() >= 2, "the successor was stored: {family:?}");
    assert!(family.iter().all(|r| r.revoked_at.is_some()), "{family:?}");
}
