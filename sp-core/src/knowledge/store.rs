//! The storage trait every knowledge backend implements.

use async_trait::async_trait;
use serde_json::Value;

use super::types::{Document, Ingested, Namespace, NewDocument, SearchHit, Section};
use crate::error::Result;
use crate::page::{Page, PageRequest};
use crate::tenants::{StorageDelta, StorageQuota, StorageUse};
use crate::{Id, TenantId};

/// A document ready to store: chunked, embedded, hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedDocument {
    /// What the caller sent (content included, for keyword search and auditing).
    pub document: NewDocument,
    /// SHA-256 (hex) of the title, format and content.
    pub content_hash: String,
    /// Sections with their embeddings, in order.
    pub sections: Vec<(Section, Vec<f32>)>,
    /// What the namespace's tenant's documents may take; the store refuses a write past it
    /// ([`Error::StorageQuotaExceeded`](crate::Error::StorageQuotaExceeded)) in the
    /// transaction that counts it, and stores nothing.
    pub storage_quota: StorageQuota,
}

impl PreparedDocument {
    /// What storing it takes: its sections, and the bytes of its title, content and metadata
    /// (as JSON).
    ///
    /// ```
    /// use sp_core::knowledge::{NewDocument, PreparedDocument};
    ///
    /// let prepared = PreparedDocument {
    ///     document: NewDocument::new("Cats", "Cats sleep."),
    ///     content_hash: String::new(),
    ///     sections: Vec::new(),
    ///     storage_quota: Default::default(),
    /// };
    /// // "Cats" + "Cats sleep." + "{}"
    /// assert_eq!(prepared.storage().bytes, 4 + 11 + 2);
    /// ```
    pub fn storage(&self) -> StorageDelta {
        let document = &self.document;
        let metadata = serde_json::to_string(&document.metadata).map_or(0, |m| m.len());
        let bytes = document.title.len() + document.content.len() + metadata;
        StorageDelta::new(
            i64::try_from(self.sections.len()).unwrap_or(i64::MAX),
            i64::try_from(bytes).unwrap_or(i64::MAX),
        )
    }
}

/// Stores documents and sections and searches them. Implemented by the embedded (SQLite) and
/// PostgreSQL backends of `sp-data`; [`KnowledgeBase`](super::KnowledgeBase) adds chunking,
/// embedding and hybrid fusion on top.
///
/// Every call is scoped to a namespace; a document is never visible from another one.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Length of every stored vector, fixed when the store was created.
    fn dimensions(&self) -> usize;

    /// Records `model` (an [`Embedder::model_id`](crate::Embedder::model_id)) as the embedder
    /// of the stored vectors the first time, and refuses another one later with
    /// `EmbedderMismatch`: two models of one width make vectors that cannot be compared.
    async fn adopt_embedder(&self, model: &str) -> Result<()>;

    /// Writes a document and its sections in one transaction: all of it or nothing.
    /// The same namespace + external id (or, without one, the same content) with the same
    /// hash changes nothing; with another hash the sections are replaced.
    async fn put(&self, prepared: PreparedDocument) -> Result<Ingested>;

    /// A live (not deleted) document.
    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Document>;

    /// The sections of a live document, in order.
    async fn sections(&self, namespace: &Namespace, id: Id) -> Result<Vec<Section>>;

    /// Documents of a namespace, newest first; deleted ones only when asked.
    async fn list(
        &self,
        namespace: &Namespace,
        page: &PageRequest,
        include_deleted: bool,
    ) -> Result<Page<Document>>;

    /// Hides a document from search and get; [`restore`](Self::restore) brings it back.
    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()>;

    /// Undoes a soft delete.
    async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document>;

    /// Removes a document (deleted or not) and its sections for good.
    async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()>;

    /// What the documents of `tenant`'s namespaces take (soft-deleted ones included).
    async fn storage_used(&self, tenant: &TenantId) -> Result<StorageUse>;

    /// Sections nearest to `vector` by cosine similarity, best first.
    async fn vector_search(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>>;

    /// Saves what the store keeps in memory and could rebuild (the embedded store's vector
    /// index), so the next open reads it instead of rebuilding: called at a clean shutdown.
    /// Stores with nothing of the kind do nothing.
    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Sections matching `query` as full text, best first.
    async fn keyword_search(
        &self,
        namespace: &Namespace,
        query: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>>;
}
