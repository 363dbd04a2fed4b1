//! The PostgreSQL knowledge backend: pgvector HNSW for vectors, a GIN `tsvector` index for
//! full text, `jsonb @>` for metadata filters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pgvector::Vector;
use serde_json::Value;
use sp_core::knowledge::{
    Document, DocumentStore, IngestOutcome, Ingested, Namespace, PreparedDocument, SearchHit,
    Section, check_vector,
};
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Row};

use super::query_words;
use crate::PgStore;
use crate::error::sqlx_error;

const DOC_COLUMNS: &str = "d.id, d.namespace, d.external_id, d.title, d.source_uri, d.metadata, \
     d.content_hash, d.section_count, d.created_at, d.updated_at, d.deleted_at";

/// Knowledge documents in PostgreSQL with pgvector.
#[derive(Debug, Clone)]
pub struct PgDocumentStore {
    pool: PgPool,
    dimensions: usize,
    /// `embedding::vector(N)`: the expression the HNSW index is built on, repeated in queries
    /// so the planner uses it.
    embedding_expr: String,
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

impl PgDocumentStore {
    /// Fixes the dimension on first use (refusing another one later) and makes sure the HNSW
    /// index exists; `pg` must be migrated ([`PgStore::migrate`], or
    /// [`Database::open_stores`](crate::Database::open_stores), which does it once).
    pub async fn open(pg: &PgStore, dimensions: usize) -> Result<Self> {
        let pool = pg.pool().clone();
        sqlx::query(
            "INSERT INTO kb_settings (id, dimensions) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(dimensions as i32)
        .execute(&pool)
        .await
        .map_err(db)?;
        let stored: i32 = sqlx::query_scalar("SELECT dimensions FROM kb_settings WHERE id = 1")
            .fetch_one(&pool)
            .await
            .map_err(db)?;
        if stored as usize != dimensions {
            return Err(Error::DimensionMismatch {
                expected: stored as usize,
                got: dimensions,
            });
        }
        let embedding_expr = format!("(s.embedding::vector({dimensions}))");
        let create_index = format!(
            "CREATE INDEX IF NOT EXISTS kb_sections_embedding ON kb_sections \
             USING hnsw ((embedding::vector({dimensions})) vector_cosine_ops)"
        );
        sqlx::query(AssertSqlSafe(create_index))
            .execute(&pool)
            .await
            .map_err(db)?;
        Ok(PgDocumentStore {
            pool,
            dimensions,
            embedding_expr,
        })
    }

    /// Finishes a search statement whose `$1` (the ranking input) is bound: binds the
    /// namespace (`$2`) and the metadata filter (`$3`), and maps the rows.
    async fn run_search(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        namespace: &Namespace,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let rows = query
            .bind(namespace.as_str())
            .bind(filter)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;

        if rows.is_empty() {
            // Only an empty answer pays for telling "no match" from "no such namespace".
            self.require_namespace(namespace).await?;
        }
        rows.iter().map(hit_from_row).collect()
    }

    async fn require_namespace(&self, namespace: &Namespace) -> Result<()> {
        let known: Option<i32> = sqlx::query_scalar("SELECT 1 FROM kb_namespaces WHERE name = $1")
            .bind(namespace.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        known.map(|_| ()).ok_or_else(|| Error::NotFound {
            kind: "namespace",
            id: namespace.as_str().to_owned(),
        })
    }

    async fn document(&self, namespace: &Namespace, id: Id, live_only: bool) -> Result<Document> {
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.id = $1 AND d.namespace = $2{}",
            if live_only {
                " AND d.deleted_at IS NULL"
            } else {
                ""
            }
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(namespace.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| not_found(id))?;
        document_from_row(&row, 0)
    }
}

fn not_found(id: Id) -> Error {
    Error::NotFound {
        kind: "document",
        id: id.to_string(),
    }
}

fn document_from_row(row: &PgRow, at: usize) -> Result<Document> {
    let deleted: Option<DateTime<Utc>> = row.get(at + 10);
    Ok(Document {
        id: Id::from_uuid(row.get(at)),
        namespace: Namespace::new(row.get::<String, _>(at + 1))?,
        external_id: row.get(at + 2),
        title: row.get(at + 3),
        source_uri: row.get(at + 4),
        metadata: row.get(at + 5),
        content_hash: row.get(at + 6),
        section_count: row.get::<i32, _>(at + 7) as u32,
        created_at: Timestamp::from_datetime(row.get(at + 8)),
        updated_at: Timestamp::from_datetime(row.get(at + 9)),
        deleted_at: deleted.map(Timestamp::from_datetime),
    })
}

/// The document columns a search hit carries, after the section's five.
const HIT_COLUMNS: &str = "d.id, d.title, d.external_id, d.metadata";

/// Rows of `SELECT ordinal, heading_path, text, token_count, score, <HIT_COLUMNS>`.
fn hit_from_row(row: &PgRow) -> Result<SearchHit> {
    let heading_path: Value = row.get(1);
    Ok(SearchHit {
        document_id: Id::from_uuid(row.get(5)),
        title: row.get(6),
        external_id: row.get(7),
        metadata: row.get(8),
        section: Section {
            ordinal: row.get::<i32, _>(0) as u32,
            heading_path: serde_json::from_value(heading_path).map_err(Error::internal)?,
            text: row.get(2),
            token_count: row.get::<i32, _>(3) as u32,
        },
        score: row.get(4),
    })
}

#[async_trait]
impl DocumentStore for PgDocumentStore {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn put(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            check_vector(vector, self.dimensions)?;
        }
        let new = &prepared.document;
        let ns = new.namespace.as_str();
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO kb_namespaces (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(ns)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Serialise concurrent ingests of the same document: the lock is keyed by its identity
        // and released at commit.
        let identity = format!(
            "{ns}\n{}",
            new.external_id.as_deref().unwrap_or(&prepared.content_hash)
        );
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(identity)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let existing = match &new.external_id {
            Some(ext) => sqlx::query(
                "SELECT id, content_hash, deleted_at IS NOT NULL FROM kb_documents \
                 WHERE namespace = $1 AND external_id = $2",
            )
            .bind(ns)
            .bind(ext),
            None => sqlx::query(
                "SELECT id, content_hash, deleted_at IS NOT NULL FROM kb_documents \
                 WHERE namespace = $1 AND external_id IS NULL AND content_hash = $2",
            )
            .bind(ns)
            .bind(&prepared.content_hash),
        }
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let now = Timestamp::now().as_datetime();
        let (id, outcome) = match existing {
            Some(row) => {
                let id = Id::from_uuid(row.get(0));
                if row.get::<String, _>(1) == prepared.content_hash && !row.get::<bool, _>(2) {
                    tx.commit().await.map_err(db)?;
                    return Ok(Ingested {
                        document: self.document(&new.namespace, id, true).await?,
                        outcome: IngestOutcome::Unchanged,
                    });
                }
                sqlx::query("DELETE FROM kb_sections WHERE document_id = $1")
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query(
                    "UPDATE kb_documents SET title = $1, source_uri = $2, metadata = $3, content = $4, \
                     content_hash = $5, section_count = $6, updated_at = $7, deleted_at = NULL WHERE id = $8",
                )
                .bind(&new.title)
                .bind(&new.source_uri)
                .bind(&new.metadata)
                .bind(&new.content)
                .bind(&prepared.content_hash)
                .bind(prepared.sections.len() as i32)
                .bind(now)
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                (id, IngestOutcome::Replaced)
            }
            None => {
                let id = Id::new();
                sqlx::query(
                    "INSERT INTO kb_documents (id, namespace, external_id, title, source_uri, metadata, \
                     content, content_hash, section_count, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                )
                .bind(id.as_uuid())
                .bind(ns)
                .bind(&new.external_id)
                .bind(&new.title)
                .bind(&new.source_uri)
                .bind(&new.metadata)
                .bind(&new.content)
                .bind(&prepared.content_hash)
                .bind(prepared.sections.len() as i32)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                (id, IngestOutcome::Created)
            }
        };
        // One multi-row insert per document (arrays unnested server-side).
        let mut ordinals = Vec::new();
        let mut paths = Vec::new();
        let mut texts = Vec::new();
        let mut tokens = Vec::new();
        let mut vectors = Vec::new();
        for (section, vector) in &prepared.sections {
            ordinals.push(section.ordinal as i32);
            paths.push(serde_json::to_value(&section.heading_path).map_err(Error::internal)?);
            texts.push(section.text.clone());
            tokens.push(section.token_count as i32);
            vectors.push(Vector::from(vector.clone()));
        }
        sqlx::query(
            "INSERT INTO kb_sections (document_id, namespace, ordinal, heading_path, text, token_count, embedding) \
             SELECT $1, $7, * FROM UNNEST($2::int4[], $3::jsonb[], $4::text[], $5::int4[], $6::vector[])",
        )
        .bind(id.as_uuid())
        .bind(&ordinals)
        .bind(&paths)
        .bind(&texts)
        .bind(&tokens)
        .bind(&vectors)
        .bind(ns)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
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
            "SELECT ordinal, heading_path, text, token_count FROM kb_sections WHERE document_id = $1 ORDER BY ordinal",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(Section {
                    ordinal: row.get::<i32, _>(0) as u32,
                    heading_path: serde_json::from_value(row.get(1)).map_err(Error::internal)?,
                    text: row.get(2),
                    token_count: row.get::<i32, _>(3) as u32,
                })
            })
            .collect()
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
            "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.namespace = $1 \
             AND ($2::uuid IS NULL OR d.id < $2){} ORDER BY d.id DESC LIMIT $3",
            if include_deleted {
                ""
            } else {
                " AND d.deleted_at IS NULL"
            }
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(after.map(|id| id.as_uuid()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let documents = rows
            .iter()
            .map(|r| document_from_row(r, 0))
            .collect::<Result<Vec<_>>>()?;
        Page::from_rows(documents, page.limit, |d| d.id)
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let done = sqlx::query(
            "UPDATE kb_documents SET deleted_at = now() WHERE id = $1 AND namespace = $2 AND deleted_at IS NULL",
        )
        .bind(id.as_uuid())
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
        let done = sqlx::query(
            "UPDATE kb_documents SET deleted_at = NULL WHERE id = $1 AND namespace = $2",
        )
        .bind(id.as_uuid())
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
        let done = sqlx::query("DELETE FROM kb_documents WHERE id = $1 AND namespace = $2")
            .bind(id.as_uuid())
            .bind(namespace.as_str())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
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
        let e = &self.embedding_expr;
        // The nearest sections are ranked on kb_sections alone, materialised, so the plan is
        // always the HNSW index scan under a LIMIT (pgvector's iterative scan keeps it going
        // past rows of other namespaces); each candidate then looks up its document by key.
        // The lookup is a LATERAL subquery with LIMIT 1 so the planner cannot flatten it
        // into a join: the generic plan of a plain join hashed a sequential scan of every
        // document (1.5× the hand-written query at 10k sections, worse as the table grows).
        // Deleted documents and the metadata filter apply after ranking, so the candidate
        // list widens until k survive or the namespace runs out.
        // LIMITs are literals, not parameters: with `LIMIT $n` a cached generic plan assumes
        // a tenth of the table and prefers a sequential scan with a sort over the index.
        let sql = |candidates: usize| {
            format!(
                "WITH r AS MATERIALIZED ( \
                 SELECT s.id, s.document_id, s.ordinal, s.heading_path, s.text, s.token_count, \
                 {e} <=> $1 AS distance FROM kb_sections s \
                 WHERE s.namespace = $2 ORDER BY {e} <=> $1 LIMIT {candidates}) \
             SELECT r.ordinal, r.heading_path, r.text, r.token_count, \
             (1 - r.distance)::float8 AS score, {HIT_COLUMNS} \
             FROM r CROSS JOIN LATERAL ( \
                 SELECT {HIT_COLUMNS} FROM kb_documents d WHERE d.id = r.document_id \
                 AND d.deleted_at IS NULL AND ($3::jsonb IS NULL OR d.metadata @> $3) LIMIT 1) d \
             ORDER BY r.distance, r.id LIMIT {k}"
            )
        };
        let mut candidates = if filter.is_some() { (k * 4).max(32) } else { k };
        let mut population: Option<usize> = None;
        loop {
            let ranked =
                sqlx::query(AssertSqlSafe(sql(candidates))).bind(Vector::from(vector.to_vec()));
            let hits = self.run_search(ranked, namespace, filter).await?;
            if hits.len() >= k {
                return Ok(hits);
            }
            let total = match population {
                Some(total) => total,
                None => {
                    let count: i64 =
                        sqlx::query_scalar("SELECT count(*) FROM kb_sections WHERE namespace = $1")
                            .bind(namespace.as_str())
                            .fetch_one(&self.pool)
                            .await
                            .map_err(db)?;
                    *population.insert(count as usize)
                }
            };
            if candidates >= total {
                return Ok(hits);
            }
            candidates = candidates.saturating_mul(4);
        }
    }

    async fn keyword_search(
        &self,
        namespace: &Namespace,
        query: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let words = query_words(query);
        if words.is_empty() {
            self.require_namespace(namespace).await?;
            return Ok(Vec::new());
        }
        // Words are alphanumeric only, so joining them with `|` is a safe tsquery.
        let tsquery = words.join(" | ");
        let sql = format!(
            "SELECT s.ordinal, s.heading_path, s.text, s.token_count, \
             ts_rank_cd(s.tsv, q)::float8 AS score, {HIT_COLUMNS} \
             FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id, \
             to_tsquery('english', $1) q \
             WHERE s.tsv @@ q AND s.namespace = $2 AND d.deleted_at IS NULL \
             AND ($3::jsonb IS NULL OR d.metadata @> $3) \
             ORDER BY score DESC, s.id LIMIT {k}"
        );
        let ranked = sqlx::query(AssertSqlSafe(sql)).bind(tsquery);
        self.run_search(ranked, namespace, filter).await
    }
}
