//! The embedded knowledge backend: SQLite rows and FTS5, vectors in an in-process index
//! rebuilt from SQLite on open.

use std::sync::Arc;

use serde_json::Value;
use sp_core::knowledge::{Document, Namespace, SearchHit, Section, check_vector};
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::Sqlite;

use super::graph_index::GraphParams;

mod hit_rows;
mod ingest;
mod keywords;
mod load;
mod memory;
mod persist;
mod removal;
mod snapshot;
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
    /// Stores of at least this many sections save their in-memory index beside the
    /// database (`sp.db.kb-index/`) and read it back at open instead of rebuilding the
    /// graphs; smaller ones rebuild (in well under a second).
    pub save_from: usize,
    /// A save follows once this many sections changed since the last (and a quarter of the
    /// store): writing a million-vector snapshot takes seconds, during which writes wait,
    /// and what changed since the last save is replayed by the next open after a crash.
    pub save_every: usize,
}

impl Default for VectorIndexConfig {
    fn default() -> Self {
        VectorIndexConfig {
            exact_below: 1_000,
            graph: GraphParams::default(),
            save_from: 1_000,
            save_every: 4_096,
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
        let memory = memory::for_database(db_store.path(), &rows.pool, dimensions, config).await?;
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

    /// Saves the in-memory index beside the database now (writes wait meanwhile), so the
    /// next open reads it instead of replaying the changes since the last save. Saves also
    /// happen by themselves — after the graph is built, and once enough sections changed —
    /// so this is for a clean shutdown. False when there was nothing to save (up to date,
    /// fewer sections than [`VectorIndexConfig::save_from`], or the graph still building).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = sp_data::SqliteStore::open(dir.path()).await.unwrap();
    /// let store = sp_data::SqliteDocumentStore::open(&db, 8).await.unwrap();
    /// // An empty store is below `save_from`: nothing to save.
    /// assert!(!store.save_index().await.unwrap());
    /// # });
    /// ```
    pub async fn save_index(&self) -> Result<bool> {
        persist::save(&self.memory).await
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
        self.search_keywords(namespace, &matcher, k, filter).await
    }

    async fn flush(&self) -> Result<()> {
        self.save_index().await.map(|_| ())
    }
});
