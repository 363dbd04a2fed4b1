//! What a workflow's model steps cost: reserved on the run's tenant's token quotas before the
//! model runs, settled on what it used, and metered as usage — a workflow is not a way around
//! the budgets a request is under (review finding M1).
//!
//! Runs outlive the requests that started them (they resume in any process, after restarts),
//! so a step is charged to its **tenant**, not to the key that started the run: the tenant's
//! token quotas and a usage row under the key id [`WORKFLOW_KEY_ID`]. Starting a run with a
//! model step needs the `inference` scope, as asking the model directly does.

use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::{RateLimiter, TokenBucket, TokenReservation};
use crate::chat::Usage;
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::tenants::TenantStore;
use crate::usage::{UsageCounts, UsageKey, UsageMeter};

/// The key id workflow model steps are metered under (`GET /v1/usage?key_id=workflows`).
pub const WORKFLOW_KEY_ID: &str = "workflows";

/// The key a run's model calls are charged to besides its tenant: the key that started it,
/// with the token limit it had then (its own, or `auth.default_token_limit`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChargeKey {
    /// The key's id (usage rows are metered under it).
    pub key_id: String,
    /// Its token budget, e.g. `200000/day`; none: only the tenant's quotas apply.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub token_limit: Option<crate::auth::Quota>,
}

/// Charges model steps before and after they run.
#[async_trait]
pub trait ModelStepCharger: Send + Sync {
    /// Before a model step of a run in `namespace` that may generate `max_tokens`: an error
    /// (`SP-AUTH-003` while a quota cannot hold it) fails this attempt of the step, which is
    /// retried as any step is.
    async fn reserve(
        &self,
        namespace: &Namespace,
        max_tokens: u32,
    ) -> Result<Box<dyn ModelStepCharge>>;

    /// [`reserve`](Self::reserve) charged also to `key` (its token budget, and usage under
    /// its id) when one is given. The default charges the tenant only.
    async fn reserve_as(
        &self,
        namespace: &Namespace,
        key: Option<&ChargeKey>,
        max_tokens: u32,
    ) -> Result<Box<dyn ModelStepCharge>> {
        let _ = key;
        self.reserve(namespace, max_tokens).await
    }
}

/// One model step's charge, settled once.
#[async_trait]
pub trait ModelStepCharge: Send {
    /// After the step's model call: what it used, or `None` when it failed.
    async fn settle(self: Box<Self>, usage: Option<Usage>);
}

/// Charges model steps to their tenant's token quotas and usage.
///
/// ```
/// # async fn demo(tenants: std::sync::Arc<dyn sp_core::tenants::TenantStore>,
/// #               usage: std::sync::Arc<sp_core::usage::UsageMeter>) -> sp_core::Result<()> {
/// use sp_core::workflows::{ModelStepCharger, TenantCharger};
/// let limiter = std::sync::Arc::new(sp_core::auth::LocalRateLimiter::default());
/// let charger = TenantCharger::new(limiter, tenants, usage, "smollm2");
/// let namespace = sp_core::knowledge::Namespace::new("default")?;
/// let charge = charger.reserve(&namespace, 256).await?;
/// charge.settle(None).await; // the call failed: nothing used, the reservation goes back
/// # Ok(()) }
/// ```
pub struct TenantCharger {
    limiter: Arc<dyn RateLimiter>,
    tenants: Arc<dyn TenantStore>,
    usage: Arc<UsageMeter>,
    model: String,
}

impl TenantCharger {
    /// Charges on `limiter`'s buckets (the same the gateway's requests use), the quotas in
    /// `tenants`, usage to `usage`, under the model id `model`.
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        tenants: Arc<dyn TenantStore>,
        usage: Arc<UsageMeter>,
        model: impl Into<String>,
    ) -> Self {
        TenantCharger {
            limiter,
            tenants,
            usage,
            model: model.into(),
        }
    }
}

#[async_trait]
impl ModelStepCharger for TenantCharger {
    async fn reserve(
        &self,
        namespace: &Namespace,
        max_tokens: u32,
    ) -> Result<Box<dyn ModelStepCharge>> {
        self.reserve_as(namespace, None, max_tokens).await
    }

    async fn reserve_as(
        &self,
        namespace: &Namespace,
        charged: Option<&ChargeKey>,
        max_tokens: u32,
    ) -> Result<Box<dyn ModelStepCharge>> {
        let tenant = namespace.tenant();
        let key_id = charged.map_or(WORKFLOW_KEY_ID, |k| k.key_id.as_str());
        let key = UsageKey::today(tenant.clone(), key_id, self.model.clone());
        let quotas = self
            .tenants
            .find(&tenant)
            .await?
            .map(|t| t.quotas.token_limits)
            .unwrap_or_default();
        let mut buckets: Vec<TokenBucket> = quotas
            .iter()
            .map(|quota| TokenBucket::tenant(&tenant, *quota))
            .collect();
        if let Some(ChargeKey {
            key_id,
            token_limit: Some(quota),
        }) = charged
        {
            buckets.push(TokenBucket::key(key_id, *quota));
        }
        let reservation = match buckets.iter().map(|b| b.quota().count).min() {
            None => None,
            Some(smallest) => {
                // The prompt is not known before the step renders it: it is charged when the
                // step settles.
                let reserved = max_tokens.min(smallest);
                match TokenReservation::reserve(self.limiter.clone(), buckets, 0, reserved).await {
                    Ok(reservation) => Some(reservation),
                    Err(refused) => {
                        self.usage.record(key, UsageCounts::failed());
                        return Err(refused);
                    }
                }
            }
        };
        Ok(Box::new(StepCharge {
            reservation,
            usage: self.usage.clone(),
            key,
        }))
    }
}

struct StepCharge {
    reservation: Option<TokenReservation>,
    usage: Arc<UsageMeter>,
    key: UsageKey,
}

#[async_trait]
impl ModelStepCharge for StepCharge {
    async fn settle(self: Box<Self>, usage: Option<Usage>) {
        let counts = match usage {
            Some(used) => {
                let mut counts = UsageCounts::call(
                    u64::from(used.prompt_tokens),
                    u64::from(used.completion_tokens),
                    0,
                );
                counts.cached_tokens = u64::from(used.cached_tokens);
                counts
            }
            None => UsageCounts::failed(),
        };
        self.usage.record(self.key, counts);
        if let Some(reservation) = self.reservation {
            let used = usage.map_or(0, |u| u.prompt_tokens.saturating_add(u.completion_tokens));
            reservation.settle(used).await;
        }
    }
}
