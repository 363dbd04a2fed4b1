//! The audit log: who changed what, when, with what result.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::page::{Page, PageRequest};
use crate::{Id, Timestamp};

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

/// Where audit entries live. Append-only: there is no update or delete.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// Entries, newest first, optionally of one key.
    async fn list(&self, key_id: Option<&str>, page: &PageRequest) -> Result<Page<AuditEntry>>;
}
