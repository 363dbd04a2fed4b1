//! The audit log: who changed what, when, with what result.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::page::{Page, PageRequest};
use crate::{Id, TenantId, Timestamp};

/// One mutating request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Identifier (UUIDv7: time order).
    pub id: Id,
    /// When the answer was sent.
    pub at: Timestamp,
    /// The key that made it (`admin` for the bootstrap key, `-` when no valid credential).
    pub key_id: String,
    /// The tenant that key acts for.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tenant: TenantId,
    /// HTTP method.
    pub method: String,
    /// The route pattern, e.g. `/v1/documents/{id}`.
    pub route: String,
    /// The path as requested.
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// The request id (`X-Request-Id`), to find its log lines.
    pub request_id: String,
    /// How long it took.
    pub duration_ms: u32,
}

/// Which audit entries to list (all when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this key's.
    pub key_id: Option<String>,
    /// Only this tenant's.
    pub tenant: Option<TenantId>,
}

/// Where audit entries live. Append-only: entries are never changed, and deleted only by
/// retention ([`AuditStore::prune`], run by [`spawn_audit_retention`]).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// Entries, newest first, of what `filter` names.
    async fn list(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEntry>>;
    /// Deletes the entries answered before `before`; returns how many went.
    async fn prune(&self, before: Timestamp) -> Result<u64>;
}

/// How often the auth tables' housekeeping runs (audit retention, expired refresh tokens).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs `job` now and then every [`PRUNE_EVERY`], a late round delaying the next rather
/// than bunching up, for as long as the runtime runs.
pub(super) fn spawn_hourly<F, Fut>(mut job: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            job().await;
        }
    })
}

/// Deletes audit entries older than `keep` now and then every hour, for as long as the
/// runtime runs (`auth.audit_retention_days`; the server starts it, zero days keeps all).
///
/// ```no_run
/// # async fn demo(audit: std::sync::Arc<dyn sp_core::auth::AuditStore>) {
/// let keep = std::time::Duration::from_secs(90 * 86_400);
/// let task = sp_core::auth::spawn_audit_retention(audit, keep);
/// # task.abort();
/// # }
/// ```
pub fn spawn_audit_retention(
    store: std::sync::Arc<dyn AuditStore>,
    keep: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    spawn_hourly(move || {
        let store = store.clone();
        async move {
            let keep_micros = i64::try_from(keep.as_micros()).unwrap_or(i64::MAX);
            let cutoff = Timestamp::now().unix_micros().saturating_sub(keep_micros);
            let Some(before) = Timestamp::from_unix_micros(cutoff) else {
                return;
            };
            match store.prune(before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "audit entries past retention deleted"),
                Err(err) => tracing::warn!(%err, "audit retention did not run"),
            }
        }
    })
}
