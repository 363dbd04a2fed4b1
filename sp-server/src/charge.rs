//! What a model call costs its caller: its budget reservation (see [`crate::budget`]) and
//! its usage row, begun before the call and settled once after it — on the real counts when it
//! answered, as an error (with what it was sent) when it failed, was refused or the client
//! left. Every model path of the server goes through a [`Charge`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sp_core::chat::Usage;
use sp_core::usage::{UsageCounts, UsageKey, UsageMeter};

use crate::budget::{MaxCost, Reservation};
use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::state::AppState;

/// Most tenants labelled by name in the usage metrics; the rest are summed as `other`, so a
/// deployment with many tenants cannot blow up the series count.
const MAX_TENANT_LABELS: usize = 100;

/// One model call's budget reservation and usage, settled once.
pub struct Charge {
    budget: Option<Reservation>,
    meter: Option<Arc<UsageMeter>>,
    key: UsageKey,
    /// Completion tokens sent so far (what a dropped stream is recorded with).
    streamed: AtomicU32,
    /// Model calls made for this one before it (a context's compaction), settled with it.
    before: Mutex<Usage>,
    open: bool,
}

impl Charge {
    /// Reserves `cost` on the caller's budget and opens its usage row (for the served model).
    /// A refused reservation is recorded as an error and returned.
    pub async fn begin(state: &AppState, caller: &Caller, cost: MaxCost) -> Result<Self, ApiError> {
        let model = state
            .engine()
            .map_or_else(|| "-".to_owned(), |engine| engine.info().id.clone());
        Self::begin_for(state, caller, &model, cost).await
    }

    /// [`Charge::begin`] for a call served by `model` (the embedding model, when it is not
    /// the chat model).
    pub async fn begin_for(
        state: &AppState,
        caller: &Caller,
        model: &str,
        cost: MaxCost,
    ) -> Result<Self, ApiError> {
        let mut charge = Charge::open(state, caller, model).await;
        // A refusal drops the charge open: recorded as an error.
        charge.budget = Reservation::reserve(state, caller, cost).await?;
        Ok(charge)
    }

    /// A call charged on its usage row only (budgets are reserved by [`Charge::begin`]).
    async fn open(state: &AppState, caller: &Caller, model: &str) -> Self {
        // Opened once; a database that is down leaves the call unmetered, not refused.
        let meter = state.platform().await.ok().map(|p| p.usage.clone());
        Charge {
            budget: None,
            meter,
            key: UsageKey::today(
                caller.0.tenant.clone(),
                caller.0.key_id.clone(),
                model.to_owned(),
            ),
            streamed: AtomicU32::new(0),
            before: Mutex::default(),
            open: true,
        }
    }

    /// Adds what model calls made on this call's behalf used (a compaction before a context
    /// reply): settled with it, and charged even when the client leaves.
    pub fn add(&self, usage: Usage) {
        *self
            .before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += usage;
        if let Some(budget) = &self.budget {
            budget.count(usage.prompt_tokens.saturating_add(usage.completion_tokens));
        }
    }

    fn before(&self) -> Usage {
        *self
            .before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts `tokens` generated and sent so far.
    pub fn count(&self, tokens: u32) {
        self.streamed.fetch_add(tokens, Ordering::Relaxed);
        if let Some(budget) = &self.budget {
            budget.count(tokens);
        }
    }

    /// Settles on what the call used.
    pub async fn settle(mut self, mut usage: Usage) {
        self.open = false;
        usage += self.before();
        let mut counts = UsageCounts::call(
            u64::from(usage.prompt_tokens),
            u64::from(usage.completion_tokens),
            0,
        );
        counts.cached_tokens = u64::from(usage.cached_tokens);
        self.record(counts);
        if let Some(budget) = self.budget.take() {
            budget
                .settle(usage.prompt_tokens.saturating_add(usage.completion_tokens))
                .await;
        }
    }

    /// Settles an embedding call of `tokens` (begun with [`MaxCost::embedding`]).
    pub async fn embedded(mut self, tokens: u32) {
        self.open = false;
        self.record(UsageCounts::call(0, 0, u64::from(tokens)));
        if let Some(budget) = self.budget.take() {
            budget.settle(tokens).await;
        }
    }

    fn record(&self, counts: UsageCounts) {
        record_metrics(&self.key, &counts);
        if let Some(meter) = &self.meter {
            meter.record(self.key.clone(), counts);
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.open {
            let before = self.before();
            let streamed = self.streamed.load(Ordering::Relaxed);
            let mut counts = UsageCounts::call(
                u64::from(before.prompt_tokens),
                u64::from(before.completion_tokens.saturating_add(streamed)),
                0,
            );
            counts.errors = 1;
            self.record(counts);
        }
    }
}

/// Prometheus counters of usage by tenant (`sp_usage_*_total`).
fn record_metrics(key: &UsageKey, counts: &UsageCounts) {
    let tenant = tenant_label(key.tenant.as_str());
    metrics::counter!("sp_usage_requests_total", "tenant" => tenant.clone())
        .increment(counts.requests);
    metrics::counter!("sp_usage_errors_total", "tenant" => tenant.clone()).increment(counts.errors);
    for (kind, tokens) in [
        ("prompt", counts.prompt_tokens),
        ("completion", counts.completion_tokens),
        ("embedding", counts.embedding_tokens),
        ("cached", counts.cached_tokens),
    ] {
        metrics::counter!("sp_usage_tokens_total", "tenant" => tenant.clone(), "kind" => kind)
            .increment(tokens);
    }
}

/// The tenant's own label while fewer than [`MAX_TENANT_LABELS`] are in use, else `other`.
fn tenant_label(tenant: &str) -> String {
    static LABELLED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut labelled = LABELLED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if labelled.contains(tenant) {
        return tenant.to_owned();
    }
    if labelled.len() < MAX_TENANT_LABELS {
        labelled.insert(tenant.to_owned());
        return tenant.to_owned();
    }
    "other".to_owned()
}
