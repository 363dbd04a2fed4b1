//! Reads shared by the embedded store's operations: namespaces, documents, search hits.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::PoisonError;

use serde_json::Value;
use sp_core::knowledge::{Document, Namespace, SearchHit, json_contains};
use sp_core::{Error, Id, Result};
use sqlx::{AssertSqlSafe, Row};

use super::{SqliteDocumentStore, db};
use crate::knowledge::sqlite_rows::{DOC_COLUMNS, document_from_row, not_found, section_from_row};

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

    /// Hits for `rowids` (live documents, passing `filter`), in the given order.
    pub(super) async fn hits_for(
        &self,
        ranked: &[(i64, f64)],
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ranked.len()].join(",");
        let sql = format!(
            "SELECT s.rowid, s.ordinal, s.heading_path, s.text, s.token_count, \
             d.id, d.title, d.external_id, d.metadata \
             FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id \
             WHERE s.rowid IN ({placeholders}) AND d.deleted_at IS NULL"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (rowid, _) in ranked {
            query = query.bind(rowid);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        let mut by_rowid = HashMap::with_capacity(rows.len());
        for row in &rows {
            by_rowid.insert(row.get::<i64, _>(0), row);
        }
        let mut hits = Vec::new();
        for (rowid, score) in ranked {
            let Some(row) = by_rowid.get(rowid) else {
                continue;
            };
            let metadata: Value =
                serde_json::from_str(row.get::<&str, _>(8)).map_err(Error::internal)?;
            if filter.is_some_and(|f| !json_contains(&metadata, f)) {
                continue;
            }
            hits.push(SearchHit {
                document_id: Id::from_str(row.get::<&str, _>(5))?,
                title: row.get(6),
                external_id: row.get(7),
                metadata,
                section: section_from_row(row)?,
                score: *score,
            });
        }
        Ok(hits)
    }
}
