//! Re-embedding the knowledge store in place (`sp reindex`): one write transaction that reads
//! every section page by page, has the new model embed it, writes the new vectors and token
//! counts, and records the new model and width — all of it or, on any failure, nothing. The
//! reads and the settings are written once for both drivers ([`reembed_rows!`]); each backend
//! writes its own vector column (a BLOB in SQLite, pgvector in PostgreSQL).
//!
//! The store must not be served meanwhile: the embedded data directory's serve lock keeps a
//! server out; on PostgreSQL the transaction locks the sections against readers and
//! writers, and the caller stops the servers first (a server still running would keep
//! embedding queries with the old model).

use super::documents::SectionRow;
use crate::sql::{DbId, Dialect};
use sp_core::knowledge::{
    Namespace, ReembedReport, ReembeddedSection, Reembedder, Section, StoredSection,
};
use sp_core::{Error, Result};
use sqlx::AssertSqlSafe;

/// Sections read, embedded and written per round: large enough to fill an embedding model's
/// batches, small enough that a big store is never all in memory.
const PAGE: i64 = 256;

/// Calls `progress(done, total)` as sections are re-embedded.
pub type ReembedProgress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// The rows of one driver's re-embedding.
pub(crate) struct SqlReembed<DB>(std::marker::PhantomData<DB>);

/// A section row as a re-embedding reads it.
#[derive(sqlx::FromRow)]
struct StoredRow {
    key: i64,
    document_id: DbId,
    title: String,
    #[sqlx(flatten)]
    section: SectionRow,
}

impl TryFrom<StoredRow> for StoredSection {
    type Error = Error;

    fn try_from(row: StoredRow) -> Result<Self> {
        Ok(StoredSection {
            key: row.key,
            document_id: row.document_id.0,
            title: row.title,
            section: Section::try_from(row.section)?,
        })
    }
}

fn width(dimensions: i32) -> Result<usize> {
    usize::try_from(dimensions).map_err(Error::internal)
}

