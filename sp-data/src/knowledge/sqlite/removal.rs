//! Soft delete, restore and purge in the embedded store: SQLite first, then the in-memory
//! parts, under the store's write lock (callers run them to the end, see `sqlite.rs`).

use sp_core::knowledge::{Document, Namespace};
use sp_core::{Id, Result};
use sqlx::Sqlite;

use super::{SqliteDocumentStore, db, persist};
use crate::knowledge::documents::SqlDocuments;

impl SqliteDocumentStore {
    /// Starts a write: the store's write lock (memory must follow commits in their order),
    /// then an IMMEDIATE transaction, which takes SQLite's write lock up front so two writes
    /// of one document serialise instead of both reading "absent" and colliding on insert.
    pub(super) async fn begin_write(
        &self,
    ) -> Result<(
        tokio::sync::MutexGuard<'_, ()>,
        sqlx::Transaction<'static, Sqlite>,
    )> {
        let write = self.memory.writes.lock().await;
        let tx = self
            .rows
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        Ok((write, tx))
    }

    pub(super) async fn delete_document(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let _write = self.memory.writes.lock().await;
        self.rows.mark_deleted(namespace, id).await?;
        self.memory.hit_rows.set_deleted(id, true);
        persist::note_changes(&self.memory, 1);
        Ok(())
    }

    pub(super) async fn restore_document(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        let _write = self.memory.writes.lock().await;
        self.rows.mark_restored(namespace, id).await?;
        self.memory.hit_rows.set_deleted(id, false);
        persist::note_changes(&self.memory, 1);
        self.rows.document(namespace, id, true).await
    }

    pub(super) async fn purge_document(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let (_write, mut tx) = self.begin_write().await?;
        let rowids: Vec<i64> = sqlx::query_scalar(
            "SELECT s.rowid FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id \
             WHERE d.id = $1 AND d.namespace = $2",
        )
        .bind(id.to_string())
        .bind(namespace.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        SqlDocuments::<Sqlite>::purge_row(&mut tx, namespace, id).await?;
        tx.commit().await.map_err(db)?;
        self.memory.hit_rows.remove(&rowids, Some(id));
        self.memory.index.remove(&rowids);
        if let Err(err) = self.memory.graph.remove(&rowids) {
            tracing::error!(%err, "vector graph update failed; searches stay exact");
            self.memory.graph.mark_unready();
        }
        persist::note_changes(&self.memory, rowids.len());
        Ok(())
    }
}
