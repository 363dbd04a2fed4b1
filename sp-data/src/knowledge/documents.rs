//! The document rows both knowledge backends keep alike, written once (`$N` placeholders, the
//! column types of [`crate::sql`]) and stamped for SQLite and PostgreSQL by
//! [`document_rows!`]: the dimension setting, namespaces, document identity on ingest, reads,
//! pages, soft delete and restore. Sections and search are each backend's own (FTS5 and an
//! in-process index against `tsvector` and pgvector).

use sp_core::knowledge::{Document, IngestOutcome, Ingested, Namespace, PreparedDocument, Section};
use sp_core::tenants::StorageDelta;
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::sql::{DbId, DbTime, Dialect};

/// The document columns of [`DocumentRow`].
pub(super) const DOC_COLUMNS: &str = "d.id, d.namespace, d.external_id, d.title, d.source_uri, \
     d.metadata, d.content_hash, d.section_count, d.created_at, d.updated_at, d.deleted_at";

#[derive(sqlx::FromRow)]
pub(super) struct DocumentRow {
    id: DbId,
    namespace: String,
    external_id: Option<String>,
    title: String,
    source_uri: Option<String>,
    metadata: serde_json::Value,
    content_hash: String,
    section_count: i32,
    created_at: DbTime,
    updated_at: DbTime,
    deleted_at: Option<DbTime>,
}

/// A stored count; a negative one means a corrupt row.
pub(super) fn count(stored: i32) -> Result<u32> {
    u32::try_from(stored).map_err(|_| Error::internal(format!("stored count {stored} < 0")))
}

impl TryFrom<DocumentRow> for Document {
    type Error = Error;

    fn try_from(row: DocumentRow) -> Result<Self> {
        Ok(Document {
            id: row.id.0,
            namespace: Namespace::new(row.namespace)?,
            external_id: row.external_id,
            title: row.title,
            source_uri: row.source_uri,
            metadata: row.metadata,
            content_hash: row.content_hash,
            section_count: count(row.section_count)?,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
            deleted_at: row.deleted_at.map(|t| t.0),
        })
    }
}

/// The section columns of [`SectionRow`], unqualified.
pub(super) const SECTION_COLUMNS: &str = "ordinal, heading_path, text, token_count";

#[derive(sqlx::FromRow)]
pub(super) struct SectionRow {
    ordinal: i32,
    heading_path: Json<Vec<String>>,
    text: String,
    token_count: i32,
}

impl TryFrom<SectionRow> for Section {
    type Error = Error;

    fn try_from(row: SectionRow) -> Result<Self> {
        Ok(Section {
            ordinal: count(row.ordinal)?,
            heading_path: row.heading_path.0,
            text: row.text,
            token_count: count(row.token_count)?,
        })
    }
}

pub(super) fn not_found(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Document,
        id: id.to_string(),
    }
}

/// A stored document's identity columns: id, content hash, deleted, sections, bytes.
type Identity = (DbId, String, bool, i32, i64);

/// What an ingest finds under the document's identity (its external id, or else its content
/// hash) in the namespace.
pub(super) enum Existing {
    /// Nothing: the document is new.
    Absent,
    /// A live document with the same content: nothing to write.
    Unchanged(Id),
    /// A document whose content changed, or a soft-deleted one coming back, and what it
    /// takes of its tenant's storage.
    Stale(Id, StorageDelta),
}

/// The document rows of one database. A namespace that holds nothing reads as empty: every
/// tenant's namespaces exist, filled or not.
#[derive(Debug)]
pub(super) struct SqlDocuments<DB: sqlx::Database> {
    pub(super) pool: sqlx::Pool<DB>,
}

impl<DB: sqlx::Database> Clone for SqlDocuments<DB> {
    fn clone(&self) -> Self {
        SqlDocuments {
            pool: self.pool.clone(),
        }
    }
}

fn sql(text: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(text)
}

