//! The embedded knowledge backend: SQLite rows and FTS5, vectors in an in-process index
//! rebuilt from SQLite on open.

use std::sync::Arc;

use serde_json::Value;
use sp_core::knowledge::{Document, Namespace, SearchHit, Section, check_vector};
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::{Row, Sqlite};

use super::graph_index::GraphParams;

mod hit_rows;
mod ingest;
mod load;
mod memory;
mod removal;
mod vectors;
use super::documents::{SqlDocuments, document_store};
use super::fts_query;
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
#[derive(Clone)]
pub struct SqliteDocumentStore {
    rows: SqlDocuments<Sqlite>,
    dimensions: usize,
    /// The in-memory indexes and hit rows, shared by the stores on this database file
    /// (registered while one uses them), and their write lock.
    memory: Arc<memory::Memory>,
    config: VectorIndexConfig,
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
        let rows = SqlDocuments::<Sqlite>::open(db_store.pool().clone(), dimensions).await?;
        let memory =
            memory::for_database(db_store.path(), &rows.pool, dimensions, config.graph).await?;
        Ok(SqliteDocumentStore {
            rows,
            dimensions,
            memory,
            config,
        })
    }
}

impl SqliteDocumentStore {
    /// Runs `work` on `db` while no store of this process has it open (refused with
    /// `Conflict` otherwise), keeping stores from opening it until `work` is done.
    pub(crate) async fn exclusively<T>(
        db: &SqliteStore,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        memory::exclusively(db.path(), work).await
    }

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

document_store!(SqliteDocumentStore {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn vector_search(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        check_vector(vector, self.dimensions)?;
        self.search_vectors(namespace, vector, k, filter)
    }

    async fn keyword_search(
        &self,
        namespace: &Namespace,
        query: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
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
        .fetch_all(&self.rows.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        let mut hits = self.memory.hit_rows.hits(&ranked, filter);
        hits.truncate(k);
        Ok(hits)
    }
});
