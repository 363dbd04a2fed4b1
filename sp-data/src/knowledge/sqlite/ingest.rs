//! Ingestion into the embedded store: one SQLite transaction, then the in-memory parts.

use std::str::FromStr;
use std::sync::Arc;

use sp_core::knowledge::{IngestOutcome, Ingested, PreparedDocument, check_vector};
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::Row;

use super::hit_rows::DocumentCard;
use super::{SqliteDocumentStore, db};
use crate::knowledge::vector_to_bytes;

impl SqliteDocumentStore {
    pub(super) async fn put_document(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            check_vector(vector, self.dimensions)?;
        }
        let new = &prepared.document;
        let ns = new.namespace.as_str();
        // IMMEDIATE takes the write lock up front, so two ingests of the same document
        // serialise instead of both reading "absent" and colliding on insert.
        let _write = self.memory.writes.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let now = Timestamp::now().unix_micros();
        sqlx::query("INSERT OR IGNORE INTO kb_namespaces (name, created_at) VALUES (?, ?)")
            .bind(ns)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let existing = match &new.external_id {
            Some(ext) => sqlx::query(
                "SELECT id, content_hash, deleted_at FROM kb_documents WHERE namespace = ? AND external_id = ?",
            )
            .bind(ns)
            .bind(ext),
            None => sqlx::query(
                "SELECT id, content_hash, deleted_at FROM kb_documents \
                 WHERE namespace = ? AND external_id IS NULL AND content_hash = ?",
            )
            .bind(ns)
            .bind(&prepared.content_hash),
        }
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;

        let (id, outcome, old_rowids) = match existing {
            Some(row) => {
                let id = Id::from_str(&row.get::<String, _>(0))?;
                let same = row.get::<String, _>(1) == prepared.content_hash;
                if same && row.get::<Option<i64>, _>(2).is_none() {
                    tx.commit().await.map_err(db)?;
                    return Ok(Ingested {
                        document: self.document(&new.namespace, id, true).await?,
                        outcome: IngestOutcome::Unchanged,
                    });
                }
                let old: Vec<i64> =
                    sqlx::query_scalar("SELECT rowid FROM kb_sections WHERE document_id = ?")
                        .bind(id.to_string())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                sqlx::query("DELETE FROM kb_sections WHERE document_id = ?")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query(
                    "UPDATE kb_documents SET title = ?, source_uri = ?, metadata = ?, content = ?, \
                     content_hash = ?, section_count = ?, updated_at = ?, deleted_at = NULL WHERE id = ?",
                )
                .bind(&new.title)
                .bind(&new.source_uri)
                .bind(new.metadata.to_string())
                .bind(&new.content)
                .bind(&prepared.content_hash)
                .bind(prepared.sections.len() as i64)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                (id, IngestOutcome::Replaced, old)
            }
            None => {
                let id = Id::new();
                sqlx::query(
                    "INSERT INTO kb_documents (id, namespace, external_id, title, source_uri, metadata, \
                     content, content_hash, section_count, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(id.to_string())
                .bind(ns)
                .bind(&new.external_id)
                .bind(&new.title)
                .bind(&new.source_uri)
                .bind(new.metadata.to_string())
                .bind(&new.content)
                .bind(&prepared.content_hash)
                .bind(prepared.sections.len() as i64)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                (id, IngestOutcome::Created, Vec::new())
            }
        };

        let mut new_rows = Vec::with_capacity(prepared.sections.len());
        for (section, vector) in &prepared.sections {
            let heading_path =
                serde_json::to_string(&section.heading_path).map_err(Error::internal)?;
            let rowid: i64 = sqlx::query_scalar(
                "INSERT INTO kb_sections (document_id, ordinal, heading_path, text, token_count, embedding) \
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING rowid",
            )
            .bind(id.to_string())
            .bind(i64::from(section.ordinal))
            .bind(heading_path)
            .bind(&section.text)
            .bind(i64::from(section.token_count))
            .bind(vector_to_bytes(vector))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            new_rows.push(rowid);
        }
        tx.commit().await.map_err(db)?;

        self.memory.hit_rows.remove(&old_rowids, None);
        let card = DocumentCard::new(
            id,
            new.title.clone(),
            new.external_id.clone(),
            new.metadata.clone(),
            false,
        );
        self.memory.hit_rows.insert(
            &card,
            new_rows
                .iter()
                .zip(&prepared.sections)
                .map(|(rowid, (section, _))| (*rowid, section.clone()))
                .collect(),
        );
        self.memory.index.remove(&old_rowids);
        let ns_arc: Arc<str> = Arc::from(ns);
        for (rowid, (_, vector)) in new_rows.iter().zip(&prepared.sections) {
            self.memory.index.insert(*rowid, &ns_arc, vector);
        }
        let graph_update = self.memory.graph.remove(&old_rowids).and_then(|()| {
            new_rows
                .iter()
                .zip(&prepared.sections)
                .try_for_each(|(rowid, (_, vector))| {
                    self.memory.graph.insert(*rowid, &ns_arc, vector)
                })
        });
        if let Err(err) = graph_update {
            tracing::error!(%err, "vector graph update failed; searches stay exact");
            self.memory.graph.mark_unready();
        }
        Ok(Ingested {
            document: self.document(&new.namespace, id, true).await?,
            outcome,
        })
    }
}
