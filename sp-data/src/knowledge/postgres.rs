//! The PostgreSQL knowledge backend: pgvector HNSW for vectors, a GIN `tsvector` index for
//! full text, `jsonb @>` for metadata filters.

use pgvector::Vector;
use serde_json::Value;
use sp_core::knowledge::{
    Document, Ingested, Namespace, PreparedDocument, SearchHit, Section, check_vector,
};
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::postgres::PgRow;
use std::sync::atomic::Ordering;

use sqlx::{AssertSqlSafe, Postgres, Row};

use super::documents::{Existing, SqlDocuments, count, document_store};
use super::query_words;
use crate::PgStore;
use crate::error::sqlx_error;

/// Knowledge documents in PostgreSQL with pgvector.
#[derive(Debug, Clone)]
pub struct PgDocumentStore {
    rows: SqlDocuments<Postgres>,
    dimensions: usize,
    /// `embedding::vector(N)`: the expression the HNSW index is built on, repeated in queries
    /// so the planner uses it.
    embedding_expr: String,
    /// The standby searches go to (`database.read_url`).
    standby: Option<sqlx::PgPool>,
    /// Whether the standby's last search failed (its outage is logged once).
    standby_failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

impl PgDocumentStore {
    /// Fixes the dimension on first use (refusing another one later) and makes sure the HNSW
    /// index exists; `pg` must be migrated ([`PgStore::migrate`], or
    /// [`Database::open_stores`](crate::Database::open_stores), which does it once).
    pub async fn open(pg: &PgStore, dimensions: usize) -> Result<Self> {
        let rows = SqlDocuments::<Postgres>::open(pg.pool().clone(), dimensions).await?;
        let embedding_expr = format!("(s.embedding::vector({dimensions}))");
        // An existing index keeps the parameters it was built with.
        let create_index = pg.create_vector_index(dimensions, true);
        sqlx::query(AssertSqlSafe(create_index))
            .execute(&rows.pool)
            .await
            .map_err(db)?;
        Ok(PgDocumentStore {
            rows,
            dimensions,
            embedding_expr,
            standby: pg.read_pool().cloned(),
            standby_failing: Default::default(),
        })
    }

    /// Runs a search statement: `rank` binds its `$1` (the ranking input), then the
    /// namespace (`$2`) and the metadata filter (`$3`) are bound and the rows mapped. On the
    /// standby when `database.read_url` is set; a search the standby cannot answer (down,
    /// or a query cancelled by its recovery) runs on the primary instead, the outage logged
    /// once.
    async fn run_search<'q>(
        &self,
        sql: String,
        rank: impl Fn(SearchQuery<'q>) -> SearchQuery<'q>,
        namespace: &Namespace,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        if let Some(standby) = &self.standby {
            let query = rank(sqlx::query(AssertSqlSafe(sql.clone())));
            match fetch_hits(standby, query, namespace, filter).await {
                Ok(hits) => {
                    if self.standby_failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("the standby answers searches again");
                    }
                    return Ok(hits);
                }
                Err(err) => {
                    if !self.standby_failing.swap(true, Ordering::Relaxed) {
                        tracing::warn!(%err, "the standby cannot search; searching the primary");
                    }
                }
            }
        }
        let query = rank(sqlx::query(AssertSqlSafe(sql)));
        fetch_hits(&self.rows.pool, query, namespace, filter).await
    }
}

type SearchQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

async fn fetch_hits(
    pool: &sqlx::PgPool,
    query: SearchQuery<'_>,
    namespace: &Namespace,
    filter: Option<&Value>,
) -> Result<Vec<SearchHit>> {
    let rows = query
        .bind(namespace.as_str())
        .bind(filter)
        .fetch_all(pool)
        .await
        .map_err(db)?;
    rows.iter().map(hit_from_row).collect()
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
            ordinal: count(row.get(0))?,
            heading_path: serde_json::from_value(heading_path).map_err(Error::internal)?,
            text: row.get(2),
            token_count: count(row.get(3))?,
        },
        score: row.get(4),
    })
}

impl PgDocumentStore {
    async fn put_document(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            check_vector(vector, self.dimensions)?;
        }
        let new = &prepared.document;
        let ns = new.namespace.as_str();
        let mut tx = self.rows.pool.begin().await.map_err(db)?;
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
        let replacing = match SqlDocuments::<Postgres>::existing(&mut tx, &prepared).await? {
            Existing::Unchanged(id) => return self.rows.unchanged(tx, &new.namespace, id).await,
            Existing::Stale(id, took) => {
                sqlx::query("DELETE FROM kb_sections WHERE document_id = $1")
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                Some((id, took))
            }
            Existing::Absent => None,
        };
        let (id, outcome) = SqlDocuments::<Postgres>::write(&mut tx, &prepared, replacing).await?;
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
            document: self.rows.document(&new.namespace, id, true).await?,
            outcome,
        })
    }

    async fn delete_document(&self, namespace: &Namespace, id: Id) -> Result<()> {
        self.rows.mark_deleted(namespace, id).await
    }

    async fn restore_document(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        self.rows.mark_restored(namespace, id).await?;
        self.rows.document(namespace, id, true).await
    }

    async fn purge_document(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut tx = self.rows.pool.begin().await.map_err(db)?;
        SqlDocuments::<Postgres>::purge_row(&mut tx, namespace, id).await?;
        tx.commit().await.map_err(db)
    }
}

document_store!(PgDocumentStore {
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
            let hits = self
                .run_search(
                    sql(candidates),
                    |query| query.bind(Vector::from(vector.to_vec())),
                    namespace,
                    filter,
                )
                .await?;
            if hits.len() >= k {
                return Ok(hits);
            }
            let total = match population {
                Some(total) => total,
                None => {
                    let count: i64 =
                        sqlx::query_scalar("SELECT count(*) FROM kb_sections WHERE namespace = $1")
                            .bind(namespace.as_str())
                            .fetch_one(&self.rows.pool)
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
        self.run_search(sql, |query| query.bind(tsquery.clone()), namespace, filter)
            .await
    }
});
