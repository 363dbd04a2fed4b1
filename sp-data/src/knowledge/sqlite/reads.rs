//! Reads shared by the embedded store's operations: namespaces and documents.

use std::sync::PoisonError;

use sp_core::knowledge::{Document, Namespace};
use sp_core::{Error, Id, Result};
use sqlx::AssertSqlSafe;

use super::{SqliteDocumentStore, db};
use crate::knowledge::sqlite_rows::{DOC_COLUMNS, document_from_row, not_found};

impl SqliteDocumentStore {
    /// Namespaces are never removed, so one that was seen once is remembered and the
    /// search path skips a database round trip.
    pub(super) async fn require_namespace(&self, namespace: &Namespace) -> Result<()> {
        if self
            .known_namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(namespace.as_str())
        {
            return Ok(());
        }
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM kb_namespaces WHERE name = ?")
            .bind(namespace.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        known.ok_or_else(|| Error::NotFound {
            kind: "namespace",
            id: namespace.as_str().to_owned(),
        })?;
        self.known_namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(namespace.as_str().to_owned());
        Ok(())
    }

    pub(super) async fn document(
        &self,
        namespace: &Namespace,
        id: Id,
        live_only: bool,
    ) -> Result<Document> {
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.id = ? AND d.namespace = ?{}",
            if live_only {
                " AND d.deleted_at IS NULL"
            } else {
                ""
            }
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(namespace.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| not_found(id))?;
        document_from_row(&row)
    }
}