/// Stamps the document rows for one driver; the body is the same SQL for each.
macro_rules! document_rows {
    ($db:ty) => {
        impl SqlDocuments<$db> {
            /// The rows of `pool`, which fixes the vector width on first use and refuses
            /// another one later.
            pub(super) async fn open(pool: sqlx::Pool<$db>, dimensions: usize) -> Result<Self> {
                let db = <$db as Dialect>::error;
                let width = i32::try_from(dimensions).map_err(Error::internal)?;
                sqlx::query(
                    "INSERT INTO kb_settings (id, dimensions) VALUES (1, $1) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(width)
                .execute(&pool)
                .await
                .map_err(db)?;
                let stored: i32 =
                    sqlx::query_scalar("SELECT dimensions FROM kb_settings WHERE id = 1")
                        .fetch_one(&pool)
                        .await
                        .map_err(db)?;
                if stored != width {
                    return Err(Error::DimensionMismatch {
                        expected: usize::try_from(stored).map_err(Error::internal)?,
                        got: dimensions,
                    });
                }
                Ok(SqlDocuments { pool })
            }

            /// Records `model` as the store's embedder when none is recorded; refuses
            /// another one (`EmbedderMismatch`).
            pub(super) async fn adopt_embedder(&self, model: &str) -> Result<()> {
                let db = <$db as Dialect>::error;
                sqlx::query(
                    "UPDATE kb_settings SET embedder = $1 WHERE id = 1 AND embedder IS NULL",
                )
                .bind(model)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                let stored: Option<String> =
                    sqlx::query_scalar("SELECT embedder FROM kb_settings WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                match stored {
                    Some(stored) if stored != model => Err(Error::EmbedderMismatch {
                        stored,
                        got: model.to_owned(),
                    }),
                    _ => Ok(()),
                }
            }

            pub(super) async fn document(
                &self,
                namespace: &Namespace,
                id: Id,
                live_only: bool,
            ) -> Result<Document> {
                let live = if live_only { " AND d.deleted_at IS NULL" } else { "" };
                let text = format!(
                    "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.id = $1 \
                     AND d.namespace = $2{live}"
                );
                sqlx::query_as::<_, DocumentRow>(sql(text))
                    .bind(DbId(id))
                    .bind(namespace.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .ok_or_else(|| not_found(id))?
                    .try_into()
            }

            /// An ingest that found the document unchanged: ends its transaction and answers.
            pub(super) async fn unchanged(
                &self,
                tx: sqlx::Transaction<'_, $db>,
                namespace: &Namespace,
                id: Id,
            ) -> Result<Ingested> {
                tx.commit().await.map_err(<$db as Dialect>::error)?;
                Ok(Ingested {
                    document: self.document(namespace, id, true).await?,
                    outcome: IngestOutcome::Unchanged,
                })
            }

            /// The sections of a live document, in order.
            pub(super) async fn sections(
                &self,
                namespace: &Namespace,
                id: Id,
            ) -> Result<Vec<Section>> {
                self.document(namespace, id, true).await?;
                let text = format!(
                    "SELECT {SECTION_COLUMNS} FROM kb_sections WHERE document_id = $1 \
                     ORDER BY ordinal"
                );
                sqlx::query_as::<_, SectionRow>(sql(text))
                    .bind(DbId(id))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(Section::try_from)
                    .collect()
            }

            pub(super) async fn list(
                &self,
                namespace: &Namespace,
                page: &PageRequest,
                include_deleted: bool,
            ) -> Result<Page<Document>> {
                let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
                let live = if include_deleted { "" } else { " AND d.deleted_at IS NULL" };
                let text = format!(
                    "SELECT {DOC_COLUMNS} FROM kb_documents d WHERE d.namespace = $1 \
                     AND d.id < $2{live} ORDER BY d.id DESC LIMIT $3"
                );
                let documents = sqlx::query_as::<_, DocumentRow>(sql(text))
                    .bind(namespace.as_str())
                    .bind(DbId::before(after))
                    .bind(i64::from(page.limit) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(Document::try_from)
                    .collect::<Result<Vec<_>>>()?;
                Page::from_rows(documents, page.limit, |d| d.id)
            }

            /// Soft-deletes a live document.
            pub(super) async fn mark_deleted(&self, namespace: &Namespace, id: Id) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE kb_documents SET deleted_at = $1 WHERE id = $2 AND namespace = $3 \
                     AND deleted_at IS NULL",
                )
                .bind(DbTime::now())
                .bind(DbId(id))
                .bind(namespace.as_str())
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                if done.rows_affected() == 0 {
                    return Err(not_found(id));
                }
                Ok(())
            }

            /// Brings a (soft-deleted or live) document back.
            pub(super) async fn mark_restored(&self, namespace: &Namespace, id: Id) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE kb_documents SET deleted_at = NULL WHERE id = $1 AND namespace = $2",
                )
                .bind(DbId(id))
                .bind(namespace.as_str())
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                if done.rows_affected() == 0 {
                    return Err(not_found(id));
                }
                Ok(())
            }

            /// Records the namespace of an ingest and looks up the document's identity.
            pub(super) async fn existing(
                conn: &mut <$db as sqlx::Database>::Connection,
                prepared: &PreparedDocument,
            ) -> Result<Existing> {
                let db = <$db as Dialect>::error;
                let new = &prepared.document;
                sqlx::query(
                    "INSERT INTO kb_namespaces (name, created_at) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(new.namespace.as_str())
                .bind(DbTime::now())
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                let found = match &new.external_id {
                    Some(external) => sqlx::query_as::<_, Identity>(
                        "SELECT id, content_hash, deleted_at IS NOT NULL, section_count, \
                         stored_bytes FROM kb_documents WHERE namespace = $1 AND external_id = $2",
                    )
                    .bind(new.namespace.as_str())
                    .bind(external),
                    None => sqlx::query_as::<_, Identity>(
                        "SELECT id, content_hash, deleted_at IS NOT NULL, section_count, \
                         stored_bytes FROM kb_documents \
                         WHERE namespace = $1 AND external_id IS NULL AND content_hash = $2",
                    )
                    .bind(new.namespace.as_str())
                    .bind(&prepared.content_hash),
                }
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
                Ok(match found {
                    None => Existing::Absent,
                    Some((id, hash, deleted, _, _))
                        if hash == prepared.content_hash && !deleted =>
                    {
                        Existing::Unchanged(id.0)
                    }
                    Some((id, _, _, sections, bytes)) => {
                        Existing::Stale(id.0, StorageDelta::new(i64::from(sections), bytes))
                    }
                })
            }

            /// Writes the document row — a new one, or over the stale one `replacing`, which
            /// took `freed` — and counts the difference to its tenant's storage, refused past
            /// the tenant's quota.
            pub(super) async fn write(
                conn: &mut <$db as sqlx::Database>::Connection,
                prepared: &PreparedDocument,
                replacing: Option<(Id, StorageDelta)>,
            ) -> Result<(Id, IngestOutcome)> {
                let storage = prepared.storage();
                let freed = replacing.map_or_else(StorageDelta::default, |(_, took)| took);
                let replacing = replacing.map(|(id, _)| id);
                let new = &prepared.document;
                let sections = i32::try_from(prepared.sections.len()).map_err(Error::internal)?;
                let now = DbTime::now();
                let (id, outcome, statement) = match replacing {
                    Some(id) => (
                        id,
                        IngestOutcome::Replaced,
                        "UPDATE kb_documents SET title = $3, source_uri = $4, metadata = $5, \
                         content = $6, content_hash = $7, section_count = $8, updated_at = $9, \
                         deleted_at = NULL, stored_bytes = $10 WHERE id = $1 AND namespace = $2",
                    ),
                    None => (
                        Id::new(),
                        IngestOutcome::Created,
                        "INSERT INTO kb_documents (id, namespace, title, source_uri, metadata, \
                         content, content_hash, section_count, created_at, updated_at, \
                         external_id, stored_bytes) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
                    ),
                };
                let mut query = sqlx::query(statement)
                    .bind(DbId(id))
                    .bind(new.namespace.as_str())
                    .bind(&new.title)
                    .bind(&new.source_uri)
                    .bind(&new.metadata)
                    .bind(&new.content)
                    .bind(&prepared.content_hash)
                    .bind(sections)
                    .bind(now);
                if replacing.is_none() {
                    query = query.bind(&new.external_id);
                }
                query
                    .bind(storage.bytes)
                    .execute(&mut *conn)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                let delta = StorageDelta::between(freed, storage);
                Self::charge(conn, &new.namespace, &prepared.storage_quota, delta).await?;
                Ok((id, outcome))
            }
        }
    };
}