/// Stamps the shared part for one driver; `$key` is the section table's integer key.
macro_rules! reembed_rows {
    ($db:ty, $key:literal) => {
        impl SqlReembed<$db> {
            /// The recorded width and model, if the store was ever opened.
            pub(crate) async fn recorded(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<Option<(usize, Option<String>)>> {
                let found: Option<(i32, Option<String>)> =
                    sqlx::query_as("SELECT dimensions, embedder FROM kb_settings WHERE id = 1")
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(<$db as Dialect>::error)?;
                found
                    .map(|(dimensions, model)| Ok((width(dimensions)?, model)))
                    .transpose()
            }

            /// Sections, documents (with a section) and namespaces the store holds.
            async fn totals(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<(u64, u64, Vec<Namespace>)> {
                let db = <$db as Dialect>::error;
                let (sections, documents): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), COUNT(DISTINCT document_id) FROM kb_sections",
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT d.namespace FROM kb_documents d \
                     WHERE EXISTS (SELECT 1 FROM kb_sections s WHERE s.document_id = d.id) \
                     ORDER BY d.namespace",
                )
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                let namespaces = names
                    .into_iter()
                    .map(Namespace::new)
                    .collect::<Result<Vec<_>>>()?;
                let count = |n: i64| u64::try_from(n).map_err(Error::internal);
                Ok((count(sections)?, count(documents)?, namespaces))
            }

            /// The sections after key `after`, in key order.
            async fn page(
                conn: &mut <$db as sqlx::Database>::Connection,
                after: i64,
            ) -> Result<Vec<StoredSection>> {
                let text = concat!(
                    "SELECT s.",
                    $key,
                    " AS key, s.document_id, d.title, s.ordinal, s.heading_path, s.text, \
                     s.token_count FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id \
                     WHERE s.",
                    $key,
                    " > $1 ORDER BY s.",
                    $key,
                    " LIMIT $2"
                );
                sqlx::query_as::<_, StoredRow>(AssertSqlSafe(text))
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(StoredSection::try_from)
                    .collect()
            }

            /// Records the new width and model.
            async fn record(
                conn: &mut <$db as sqlx::Database>::Connection,
                reembedder: &Reembedder,
            ) -> Result<()> {
                let dimensions =
                    i32::try_from(reembedder.dimensions()).map_err(Error::internal)?;
                sqlx::query(
                    "INSERT INTO kb_settings (id, dimensions, embedder) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET dimensions = $1, embedder = $2",
                )
                .bind(dimensions)
                .bind(reembedder.model_id())
                .execute(&mut *conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            /// Re-embeds every section inside the open transaction `conn`, writing each
            /// page with `write`, then records the new model.
            pub(crate) async fn run(
                conn: &mut <$db as sqlx::Database>::Connection,
                reembedder: &Reembedder,
                progress: ReembedProgress<'_>,
            ) -> Result<ReembedReport> {
                let before = Self::recorded(&mut *conn).await?;
                let (sections, documents, namespaces) = Self::totals(&mut *conn).await?;
                progress(0, sections);
                let (mut after, mut done) = (i64::MIN, 0_u64);
                loop {
                    let page = Self::page(&mut *conn, after).await?;
                    let Some(last) = page.last() else { break };
                    after = last.key;
                    for batch in page.chunks(reembedder.batch()) {
                        let embedded = reembedder.embed(batch).await?;
                        Self::write(&mut *conn, &embedded).await?;
                        done += embedded.len() as u64;
                        progress(done, sections);
                    }
                }
                Self::record(&mut *conn, reembedder).await?;
                let (from_dimensions, from_model) = before.unzip();
                Ok(ReembedReport {
                    from_model: from_model.flatten(),
                    to_model: reembedder.model_id().to_owned(),
                    from_dimensions,
                    to_dimensions: reembedder.dimensions(),
                    documents,
                    sections: done,
                    namespaces,
                })
            }
        }
    };
}

reembed_rows!(sqlx::Sqlite, "rowid");
#[cfg(feature = "postgres")]
reembed_rows!(sqlx::Postgres, "id");

impl SqlReembed<sqlx::Sqlite> {
    async fn write(
        conn: &mut sqlx::SqliteConnection,
        sections: &[ReembeddedSection],
    ) -> Result<()> {
        for section in sections {
            sqlx::query("UPDATE kb_sections SET embedding = $1, token_count = $2 WHERE rowid = $3")
                .bind(super::vector_to_bytes(&section.vector))
                .bind(i64::from(section.token_count))
                .bind(section.key)
                .execute(&mut *conn)
                .await
                .map_err(<sqlx::Sqlite as Dialect>::error)?;
        }
        Ok(())
    }
}

#[cfg(feature = "postgres")]
impl SqlReembed<sqlx::Postgres> {
    /// One statement per batch (arrays unnested server-side), into `embedding_next` (see
    /// `Database::reembed_documents`).
    async fn write(conn: &mut sqlx::PgConnection, sections: &[ReembeddedSection]) -> Result<()> {
        let keys: Vec<i64> = sections.iter().map(|s| s.key).collect();
        let tokens = sections
            .iter()
            .map(|s| i32::try_from(s.token_count).map_err(Error::internal))
            .collect::<Result<Vec<_>>>()?;
        let vectors: Vec<pgvector::Vector> = sections
            .iter()
            .map(|s| pgvector::Vector::from(s.vector.clone()))
            .collect();
        sqlx::query(
            "UPDATE kb_sections s SET embedding_next = n.embedding, token_count = n.token_count \
             FROM UNNEST($1::int8[], $2::int4[], $3::vector[]) AS n(id, token_count, embedding) \
             WHERE s.id = n.id",
        )
        .bind(&keys)
        .bind(&tokens)
        .bind(&vectors)
        .execute(&mut *conn)
        .await
        .map_err(<sqlx::Postgres as Dialect>::error)?;
        Ok(())
    }
}

impl crate::Database {
    /// Re-embeds every section of the knowledge store (soft-deleted documents' too) with
    /// `reembedder` and records its model and width, in one transaction: on any failure — a
    /// section longer than the new model's window, the model failing, the database — nothing
    /// changes. Sections keep their boundaries and text; their token counts are recounted.
    /// On the embedded database it is refused (`Conflict`) while a knowledge store of this
    /// process has it open. The database must be migrated and not served meanwhile (see the
    /// module's notes);
    /// afterwards open it with the new model. Returns what it changed; `progress` is called
    /// with `(done, total)` sections as it goes.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use sp_core::knowledge::{HashEmbedder, Reembedder, SimpleTokenizer};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = sp_data::Database::open(&dir.path().display().to_string(), None).await?;
    /// db.document_store(64).await?.adopt_embedder("hash-v1-64").await?;
    /// let wider = Reembedder::new(Arc::new(HashEmbedder::new(128)), Arc::new(SimpleTokenizer));
    /// let report = db.reembed_documents(&wider, &|_, _| {}).await?;
    /// assert_eq!((report.from_dimensions, report.to_dimensions), (Some(64), 128));
    /// assert!(db.document_store(128).await.is_ok()); // the store is now 128 wide
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn reembed_documents(
        &self,
        reembedder: &Reembedder,
        progress: ReembedProgress<'_>,
    ) -> Result<ReembedReport> {
        match self {
            crate::Database::Embedded(db) => {
                let sqlite = <sqlx::Sqlite as Dialect>::error;
                super::SqliteDocumentStore::exclusively(db, async {
                    let mut tx = db
                        .pool()
                        .begin_with(<sqlx::Sqlite as Dialect>::BEGIN_WRITE)
                        .await
                        .map_err(sqlite)?;
                    let report =
                        SqlReembed::<sqlx::Sqlite>::run(&mut tx, reembedder, progress).await?;
                    tx.commit().await.map_err(sqlite)?;
                    Ok(report)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            crate::Database::Postgres(pg) => {
                let postgres = <sqlx::Postgres as Dialect>::error;
                let mut tx = pg.pool().begin().await.map_err(postgres)?;
                // The new vectors go into a new column that then takes the old one's place:
                // an index build also reads the row versions this transaction replaced, and
                // the old ones cast to the new width would fail it — in a new column they
                // are NULL, which the index skips. Readers and writers wait meanwhile.
                for statement in [
                    "LOCK TABLE kb_settings, kb_sections IN ACCESS EXCLUSIVE MODE",
                    "DROP INDEX IF EXISTS kb_sections_embedding",
                    "ALTER TABLE kb_sections ADD COLUMN embedding_next vector",
                ] {
                    sqlx::query(statement)
                        .execute(&mut *tx)
                        .await
                        .map_err(postgres)?;
                }
                let report =
                    SqlReembed::<sqlx::Postgres>::run(&mut tx, reembedder, progress).await?;
                let create_index = pg.create_vector_index(report.to_dimensions, false);
                for statement in [
                    "ALTER TABLE kb_sections DROP COLUMN embedding",
                    "ALTER TABLE kb_sections RENAME COLUMN embedding_next TO embedding",
                    "ALTER TABLE kb_sections ALTER COLUMN embedding SET NOT NULL",
                    create_index.as_str(),
                ] {
                    sqlx::query(AssertSqlSafe(statement))
                        .execute(&mut *tx)
                        .await
                        .map_err(postgres)?;
                }
                tx.commit().await.map_err(postgres)?;
                Ok(report)
            }
        }
    }

    /// The knowledge store's recorded vector width and embedding model (`None`: never
    /// opened; a `None` model: made before models were recorded), on a migrated database.
    pub async fn recorded_embedder(&self) -> Result<Option<(usize, Option<String>)>> {
        match self {
            crate::Database::Embedded(db) => {
                let mut conn = db
                    .pool()
                    .acquire()
                    .await
                    .map_err(<sqlx::Sqlite as Dialect>::error)?;
                SqlReembed::<sqlx::Sqlite>::recorded(&mut conn).await
            }
            #[cfg(feature = "postgres")]
            crate::Database::Postgres(pg) => {
                let mut conn = pg
                    .pool()
                    .acquire()
                    .await
                    .map_err(<sqlx::Postgres as Dialect>::error)?;
                SqlReembed::<sqlx::Postgres>::recorded(&mut conn).await
            }
        }
    }
}
