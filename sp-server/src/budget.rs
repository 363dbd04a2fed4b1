//! Budgets of generated tokens per key: checked before a generation starts (a key in debt
//! waits), charged with what was generated once it ends (so the last request may overdraw).

use std::sync::Arc;

use sp_core::auth::{Quota, RateLimiter};

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::state::AppState;

/// A key's token budget.
#[derive(Clone)]
pub struct TokenBudget {
    limiter: Arc<dyn RateLimiter>,
    key: String,
    quota: Quota,
}

impl TokenBudget {
    /// The caller's budget (its own, or `auth.default_token_limit`); `Ok(None)` when it has
    /// none; `429` when it is spent.
    pub async fn check(state: &AppState, caller: &Caller) -> Result<Option<TokenBudget>, ApiError> {
        let Some(quota) = caller
            .0
            .token_limit
            .or(state.config().auth.default_token_limit)
        else {
            return Ok(None);
        };
        let budget = TokenBudget {
            limiter: state.backends().rate_limiter.clone(),
            key: format!("tokens:{}", caller.0.key_id),
            quota,
        };
        let decision = budget.limiter.spend(&budget.key, &quota, 0, false).await;
        if !decision.allowed {
            metrics::counter!("sp_token_budget_refused_total").increment(1);
            return Err(decision.refusal().into());
        }
        Ok(Some(budget))
    }

    /// Charges `tokens` generated.
    pub async fn charge(&self, tokens: u32) {
        if tokens > 0 {
            self.limiter
                .spend(&self.key, &self.quota, tokens, true)
                .await;
        }
    }

    /// Charges from a stream's last event, without holding the stream up.
    pub fn charge_later(&self, tokens: u32) {
        let budget = self.clone();
        tokio::spawn(async move { budget.charge(tokens).await });
    }
}
