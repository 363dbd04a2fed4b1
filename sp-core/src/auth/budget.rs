//! Token budgets, **reserved before and settled after**: a model call reserves its maximum
//! cost on every budget it is under (a key's own, each of its tenant's token quotas), is
//! refused while one cannot hold it, and is settled on what it really used — unused tokens go
//! back, more is charged. Concurrent calls cannot overspend, and a call dropped midway (a
//! client that left) is settled on what it counted so far. Review finding M1.
//!
//! The gateway's requests and the platform's own model calls (workflow model steps) share
//! these buckets, so a tenant's quota holds however its tokens are spent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Quota, RateLimiter};
use crate::TenantId;
use crate::error::Result;

/// One budget a call is under: a rate-limiter key and its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    key: String,
    quota: Quota,
}

impl TokenBucket {
    /// A key's own token budget.
    pub fn key(key_id: &str, quota: Quota) -> Self {
        TokenBucket {
            key: format!("tokens:{key_id}"),
            quota,
        }
    }

    /// One of a tenant's token quotas (one per period), shared by all its keys and by the
    /// platform's calls on its behalf.
    pub fn tenant(tenant: &TenantId, quota: Quota) -> Self {
        TokenBucket {
            key: format!("tenant-tokens:{tenant}:{}", quota.period.as_secs()),
            quota,
        }
    }

    /// Its quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }
}

/// A reservation on some budgets, settled once: by [`TokenReservation::settle`], or when
/// dropped, on the prompt and the tokens [`TokenReservation::count`]ed so far.
///
/// ```
/// # async fn demo() -> sp_core::Result<()> {
/// use std::sync::Arc;
/// use sp_core::auth::{LocalRateLimiter, Quota, TokenBucket, TokenReservation};
///
/// let limiter = Arc::new(LocalRateLimiter::default());
/// let quota: Quota = "1000/day".parse()?;
/// let buckets = vec![TokenBucket::key("k1", quota)];
/// // A call of a 20-token prompt that may generate 200 reserves 220 …
/// let reservation = TokenReservation::reserve(limiter, buckets, 20, 220).await?;
/// // … and settles on the 70 it used: 150 go back.
/// reservation.settle(70).await;
/// # Ok(()) }
/// ```
pub struct TokenReservation {
    limiter: Arc<dyn RateLimiter>,
    buckets: Vec<TokenBucket>,
    prompt: u32,
    reserved: u32,
    used: AtomicU32,
    open: bool,
}

impl TokenReservation {
    /// Reserves `reserved` tokens on every bucket, all or none: `SP-AUTH-003` (with its retry
    /// time) while one cannot hold them, what the ones before it took given back. `prompt` is
    /// what a drop settles on besides the counted tokens.
    pub async fn reserve(
        limiter: Arc<dyn RateLimiter>,
        buckets: Vec<TokenBucket>,
        prompt: u32,
        reserved: u32,
    ) -> Result<Self> {
        for (taken, bucket) in buckets.iter().enumerate() {
            let decision = limiter
                .spend(&bucket.key, &bucket.quota, reserved, false)
                .await;
            if !decision.allowed {
                for before in &buckets[..taken] {
                    limiter.refund(&before.key, &before.quota, reserved).await;
                }
                return Err(decision.refusal());
            }
        }
        Ok(TokenReservation {
            limiter,
            buckets,
            prompt,
            reserved,
            used: AtomicU32::new(0),
            open: true,
        })
    }

    /// Counts `tokens` used so far (what a drop settles on, with the prompt).
    pub fn count(&self, tokens: u32) {
        self.used.fetch_add(tokens, Ordering::Relaxed);
    }

    /// Settles on `used` tokens (prompt and completion): the unused part goes back; more than
    /// reserved is charged.
    pub async fn settle(mut self, used: u32) {
        self.open = false;
        let buckets = std::mem::take(&mut self.buckets);
        settle(self.limiter.clone(), buckets, self.reserved, used).await;
    }
}

impl Drop for TokenReservation {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let used = self
            .used
            .load(Ordering::Relaxed)
            .saturating_add(self.prompt);
        let (limiter, buckets) = (self.limiter.clone(), std::mem::take(&mut self.buckets));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(settle(limiter, buckets, self.reserved, used));
        }
    }
}

async fn settle(
    limiter: Arc<dyn RateLimiter>,
    buckets: Vec<TokenBucket>,
    reserved: u32,
    used: u32,
) {
    for bucket in &buckets {
        if used < reserved {
            limiter
                .refund(&bucket.key, &bucket.quota, reserved - used)
                .await;
        } else if used > reserved {
            limiter
                .spend(&bucket.key, &bucket.quota, used - reserved, true)
                .await;
        }
    }
}
