//! Budgets of generated tokens per key, **reserved before and settled after**: a generation
//! reserves its maximum before it starts (refused while the budget cannot hold it), and is
//! settled on what it really generated — unused tokens go back. Concurrent requests cannot
//! overspend, and a client that leaves mid-stream is charged for what was generated up to
//! then (the reservation is settled when the stream is dropped). Review finding M1.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sp_core::auth::{Quota, RateLimiter};
use sp_core::{Error, Tokenizer as _};

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::state::AppState;

/// What a generation may cost at most.
#[derive(Debug, Clone, Copy)]
pub struct MaxCost {
    /// The request's `max_tokens`, when it set one.
    pub max_tokens: Option<u32>,
    /// What it generates without one: the room left in the window, at most this.
    pub window: u32,
    /// How many replies it asks for.
    pub choices: u32,
}

/// A reservation on a key's budget, settled once: by [`Reservation::settle`], or when
/// dropped (a stream whose client left), on the tokens [`Reservation::counted`] so far.
pub struct Reservation {
    limiter: Arc<dyn RateLimiter>,
    key: String,
    quota: Quota,
    reserved: u32,
    used: Arc<AtomicU32>,
    open: bool,
}

impl Reservation {
    /// Reserves `cost` on the caller's budget (its own, or `auth.default_token_limit`):
    /// `Ok(None)` without a budget; `400` when an explicit `max_tokens` could never fit it;
    /// `429` while it cannot hold the reservation now.
    pub async fn reserve(
        state: &AppState,
        caller: &Caller,
        cost: MaxCost,
    ) -> Result<Option<Reservation>, ApiError> {
        let Some(quota) = caller
            .0
            .token_limit
            .or(state.config().auth.default_token_limit)
        else {
            return Ok(None);
        };
        let choices = cost.choices.max(1);
        if let Some(max) = cost.max_tokens
            && max.saturating_mul(choices) > quota.count
        {
            return Err(Error::invalid_input(
                "max_tokens",
                format!(
                    "{max} × {choices} replies is more than this key's whole token budget \
                     ({quota}); ask for at most {}",
                    quota.count / choices
                ),
            )
            .into());
        }
        // Without max_tokens the reply may take the window; more than the whole budget is
        // never reserved, and what it takes beyond is charged when it ends.
        let reserved = cost
            .max_tokens
            .unwrap_or(cost.window)
            .saturating_mul(choices)
            .min(quota.count);
        let limiter = state.backends().rate_limiter.clone();
        let key = format!("tokens:{}", caller.0.key_id);
        let decision = limiter.spend(&key, &quota, reserved, false).await;
        if !decision.allowed {
            metrics::counter!("sp_token_budget_refused_total").increment(1);
            return Err(decision.refusal().into());
        }
        Ok(Some(Reservation {
            limiter,
            key,
            quota,
            reserved,
            used: Arc::default(),
            open: true,
        }))
    }

    /// Counts `tokens` generated so far (what a drop settles on).
    pub fn count(&self, tokens: u32) {
        self.used.fetch_add(tokens, Ordering::Relaxed);
    }

    /// Settles on `used` tokens: the unused part goes back; more than reserved is charged.
    pub async fn settle(mut self, used: u32) {
        self.open = false;
        settle(
            self.limiter.clone(),
            self.key.clone(),
            self.quota,
            self.reserved,
            used,
        )
        .await;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let used = self.used.load(Ordering::Relaxed);
        let (limiter, key, quota, reserved) = (
            self.limiter.clone(),
            self.key.clone(),
            self.quota,
            self.reserved,
        );
        metrics::counter!("sp_token_budget_dropped_total").increment(1);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(settle(limiter, key, quota, reserved, used));
        }
    }
}

async fn settle(
    limiter: Arc<dyn RateLimiter>,
    key: String,
    quota: Quota,
    reserved: u32,
    used: u32,
) {
    if used < reserved {
        limiter.refund(&key, &quota, reserved - used).await;
    } else if used > reserved {
        limiter.spend(&key, &quota, used - reserved, true).await;
    }
}

/// Tokens in `text` by the served model's tokenizer (what a dropped stream is charged per
/// delta; at least one per non-empty delta).
pub fn tokens_in(state: &AppState, text: &str) -> u32 {
    let counted = state
        .engine()
        .and_then(|engine| engine.count_tokens(text).ok())
        .unwrap_or(0);
    u32::try_from(counted)
        .unwrap_or(u32::MAX)
        .max(u32::from(!text.is_empty()))
}
