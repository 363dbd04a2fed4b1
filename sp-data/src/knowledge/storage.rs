//! What each tenant's documents take (`tenant_storage`), counted by every write in its own
//! transaction and checked against the tenant's storage quota there: a conditional update of
//! the tenant's row, so concurrent ingests (on SQLite, serialised by its write lock; on
//! PostgreSQL, by the row's lock, the condition read again after waiting) cannot pass the
//! quota together, and a refused write rolls back whole. Written once for both backends,
//! stamped by [`storage_counts!`].

use sp_core::knowledge::Namespace;
use sp_core::tenants::{StorageDelta, StorageQuota, StorageUse, TenantId};
use sp_core::{Error, Id, Result};

use super::documents::{SqlDocuments, not_found};
use crate::sql::{DbId, Dialect};

/// A stored counter; a negative one means a corrupt row.
fn counter(stored: i64) -> Result<u64> {
    u64::try_from(stored).map_err(|_| Error::internal(format!("storage counter {stored} < 0")))
}

/// A quota bound as the conditional update compares it (none: no bound).
fn bound(limit: Option<u64>) -> i64 {
    limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

/// The refusal of `delta` on `used`; the update saw it pass the quota, so `admit` names the
/// bound (a quota lowered meanwhile aside).
fn refusal(
    tenant: &TenantId,
    quota: &StorageQuota,
    used: StorageUse,
    delta: StorageDelta,
) -> Error {
    match quota.admit(tenant, used, delta) {
        Err(err) => err,
        Ok(()) => Error::Conflict(format!(
            "the storage of tenant `{tenant}` changed during this write; retry it"
        )),
    }
}

macro_rules! storage_counts {
    ($db:ty) => {
        impl SqlDocuments<$db> {
            /// Counts `delta` to `namespace`'s tenant within the write's transaction, or
            /// refuses it ([`Error::StorageQuotaExceeded`]) when it adds past `quota`; a
            /// change that adds nothing always passes.
            pub(super) async fn charge(
                conn: &mut <$db as sqlx::Database>::Connection,
                namespace: &Namespace,
                quota: &StorageQuota,
                delta: StorageDelta,
            ) -> Result<()> {
                let db = <$db as Dialect>::error;
                if delta == StorageDelta::default() {
                    return Ok(());
                }
                let tenant = namespace.tenant();
                sqlx::query(
                    "INSERT INTO tenant_storage (tenant, sections, bytes) VALUES ($1, 0, 0) \
                     ON CONFLICT (tenant) DO NOTHING",
                )
                .bind(tenant.as_str())
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                let counted = sqlx::query(
                    "UPDATE tenant_storage SET sections = sections + $2, bytes = bytes + $3 \
                     WHERE tenant = $1 AND ($2 <= 0 OR sections + $2 <= $4) \
                     AND ($3 <= 0 OR bytes + $3 <= $5)",
                )
                .bind(tenant.as_str())
                .bind(delta.sections)
                .bind(delta.bytes)
                .bind(bound(quota.max_sections))
                .bind(bound(quota.max_bytes))
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                if counted.rows_affected() == 1 {
                    return Ok(());
                }
                let used = Self::used(&mut *conn, &tenant).await?;
                Err(refusal(&tenant, quota, used, delta))
            }

            /// What `tenant`'s documents take now.
            pub(super) async fn storage_used(&self, tenant: &TenantId) -> Result<StorageUse> {
                Self::used(&self.pool, tenant).await
            }

            /// What `tenant`'s documents take.
            pub(super) async fn used<'c>(
                conn: impl sqlx::Executor<'c, Database = $db>,
                tenant: &TenantId,
            ) -> Result<StorageUse> {
                let row: Option<(i64, i64)> =
                    sqlx::query_as("SELECT sections, bytes FROM tenant_storage WHERE tenant = $1")
                        .bind(tenant.as_str())
                        .fetch_optional(conn)
                        .await
                        .map_err(<$db as Dialect>::error)?;
                let (sections, bytes) = row.unwrap_or_default();
                Ok(StorageUse {
                    sections: counter(sections)?,
                    bytes: counter(bytes)?,
                })
            }

            /// Deletes a document and (by cascade) its sections for good, freeing what it
            /// took of its tenant's storage.
            pub(super) async fn purge_row(
                conn: &mut <$db as sqlx::Database>::Connection,
                namespace: &Namespace,
                id: Id,
            ) -> Result<()> {
                let took: Option<(i32, i64)> = sqlx::query_as(
                    "DELETE FROM kb_documents WHERE id = $1 AND namespace = $2 \
                     RETURNING section_count, stored_bytes",
                )
                .bind(DbId(id))
                .bind(namespace.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                let (sections, bytes) = took.ok_or_else(|| not_found(id))?;
                let freed = StorageDelta::new(i64::from(sections), bytes).freed();
                Self::charge(conn, namespace, &StorageQuota::default(), freed).await
            }
        }
    };
}

storage_counts!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
storage_counts!(sqlx::Postgres);
