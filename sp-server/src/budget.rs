//! Token budgets, **reserved before and settled after**: a model call reserves its maximum
//! cost — its prompt plus the most it may generate — on every budget it is under (the key's
//! own and each of its tenant's token quotas), refused while one cannot hold it, and is settled
//! on what it really used: unused tokens go back. Concurrent requests cannot overspend, and a
//! client that leaves mid-stream is charged for what was generated up to then (the
//! reservation is settled when the stream is dropped). Review finding M1.

use sp_core::auth::{Quota, TokenBucket, TokenReservation};
use sp_core::{Error, Tokenizer as _};

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::state::AppState;

/// What a model call may cost at most.
#[derive(Debug, Clone, Copy)]
pub struct MaxCost {
    /// Tokens of the prompt (or texts to embed), as far as they are known before the call;
    /// the settlement charges the real count.
    pub prompt: u32,
    /// The request's `max_tokens`, when it set one.
    pub max_tokens: Option<u32>,
    /// What it generates without one: the room left in the window, at most this.
    pub window: u32,
    /// How many replies it asks for.
    pub choices: u32,
}

impl MaxCost {
    /// An embedding call of `tokens` (nothing generated).
    pub fn embedding(tokens: u32) -> Self {
        MaxCost {
            prompt: tokens,
            max_tokens: Some(0),
            window: 0,
            choices: 1,
        }
    }
}

/// A reservation on a caller's budgets, settled once: by [`Reservation::settle`], or when
/// dropped (a stream whose client left), on the prompt and the tokens
/// [`Reservation::count`]ed so far.
pub struct Reservation(Option<TokenReservation>);

impl Reservation {
    /// Reserves `cost` on every budget of the caller (its own or `auth.default_token_limit`,
    /// and its tenant's token quotas): `Ok(None)` without any; `400` when an explicit
    /// `max_tokens` could never fit one of them; `429` while one cannot hold it now.
    pub async fn reserve(
        state: &AppState,
        caller: &Caller,
        cost: MaxCost,
    ) -> Result<Option<Reservation>, ApiError> {
        let principal = &caller.0;
        let mut buckets = Vec::new();
        if let Some(quota) = principal
            .token_limit
            .or(state.config().auth.default_token_limit)
        {
            buckets.push(TokenBucket::key(&principal.key_id, quota));
        }
        for quota in &principal.tenant_quotas.token_limits {
            buckets.push(TokenBucket::tenant(&principal.tenant, *quota));
        }
        let Some(smallest) = buckets.iter().map(|b| b.quota()).min_by_key(|q| q.count) else {
            return Ok(None);
        };
        let choices = cost.choices.max(1);
        if let Some(max) = cost.max_tokens {
            let most = max.saturating_mul(choices).saturating_add(cost.prompt);
            if most > smallest.count {
                return Err(never_fits(cost, choices, smallest));
            }
        }
        // Without max_tokens the reply may take the window; more than the whole budget is
        // never reserved, and what it takes beyond is charged when it ends.
        let reserved = cost
            .max_tokens
            .unwrap_or(cost.window.saturating_sub(cost.prompt))
            .saturating_mul(choices)
            .saturating_add(cost.prompt)
            .min(smallest.count);
        let limiter = state.backends().rate_limiter.clone();
        match TokenReservation::reserve(limiter, buckets, cost.prompt, reserved).await {
            Ok(reservation) => Ok(Some(Reservation(Some(reservation)))),
            Err(refused) => {
                metrics::counter!("sp_token_budget_refused_total").increment(1);
                Err(refused.into())
            }
        }
    }

    /// Counts `tokens` generated so far (what a drop settles on, with the prompt).
    pub fn count(&self, tokens: u32) {
        if let Some(reservation) = &self.0 {
            reservation.count(tokens);
        }
    }

    /// Settles on `used` tokens (prompt and completion): the unused part goes back; more than
    /// reserved is charged.
    pub async fn settle(mut self, used: u32) {
        if let Some(reservation) = self.0.take() {
            reservation.settle(used).await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // The reservation settles itself on what it counted; this only counts the drop.
        if self.0.is_some() {
            metrics::counter!("sp_token_budget_dropped_total").increment(1);
        }
    }
}

fn never_fits(cost: MaxCost, choices: u32, smallest: Quota) -> ApiError {
    let room = smallest.count.saturating_sub(cost.prompt) / choices;
    Error::invalid_input(
        "max_tokens",
        format!(
            "{} prompt tokens + {} × {choices} replies is more than the whole token budget \
             ({smallest}); ask for at most {room}",
            cost.prompt,
            cost.max_tokens.unwrap_or(0),
        ),
    )
    .into()
}

/// The tokens of the prompt `text` gives, counted only when the caller is under a token
/// budget (0 otherwise: nothing to reserve, so nothing is tokenized twice).
pub fn prompt_tokens(state: &AppState, caller: &Caller, text: impl FnOnce() -> String) -> u32 {
    if budgeted(state, caller) {
        tokens_in(state, &text())
    } else {
        0
    }
}

/// Whether any token budget applies to `caller` (only then is a prompt counted before it
/// runs: counting tokenizes it once more than generation does).
pub fn budgeted(state: &AppState, caller: &Caller) -> bool {
    let principal = &caller.0;
    principal.token_limit.is_some()
        || state.config().auth.default_token_limit.is_some()
        || !principal.tenant_quotas.token_limits.is_empty()
}

/// Tokens in `text` by the served model's tokenizer (what a dropped stream is charged per
/// delta, and what a prompt is reserved at; at least one per non-empty text).
pub fn tokens_in(state: &AppState, text: &str) -> u32 {
    let counted = state
        .engine()
        .and_then(|engine| engine.count_tokens(text).ok())
        .unwrap_or(0);
    u32::try_from(counted)
        .unwrap_or(u32::MAX)
        .max(u32::from(!text.is_empty()))
}
