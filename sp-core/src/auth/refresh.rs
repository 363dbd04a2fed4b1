//! Refresh tokens: opaque, single-use, rotated on every use, grouped in families so that a
//! reused token (a sign of theft) revokes every token descended from the same login.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::keys::{constant_time_eq, hash_token, random_hex};
use super::scope::Scope;
use crate::Timestamp;
use crate::error::Result;

/// A stored refresh token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// Public id, the token's second part.
    pub id: String,
    /// The API key the session was opened with.
    pub key_id: String,
    /// Every token rotated from one `/v1/auth/token` shares it.
    pub family: String,
    /// Scopes of the access tokens it mints.
    pub scopes: Vec<Scope>,
    /// Creation time.
    pub created_at: Timestamp,
    /// After this it is refused.
    pub expires_at: Timestamp,
    /// Set when it was exchanged; a second exchange is a reuse.
    pub used_at: Option<Timestamp>,
    /// Set when its family was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// Where refresh tokens live. Implemented on SQLite and PostgreSQL by `sp-data`.
#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Stores a record with the hash of its token.
    async fn insert(&self, record: &RefreshRecord, token_hash: &str) -> Result<()>;
    /// A record and its token hash.
    async fn find(&self, id: &str) -> Result<Option<(RefreshRecord, String)>>;
    /// Marks it used, atomically: false when it already was.
    async fn mark_used(&self, id: &str) -> Result<bool>;
    /// Revokes every token of a family.
    async fn revoke_family(&self, family: &str) -> Result<()>;
    /// Deletes the records that expired before `before` (they can never be exchanged again:
    /// a family's tokens expire together); returns how many went.
    async fn prune(&self, before: Timestamp) -> Result<u64>;
}

/// Deletes expired refresh tokens now and then every hour, for as long as the runtime runs
/// (review finding L7: one row per renewal, kept forever). The server starts it.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn sp_core::auth::RefreshStore>) {
/// let task = sp_core::auth::spawn_refresh_pruning(store);
/// # task.abort();
/// # }
/// ```
pub fn spawn_refresh_pruning(
    store: std::sync::Arc<dyn RefreshStore>,
) -> tokio::task::JoinHandle<()> {
    crate::retention::spawn_hourly(move || {
        let store = store.clone();
        async move {
            match store.prune(Timestamp::now()).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(gone, "expired refresh tokens deleted"),
                Err(err) => tracing::warn!(%err, "cannot delete expired refresh tokens"),
            }
        }
    })
}

/// What exchanging a refresh token gave.
#[derive(Debug, Clone)]
pub enum Rotation {
    /// A new refresh token (and its record) in the same family.
    Rotated {
        /// The new record.
        record: RefreshRecord,
        /// The new token, shown once.
        token: String,
    },
    /// The token had already been used: its whole family is now revoked.
    ReuseDetected,
    /// Unknown, malformed, expired or revoked.
    Invalid,
}

/// Issues a refresh token for `key_id` in `family` (a new family when `None`).
pub async fn issue_refresh(
    store: &dyn RefreshStore,
    key_id: &str,
    family: Option<&str>,
    scopes: &[Scope],
    ttl: Duration,
) -> Result<(RefreshRecord, String)> {
    let id = random_hex(8)?;
    let token = format!("spr_{id}_{}", random_hex(32)?);
    let now = Timestamp::now();
    let record = RefreshRecord {
        id,
        key_id: key_id.to_owned(),
        family: family.map_or_else(|| random_hex(8), |f| Ok(f.to_owned()))?,
        scopes: scopes.to_vec(),
        created_at: now,
        expires_at: Timestamp::from_unix_micros(now.unix_micros() + ttl.as_micros() as i64)
            .unwrap_or(now),
        used_at: None,
        revoked_at: None,
    };
    store.insert(&record, &hash_token(&token)).await?;
    Ok((record, token))
}

/// Ends the session `token` belongs to (sign-out): every token of its family is revoked.
/// `false` when the token is unknown, malformed or not the stored one (nothing changes);
/// an already revoked or expired session is revoked again, harmlessly.
pub async fn revoke_session(store: &dyn RefreshStore, token: &str) -> Result<bool> {
    let Some(record) = presented(store, token).await? else {
        return Ok(false);
    };
    store.revoke_family(&record.family).await?;
    Ok(true)
}

/// The stored record of `token` when it is well-formed and its secret matches the stored
/// hash (compared in constant time); `None` otherwise. Says nothing of expiry or revocation.
async fn presented(store: &dyn RefreshStore, token: &str) -> Result<Option<RefreshRecord>> {
    let Some(id) = token
        .strip_prefix("spr_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
    else {
        return Ok(None);
    };
    let Some((record, stored_hash)) = store.find(id).await? else {
        return Ok(None);
    };
    Ok(constant_time_eq(hash_token(token).as_bytes(), stored_hash.as_bytes()).then_some(record))
}

/// Exchanges `token` for a new one in its family; a second exchange of the same token
/// revokes the family. The new token expires when the one it replaces did (or sooner, when
/// `ttl` is now shorter): renewing never extends a session, so it ends `ttl` after sign-in
/// however often it is renewed (an absolute session lifetime, review finding H3).
pub async fn rotate_refresh(
    store: &dyn RefreshStore,
    token: &str,
    ttl: Duration,
) -> Result<Rotation> {
    let Some(record) = presented(store, token).await? else {
        return Ok(Rotation::Invalid);
    };
    if record.revoked_at.is_some() || record.expires_at <= Timestamp::now() {
        return Ok(Rotation::Invalid);
    }
    if record.used_at.is_some() || !store.mark_used(&record.id).await? {
        store.revoke_family(&record.family).await?;
        return Ok(Rotation::ReuseDetected);
    }
    let left = record.expires_at.unix_micros() - Timestamp::now().unix_micros();
    let left = Duration::from_micros(u64::try_from(left).unwrap_or(0));
    let (next, token) = issue_refresh(
        store,
        &record.key_id,
        Some(&record.family),
        &record.scopes,
        left.min(ttl),
    )
    .await?;
    // A concurrent reuse of `token` may have revoked the family between `mark_used` and the
    // insert above, leaving the successor born unrevoked (review finding L1). Revoking is by
    // family, so checking after the insert closes the gap: a revocation after this check
    // covers the successor too.
    if store
        .find(&record.id)
        .await?
        .is_some_and(|(old, _)| old.revoked_at.is_some())
    {
        store.revoke_family(&record.family).await?;
        return Ok(Rotation::ReuseDetected);
    }
    Ok(Rotation::Rotated {
        record: next,
        token,
    })
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
