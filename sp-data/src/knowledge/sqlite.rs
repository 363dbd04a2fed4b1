//! The embedded knowledge backend: SQLite rows and FTS5, vectors in an in-process index
//! rebuilt from SQLite on open.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sp_core::knowledge::{
    Document, DocumentStore, IngestOutcome, Ingested, Namespace, PreparedDocument, SearchHit,
    Section, check_vector,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::flat_index::FlatIndex;
use super::graph_index::{GraphIndex, GraphParams};

mod reads;
mod vectors;
use super::sqlite_rows::{DOC_COLUMNS, document_from_row, not_found, section_from_row};
use super::{fts_query, vector_from_bytes, vector_to_bytes};
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
    index: Arc<FlatIndex>,
    graph: Arc<GraphIndex>,
    config: VectorIndexConfig,
    known_namespaces: std::sync::RwLock<std::collections::HashSet<String>>,
}

/// How the embedded store searches vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorIndexConfig {
    /// Namespaces with fewer vectors are searched exactly (a flat scan beats a graph there,
    /// and recall is 1.0); larger ones through the HNSW graph.
    pub exact_below: usize,
    /// The graph's parameters.
    pub graph: GraphParams,
}

impl Default for VectorIndexConfig {
    fn default() -> Self {
        VectorIndexConfig {
            exact_below: 20_000,
            graph: GraphParams::default(),
        }
    }
}

impl std::fmt::Debug for SqliteDocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDocumentStore")
            .field("dimensions", &self.dimensions)
            .field("vectors", &self.index.len())
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
    /// stay exact until it is ready.
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
        let index = FlatIndex::new(dimensions);
        let rows = sqlx::query(
            "SELECT s.rowid, d.namespace, s.embedding FROM kb_sections s \
             JOIN kb_documents d ON d.id = s.document_id",
        )
        .fetch_all(&pool)
        .await
        .map_err(db)?;
        let mut namespaces: std::collections::HashMap<String, Arc<str>> = Default::default();
        for row in rows {
            let ns: String = row.get(1);
            let ns = namespaces
                .entry(ns.clone())
                .or_insert_with(|| Arc::from(ns.as_str()));
            let vector = vector_from_bytes(row.get::<&[u8], _>(2));
            index.insert(row.get(0), ns, &vector);
        }
        let index = Arc::new(index);
        let graph = vectors::build_graph(&index, dimensions, config.graph)?;
        Ok(SqliteDocumentStore {
            pool,
            dimensions,
            index,
            graph,
            config,
            known_namespaces: Default::default(),
        })
    }
}

impl SqliteDocumentStore {
    /// Changes the graph's ef_search at run time (recall against latency; see
    /// `docs/knowledge.md` for measured pairs). Values below 1 are raised to 1.
    pub fn set_expansion_search(&self, expansion_search: usize) {
        self.graph.set_expansion_search(expansion_search.max(1));
    }
}

#[async_trait]
impl DocumentStore for SqliteDocumentStore {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn put(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            check_vector(vector, self.dimensions)?;
        }
        let new = &prepared.document;
        let ns = new.namespace.as_str();
        // IMMEDIATE takes the write lock up front, so two ingests of the same document
        // serialise instead of both reading "absent" and colliding on insert.
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

        self.index.remove(&old_rowids);
        let ns_arc: Arc<str> = Arc::from(ns);
        for (rowid, (_, vector)) in new_rows.iter().zip(&prepared.sections) {
            self.index.insert(*rowid, &ns_arc, vector);
        }
        let graph_update = self.graph.remove(&old_rowids).and_then(|()| {
            new_rows
                .iter()
                .zip(&prepared.sections)
                .try_for_each(|(rowid, (_, vector))| self.graph.insert(*rowid, &ns_arc, vector))
        });
        if let Err(err) = graph_update {
            tracing::error!(%err, "vector graph update failed; searches stay exact");
            self.graph.mark_unready();
        }
        Ok(Ingested {
            document: self.document(&new.namespace, id, true).await?,
            outcome,
        })
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
        Ok(())
    }

    async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document> {
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
        self.document(namespace, id, true).await
    }

    async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()> {
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
        self.index.remove(&rowids);
        if let Err(err) = self.graph.remove(&rowids) {
            tracing::error!(%err, "vector graph update failed; searches stay exact");
            self.graph.mark_unready();
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
        self.search_vectors(namespace, vector, k, filter).await
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
        let mut hits = self.hits_for(&ranked, filter).await?;
        hits.truncate(k);
        Ok(hits)
    }
}