/// Implements [`DocumentStore`](sp_core::knowledge::DocumentStore) for a store whose document
/// rows are in `self.rows`: the reads both backends answer from those rows alone, the writes
/// (run to their end over the backend's `put_document`, `delete_document`,
/// `restore_document`, `purge_document`), then the backend's own methods, given as the body.
macro_rules! document_store {
    ($store:ty { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl sp_core::knowledge::DocumentStore for $store {
            async fn get(&self, namespace: &Namespace, id: Id) -> Result<Document> {
                self.rows.document(namespace, id, true).await
            }

            async fn sections(&self, namespace: &Namespace, id: Id) -> Result<Vec<Section>> {
                self.rows.sections(namespace, id).await
            }

            async fn list(
                &self,
                namespace: &Namespace,
                page: &PageRequest,
                include_deleted: bool,
            ) -> Result<Page<Document>> {
                self.rows.list(namespace, page, include_deleted).await
            }

            async fn storage_used(
                &self,
                tenant: &sp_core::TenantId,
            ) -> Result<sp_core::tenants::StorageUse> {
                self.rows.storage_used(tenant).await
            }

            async fn adopt_embedder(&self, model: &str) -> Result<()> {
                self.rows.adopt_embedder(model).await
            }

            // Each write runs to its end in a task of its own (review finding M7): dropped
            // between the commit and the in-memory update, a write would leave search serving
            // what was deleted or replaced until a restart; a caller that leaves does not
            // decide whether it happened. Each backend's `*_document` does the work.
            async fn put(
                &self,
                prepared: sp_core::knowledge::PreparedDocument,
            ) -> Result<sp_core::knowledge::Ingested> {
                let this = self.clone();
                sp_core::uncancelled::to_the_end(async move { this.put_document(prepared).await })
                    .await
            }

            async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
                let (this, namespace) = (self.clone(), namespace.clone());
                sp_core::uncancelled::to_the_end(async move {
                    this.delete_document(&namespace, id).await
                })
                .await
            }

            async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document> {
                let (this, namespace) = (self.clone(), namespace.clone());
                sp_core::uncancelled::to_the_end(async move {
                    this.restore_document(&namespace, id).await
                })
                .await
            }

            async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()> {
                let (this, namespace) = (self.clone(), namespace.clone());
                sp_core::uncancelled::to_the_end(async move {
                    this.purge_document(&namespace, id).await
                })
                .await
            }

            $($own)*
        }
    };
}
pub(super) use document_store;

document_rows!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
document_rows!(sqlx::Postgres);
