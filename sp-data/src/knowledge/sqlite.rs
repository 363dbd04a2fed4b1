//! The embedded knowledge backend: SQLite rows and FTS5, vectors in an in-process index
//! rebuilt from SQLite on open.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sp_core::knowledge::{
    Document, DocumentStore, Ingested, Namespace, PreparedDocument, SearchHit, Section,
    check_vector,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::graph_index::GraphParams;

mod hit_rows;
mod ingest;
mod load;
mod memory;
mod reads;
mod vectors;
use super::fts_query;
use super::sqlite_rows::{DOC_COLUMNS, document_from_row, not_found, section_from_row};
use crate::SqliteStore;
use crate::error::sqlx_error;

/// Knowledge documents in the embedded SQLite database.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::knowledge::DocumentStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await.unwrap();
/// let store = sp_data::SqliteDocumentStore::open(&db, 384).await.unwrap();
/// assert_eq!(store.dimensions(), 384);
/// // The dimension is fixed at creation:
/// assert!(sp_data::SqliteDocumentStore::open(&db, 768).await.is_err());
/// # });
/// ```
pub struct SqliteDocumentStore {
    pool: SqlitePool,
    dimensions: usize,
    /// The in-memory indexes and hit rows, shared by the stores on this database file
    /// (registered while one uses them), and their write lock.
    memory: Arc<memory::Memory>,
    config: VectorIndexConfig,
    known_namespaces: std::sync::RwLock<std::collections::HashSet<String>>,
}

/// How the embedded store searches vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorIndexConfig {
    /// Namespaces with fewer vectors are searched exactly (recall 1.0, and a flat scan of
    /// up to about a thousand vectors costs what a graph search does); larger ones through
    /// the HNSW graph. Measured here: exact 3.0 ms p50 at 10k × 384, the graph 0.2 ms.
    pub exact_below: usize,
    /// The graph's parameters.
    pub graph: GraphParams,
}

impl Default for VectorIndexConfig {
    fn default() -> Self {
        VectorIndexConfig {
            exact_below: 1_000,
            graph: GraphParams::default(),
        }
    }
}

impl std::fmt::Debug for SqliteDocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDocumentStore")
            .field("dimensions", &self.dimensions)
            .field("vectors", &self.memory.index.len())
            .field("graph_ready", &self.memory.graph.is_ready())
            .finish_non_exhaustive()
    }
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

impl SqliteDocumentStore {
    /// Opens the store in `db`, creating it for `dimensions`-long vectors the first time; a
    /// different dimension later is refused. Loads every vector into the in-process index.
    pub async fn open(db_store: &SqliteStore, dimensions: usize) -> Result<Self> {
        Self::open_with(db_store, dimensions, VectorIndexConfig::default()).await
    }

    /// [`open`](Self::open) with explicit vector-index settings. The exact index is loaded
    /// before this returns; the graph is built from it on a background thread, and searches
    /// stay exact until it is ready. Stores opened on the same database file in one process
    /// share their in-memory indexes (each sees the others' writes); the graph parameters
    /// are those of the first, and `set_expansion_search` applies to all of them.
    pub async fn open_with(
        db_store: &SqliteStore,
        dimensions: usize,
        config: VectorIndexConfig,
    ) -> Result<Self> {
        let pool = db_store.pool().clone();
        sqlx::query("INSERT OR IGNORE INTO kb_settings (id, dimensions) VALUES (1, ?)")
            .bind(dimensions as i64)
            .execute(&pool)
            .await
            .map_err(db)?;
        let stored: i64 = sqlx::query_scalar("SELECT dimensions FROM kb_settings WHERE id = 1")
            .fetch_one(&pool)
            .await
            .map_err(db)?;
        if stored as usize != dimensions {
            return Err(Error::DimensionMismatch {
                expected: stored as usize,
                got: dimensions,
            });
        }
        let memory = memory::for_database(db_store.path(), &pool, dimensions, config.graph).await?;
        Ok(SqliteDocumentStore {
            pool,
            dimensions,
            memory,
            config,
            known_namespaces: Default::default(),
        })
    }
}

impl SqliteDocumentStore {
    /// Changes the graph's ef_search at run time (recall against latency; see
    /// `docs/knowledge.md` for measured pairs). Values below 1 are raised to 1.
    pub fn set_expansion_search(&self, expansion_search: usize) {
        self.memory
            .graph
            .set_expansion_search(expansion_search.max(1));
    }

