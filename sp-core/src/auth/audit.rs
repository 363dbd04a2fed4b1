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
/// retention ([`AuditStore::prune`], run by [`crate::retention::Retention`]).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// Entries, newest first, of what `filter` names.
    async fn list(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEntry>>;
    /// Retention: removes the entries answered before `before`; returns how many went.
    /// PostgreSQL drops whole day partitions (an entry stays until its whole day is past
    /// `before`); the other stores delete the rows.
    async fn prune(&self, before: Timestamp) -> Result<u64>;
}
