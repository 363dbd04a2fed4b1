//! What a tenant may keep in the knowledge store, and what it keeps.
//!
//! A document costs its sections (each an embedding in the vector index and a row in the
//! full-text index) and its bytes (title, content and metadata as stored). Soft-deleted
//! documents still count — they can be restored — until they are purged. A change that adds
//! nothing (a smaller replacement, a purge) always passes, so a tenant over a lowered quota
//! can always shrink.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::namespace::TenantId;

/// The storage a tenant's documents may take (none of either when absent).
///
/// ```
/// use sp_core::tenants::StorageQuota;
///
/// let quota: StorageQuota = serde_json::from_value(serde_json::json!({"max_sections": 10000}))?;
/// quota.validate()?;
/// assert_eq!(quota.max_bytes, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StorageQuota {
    /// Sections of all its documents together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sections: Option<u64>,
    /// Bytes (title + content + metadata) of all its documents together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

/// Largest quota a store can count to (its counters are signed 64-bit).
const MAX_QUOTA: u64 = i64::MAX as u64;

impl StorageQuota {
    /// Whether it bounds nothing.
    pub fn is_unlimited(&self) -> bool {
        self.max_sections.is_none() && self.max_bytes.is_none()
    }

    /// Refuses a zero bound (say none instead) and one past what a store counts.
    pub fn validate(&self) -> Result<()> {
        for (field, bound) in [
            ("storage.max_sections", self.max_sections),
            ("storage.max_bytes", self.max_bytes),
        ] {
            if let Some(bound) = bound
                && !(1..=MAX_QUOTA).contains(&bound)
            {
                return Err(Error::invalid_input(
                    field,
                    format!("must be 1 to {MAX_QUOTA} (leave it out for no limit)"),
                ));
            }
        }
        Ok(())
    }

    /// Checks a change of `delta` on `used` against the quota: `Ok` when it fits or adds
    /// nothing, [`Error::StorageQuotaExceeded`] naming the first bound it passes otherwise.
    /// What every backend applies (the SQL ones in the same conditional update that counts).
    ///
    /// ```
    /// use sp_core::TenantId;
    /// use sp_core::tenants::{StorageDelta, StorageQuota, StorageUse};
    ///
    /// let acme = TenantId::new("acme")?;
    /// let quota = StorageQuota { max_sections: Some(10), max_bytes: None };
    /// let used = StorageUse { sections: 8, bytes: 100 };
    /// assert!(quota.admit(&acme, used, StorageDelta::new(2, 50)).is_ok());
    /// let err = quota.admit(&acme, used, StorageDelta::new(3, 0)).unwrap_err();
    /// assert_eq!(err.code().as_str(), "SP-KB-004");
    /// // Shrinking always passes, even over the quota.
    /// let over = StorageUse { sections: 12, bytes: 100 };
    /// assert!(quota.admit(&acme, over, StorageDelta::new(-1, 10)).is_ok());
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn admit(&self, tenant: &TenantId, used: StorageUse, delta: StorageDelta) -> Result<()> {
        let checks = [
            ("sections", used.sections, delta.sections, self.max_sections),
            ("bytes", used.bytes, delta.bytes, self.max_bytes),
        ];
        for (what, used, delta, limit) in checks {
            let Some(limit) = limit else { continue };
            if delta > 0 && used.saturating_add(delta.unsigned_abs()) > limit {
                return Err(Error::StorageQuotaExceeded {
                    tenant: tenant.to_string(),
                    what,
                    used,
                    adding: delta.unsigned_abs(),
                    limit,
                });
            }
        }
        Ok(())
    }
}

/// What a tenant's documents take now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageUse {
    /// Sections of all its documents (soft-deleted ones included).
    pub sections: u64,
    /// Bytes of all its documents (soft-deleted ones included).
    pub bytes: u64,
}

/// A change of a tenant's storage: what a write adds (positive) or frees (negative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageDelta {
    /// Sections added or freed.
    pub sections: i64,
    /// Bytes added or freed.
    pub bytes: i64,
}

impl StorageDelta {
    /// A change of `sections` and `bytes`.
    pub fn new(sections: i64, bytes: i64) -> Self {
        StorageDelta { sections, bytes }
    }

    /// What replacing `old` by `new` changes.
    pub fn between(old: StorageDelta, new: StorageDelta) -> Self {
        StorageDelta {
            sections: new.sections - old.sections,
            bytes: new.bytes - old.bytes,
        }
    }

    /// The same change undone.
    pub fn freed(self) -> Self {
        StorageDelta {
            sections: -self.sections,
            bytes: -self.bytes,
        }
    }
}

impl StorageUse {
    /// `self` after `delta` (never below zero).
    pub fn after(self, delta: StorageDelta) -> Self {
        let apply = |value: u64, change: i64| {
            if change >= 0 {
                value.saturating_add(change.unsigned_abs())
            } else {
                value.saturating_sub(change.unsigned_abs())
            }
        };
        StorageUse {
            sections: apply(self.sections, delta.sections),
            bytes: apply(self.bytes, delta.bytes),
        }
    }
}
