//! Usage metering: what every tenant, key and model used, per UTC day — requests, prompt,
//! completion, embedding and cached tokens, and requests that ended without an answer.
//!
//! Model calls record into a [`UsageMeter`] (in memory, at once); the meter writes the sums to
//! a [`UsageStore`] in batches, one transaction each, so a burst of requests costs a few
//! upserts instead of one row each — and a batch the store refused is kept and written with
//! the next one, never dropped (LiteLLM's users lose spend rows under load; this must not).

mod memory;
mod meter;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use memory::MemoryUsageStore;
pub use meter::UsageMeter;

use crate::TenantId;
use crate::error::{Error, Result};

/// Most rows one usage query answers (narrow the filter or group coarser beyond it).
pub const MAX_USAGE_ROWS: usize = 10_000;

/// What was used: the sums one usage row holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageCounts {
    /// Model calls.
    pub requests: u64,
    /// Tokens of prompts.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Tokens of texts embedded.
    pub embedding_tokens: u64,
    /// Prompt tokens served from the prompt cache (counted in `prompt_tokens` too).
    pub cached_tokens: u64,
    /// Calls that ended without an answer: refused by a budget, failed, or left by the client.
    pub errors: u64,
}

impl UsageCounts {
    /// One call's counts.
    ///
    /// ```
    /// use sp_core::usage::UsageCounts;
    ///
    /// let mut total = UsageCounts::call(10, 5, 0);
    /// total.add(&UsageCounts::call(3, 2, 0));
    /// assert_eq!((total.requests, total.tokens()), (2, 20));
    /// ```
    pub fn call(prompt_tokens: u64, completion_tokens: u64, embedding_tokens: u64) -> Self {
        UsageCounts {
            requests: 1,
            prompt_tokens,
            completion_tokens,
            embedding_tokens,
            ..UsageCounts::default()
        }
    }

    /// One call that failed or was refused, having used nothing.
    pub fn failed() -> Self {
        UsageCounts {
            errors: 1,
            ..UsageCounts::call(0, 0, 0)
        }
    }

    /// Adds `other` (saturating: a counter never wraps).
    pub fn add(&mut self, other: &UsageCounts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.embedding_tokens = self.embedding_tokens.saturating_add(other.embedding_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.errors = self.errors.saturating_add(other.errors);
    }

    /// Prompt, completion and embedding tokens together (what token quotas count).
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens
            .saturating_add(self.completion_tokens)
            .saturating_add(self.embedding_tokens)
    }
}

/// Whose usage one stored row sums: a tenant's key's use of a model on a UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    /// The tenant the key acts for.
    pub tenant: TenantId,
    /// The key (`admin` for the bootstrap key).
    pub key_id: String,
    /// The model's id.
    pub model: String,
    /// The UTC day.
    pub day: NaiveDate,
}

impl UsageKey {
    /// `key_id` of `tenant` using `model` today (UTC).
    pub fn today(tenant: TenantId, key_id: impl Into<String>, model: impl Into<String>) -> Self {
        UsageKey {
            tenant,
            key_id: key_id.into(),
            model: model.into(),
            day: chrono::Utc::now().date_naive(),
        }
    }
}

/// What usage is summed by; the columns not grouped by are `null` in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    /// By tenant.
    Tenant,
    /// By key.
    Key,
    /// By model.
    Model,
    /// By UTC day.
    Day,
}

impl UsageGroup {
    /// Every column: the rows as stored.
    pub const ALL: [UsageGroup; 4] = [
        UsageGroup::Tenant,
        UsageGroup::Key,
        UsageGroup::Model,
        UsageGroup::Day,
    ];

    /// `tenant,model` → the groups; an unknown or repeated name is `InvalidInput`.
    ///
    /// ```
    /// use sp_core::usage::UsageGroup;
    ///
    /// assert_eq!(UsageGroup::parse_list("day,model")?, [UsageGroup::Day, UsageGroup::Model]);
    /// assert!(UsageGroup::parse_list("day,day").is_err());
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<UsageGroup>> {
        let mut groups = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let group = match name {
                "tenant" => UsageGroup::Tenant,
                "key" => UsageGroup::Key,
                "model" => UsageGroup::Model,
                "day" => UsageGroup::Day,
                other => {
                    return Err(Error::invalid_input(
                        "group_by",
                        format!("`{other}`: group by tenant, key, model or day"),
                    ));
                }
            };
            if groups.contains(&group) {
                return Err(Error::invalid_input("group_by", format!("`{name}` twice")));
            }
            groups.push(group);
        }
        Ok(groups)
    }
}

