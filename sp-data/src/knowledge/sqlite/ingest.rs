//! Ingestion into the embedded store: one SQLite transaction, then the in-memory parts.

use std::sync::Arc;

use sp_core::knowledge::{Ingested, PreparedDocument, check_vector};
use sp_core::{Error, Result};
use sqlx::Sqlite;

use super::hit_rows::DocumentCard;
use super::{SqliteDocumentStore, db, persist};
use crate::knowledge::documents::{Existing, SqlDocuments};
use crate::knowledge::vector_to_bytes;

impl SqliteDocumentStore {
    pub(super) async fn put_document(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            check_vector(vector, self.dimensions)?;
        }
        let new = &prepared.document;
        let ns = new.namespace.as_str();
        let (_write, mut tx) = self.begin_write().await?;
        let existing = SqlDocuments::<Sqlite>::existing(&mut tx, &prepared).await?;
        let (replacing, old_rowids) = match existing {
            Existing::Unchanged(id) => return self.rows.unchanged(tx, &new.namespace, id).await,
            Existing::Stale(id, took) => {
                let old: Vec<i64> =
                    sqlx::query_scalar("SELECT rowid FROM kb_sections WHERE document_id = $1")
                        .bind(id.to_string())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?;
                sqlx::query("DELETE FROM kb_sections WHERE document_id = $1")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                (Some((id, took)), old)
            }
            Existing::Absent => (None, Vec::new()),
        };
        let (id, outcome) = SqlDocuments::<Sqlite>::write(&mut tx, &prepared, replacing).await?;

        let mut new_rows = Vec::with_capacity(prepared.sections.len());
        for (section, vector) in &prepared.sections {
            let heading_path =
                serde_json::to_string(&section.heading_path).map_err(Error::internal)?;
            let rowid: i64 = sqlx::query_scalar(
                "INSERT INTO kb_sections (document_id, ordinal, heading_path, text, token_count, embedding) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING rowid",
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
        persist::note_changes(&self.memory, old_rowids.len() + new_rows.len());
        Ok(Ingested {
            document: self.rows.document(&new.namespace, id, true).await?,
            outcome,
        })
    }
}