    /// True once the HNSW graph holds every vector (it is built on a background thread at
    /// open, and searches of large namespaces stay exact until then), and false after a
    /// failed graph update sent searches back to the exact index.
    pub fn graph_ready(&self) -> bool {
        self.memory.graph.is_ready()
    }
}

#[async_trait]
impl DocumentStore for SqliteDocumentStore {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn put(&self, prepared: PreparedDocument) -> Result<Ingested> {
        self.put_document(prepared).await
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        self.document(namespace, id, true).await
    }

    async fn sections(&self, namespace: &Namespace, id: Id) -> Result<Vec<Section>> {
        self.document(namespace, id, true).await?;
        let rows = sqlx::query(
            "SELECT rowid, ordinal, heading_path, text, token_count FROM kb_sections \
             WHERE document_id = ? ORDER BY ordinal",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(section_from_row).collect()
    }

    async fn list(
        &self,
        namespace: &Namespace,
        page: &PageRequest,
        include_deleted: bool,
    ) -> Result<Page<Document>> {
        self.require_namespace(namespace).await?;
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.namespace = ? AND d.id < ?{} \
             ORDER BY d.id DESC LIMIT ?",
            if include_deleted {
                ""
            } else {
                " AND d.deleted_at IS NULL"
            }
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            // Past every UUID: the first page has no cursor.
            .bind(after.map_or_else(|| "g".to_owned(), |id| id.to_string()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let documents = rows
            .iter()
            .map(document_from_row)
            .collect::<Result<Vec<_>>>()?;
        Page::from_rows(documents, page.limit, |d| d.id)
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let _write = self.memory.writes.lock().await;
        let done = sqlx::query(
            "UPDATE kb_documents SET deleted_at = ? WHERE id = ? AND namespace = ? AND deleted_at IS NULL",
        )
        .bind(Timestamp::now().unix_micros())
        .bind(id.to_string())
        .bind(namespace.as_str())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        self.memory.hit_rows.set_deleted(id, true);
        Ok(())
    }

    async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        let _write = self.memory.writes.lock().await;
        let done =
            sqlx::query("UPDATE kb_documents SET deleted_at = NULL WHERE id = ? AND namespace = ?")
                .bind(id.to_string())
                .bind(namespace.as_str())
                .execute(&self.pool)
                .await
                .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        self.memory.hit_rows.set_deleted(id, false);
        self.document(namespace, id, true).await
    }

    async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let _write = self.memory.writes.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let rowids: Vec<i64> = sqlx::query_scalar(
            "SELECT s.rowid FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id \
             WHERE d.id = ? AND d.namespace = ?",
        )
        .bind(id.to_string())
        .bind(namespace.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let done = sqlx::query("DELETE FROM kb_documents WHERE id = ? AND namespace = ?")
            .bind(id.to_string())
            .bind(namespace.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        tx.commit().await.map_err(db)?;
        self.memory.hit_rows.remove(&rowids, Some(id));
        self.memory.index.remove(&rowids);
        if let Err(err) = self.memory.graph.remove(&rowids) {
            tracing::error!(%err, "vector graph update failed; searches stay exact");
            self.memory.graph.mark_unready();
        }
        Ok(())
    }

    async fn vector_search(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        check_vector(vector, self.dimensions)?;
        self.require_namespace(namespace).await?;
        self.search_vectors(namespace, vector, k, filter)
    }

    async fn keyword_search(
        &self,
        namespace: &Namespace,
        query: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        self.require_namespace(namespace).await?;
        let Some(matcher) = fts_query(query) else {
            return Ok(Vec::new());
        };
        // With a metadata filter, rank every match and filter in order; without, let SQLite cut.
        let limit = if filter.is_some() { -1 } else { k as i64 };
        // The full-text match runs once, materialised, and drives the joins (CROSS JOIN fixes
        // the loop order): left to the planner, SQLite may re-run the MATCH per outer row.
        let ranked: Vec<(i64, f64)> = sqlx::query(
            "WITH m AS MATERIALIZED ( \
                 SELECT rowid, -bm25(kb_sections_fts) AS score FROM kb_sections_fts \
                 WHERE kb_sections_fts MATCH ?) \
             SELECT m.rowid, m.score FROM m CROSS JOIN kb_sections s ON s.rowid = m.rowid \
             CROSS JOIN kb_documents d ON d.id = s.document_id \
             WHERE d.namespace = ? AND d.deleted_at IS NULL \
             ORDER BY m.score DESC, m.rowid LIMIT ?",
        )
        .bind(matcher)
        .bind(namespace.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        let mut hits = self.memory.hit_rows.hits(&ranked, filter);
        hits.truncate(k);
        Ok(hits)
    }
}