/// Which usage to sum, and by what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only this tenant's.
    pub tenant: Option<TenantId>,
    /// Only this key's.
    pub key_id: Option<String>,
    /// Only this model's.
    pub model: Option<String>,
    /// From this UTC day on (inclusive).
    pub from: Option<NaiveDate>,
    /// Up to this UTC day (inclusive).
    pub to: Option<NaiveDate>,
    /// What to sum by; empty sums by every column (the rows as stored).
    pub group_by: Vec<UsageGroup>,
}

impl UsageQuery {
    /// The groups asked for (every column when none).
    pub fn groups(&self) -> &[UsageGroup] {
        if self.group_by.is_empty() {
            &UsageGroup::ALL
        } else {
            &self.group_by
        }
    }

    /// Whether a stored row falls in the query's filters.
    pub fn matches(&self, key: &UsageKey) -> bool {
        self.tenant.as_ref().is_none_or(|t| key.tenant == *t)
            && self.key_id.as_ref().is_none_or(|k| key.key_id == *k)
            && self.model.as_ref().is_none_or(|m| key.model == *m)
            && self.from.is_none_or(|from| key.day >= from)
            && self.to.is_none_or(|to| key.day <= to)
    }
}

/// Usage summed over what a [`UsageQuery`] groups by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// The tenant (`null` unless grouped by tenant).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tenant: Option<TenantId>,
    /// The key (`null` unless grouped by key).
    pub key_id: Option<String>,
    /// The model (`null` unless grouped by model).
    pub model: Option<String>,
    /// The UTC day, `YYYY-MM-DD` (`null` unless grouped by day).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub day: Option<NaiveDate>,
    /// The sums.
    #[serde(flatten)]
    pub counts: UsageCounts,
}

impl UsageRow {
    /// The row of `key` with only the columns of `groups` kept.
    pub fn grouped(key: &UsageKey, groups: &[UsageGroup], counts: UsageCounts) -> Self {
        let has = |g| groups.contains(&g);
        UsageRow {
            tenant: has(UsageGroup::Tenant).then(|| key.tenant.clone()),
            key_id: has(UsageGroup::Key).then(|| key.key_id.clone()),
            model: has(UsageGroup::Model).then(|| key.model.clone()),
            day: has(UsageGroup::Day).then_some(key.day),
            counts,
        }
    }

    /// The order answers come in: by day, tenant, key, model.
    pub fn sort(rows: &mut [UsageRow]) {
        rows.sort_by(|a, b| {
            (a.day, &a.tenant, &a.key_id, &a.model).cmp(&(b.day, &b.tenant, &b.key_id, &b.model))
        });
    }
}

/// The error of a query that would answer more than [`MAX_USAGE_ROWS`] rows.
pub fn too_many_rows() -> Error {
    Error::invalid_input(
        "group_by",
        format!("more than {MAX_USAGE_ROWS} rows: narrow the filters or group by fewer columns"),
    )
}

/// Where usage sums live. Implemented on SQLite and PostgreSQL by `sp-data`, and in memory
/// ([`MemoryUsageStore`]).
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds every count of `batch` to its row (created at zero), all or none.
    async fn add(&self, batch: &[(UsageKey, UsageCounts)]) -> Result<()>;
    /// The sums `query` asks for, in [`UsageRow::sort`] order; more than
    /// [`MAX_USAGE_ROWS`] is [`too_many_rows`].
    async fn rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>>;
    /// Retention: removes the sums of days before `before`; returns how many rows went.
    /// PostgreSQL drops whole month partitions (a day stays until its whole month is
    /// before `before`); the other stores delete the rows.
    async fn prune(&self, before: NaiveDate) -> Result<u64>;
}
