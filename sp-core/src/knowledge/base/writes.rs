//! The knowledge base's writes: ingest, soft delete, restore, purge.
//!
//! Each write's store call, cache invalidation and event run in a task of their own, to
//! the end, whatever happens to the caller (review finding M7): a request dropped between
//! the store's commit and the rest (a client that hangs up, a request deadline) would leave
//! cached searches serving what was deleted or replaced, and no event of a change that
//! happened.

use super::KnowledgeBase;
use crate::Id;
use crate::TenantId;
use crate::error::Result;
use crate::events::{Origin, platform_event};
use crate::knowledge::types::{Document, IngestOutcome, Ingested, Namespace, NewDocument};
use crate::tenants::StorageUse;
use crate::uncancelled::to_the_end;
use tracing::Instrument as _;

impl KnowledgeBase {
    /// Chunks, embeds and stores one document, atomically and idempotently. Refused with
    /// `SP-KB-004`, storing nothing, when it would take its tenant past its storage quota
    /// (when the knowledge base knows the tenants: [`with_tenants`](Self::with_tenants)).
    pub async fn ingest(&self, document: NewDocument) -> Result<Ingested> {
        self.ingest_as(document, &Origin::default()).await
    }

    /// [`ingest`](Self::ingest) on behalf of `origin`, which its event carries.
    pub async fn ingest_as(&self, document: NewDocument, origin: &Origin) -> Result<Ingested> {
        // Chunking and embedding write nothing: a caller that leaves stops them.
        let prepared = self.prepare(document).await?;
        let this = self.clone();
        let origin = origin.clone();
        // Made here, not in the task below: a span takes its parent (the request) from where
        // it is created.
        let span = super::store_span("put");
        to_the_end(async move {
            let namespace = prepared.document.namespace.clone();
            let ingested = this.store.put(prepared).instrument(span).await?;
            let kind = match ingested.outcome {
                IngestOutcome::Created => "document.ingested",
                IngestOutcome::Replaced => "document.replaced",
                _ => return Ok(ingested),
            };
            this.changed(&namespace).await;
            let doc = &ingested.document;
            this.events
                .record(|| {
                    let data = serde_json::json!({"id": doc.id, "title": doc.title});
                    let subject = format!("documents/{}", doc.id);
                    platform_event(&namespace, "documents", kind, subject, &origin, data)
                })
                .await;
            Ok(ingested)
        })
        .await
    }

    /// Ingests many documents, one after another; each succeeds or fails on its own, and the
    /// results come in the documents' order. (Embedding the next document while the one
    /// before it is stored was measured slower on 2 cores — the database's index work takes
    /// a core from the model — see docs/models.md, Benchmarks.)
    pub async fn ingest_many(&self, documents: Vec<NewDocument>) -> Vec<Result<Ingested>> {
        let mut results = Vec::with_capacity(documents.len());
        for document in documents {
            results.push(self.ingest(document).await);
        }
        results
    }

    /// Soft delete.
    pub async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        self.delete_as(namespace, id, &Origin::default()).await
    }

    /// [`delete`](Self::delete) on behalf of `origin`, which its event carries.
    pub async fn delete_as(&self, namespace: &Namespace, id: Id, origin: &Origin) -> Result<()> {
        let this = self.clone();
        let (namespace, origin) = (namespace.clone(), origin.clone());
        to_the_end(async move {
            this.store.delete(&namespace, id).await?;
            this.changed(&namespace).await;
            this.events
                .record(|| {
                    let data = serde_json::json!({"id": id});
                    let subject = format!("documents/{id}");
                    platform_event(
                        &namespace,
                        "documents",
                        "document.deleted",
                        subject,
                        &origin,
                        data,
                    )
                })
                .await;
            Ok(())
        })
        .await
    }

    /// Undo a soft delete.
    pub async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        let this = self.clone();
        let namespace = namespace.clone();
        to_the_end(async move {
            let document = this.store.restore(&namespace, id).await?;
            this.changed(&namespace).await;
            Ok(document)
        })
        .await
    }

    /// Remove for good (what it took of its tenant's storage is freed).
    pub async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let this = self.clone();
        let namespace = namespace.clone();
        to_the_end(async move {
            this.store.purge(&namespace, id).await?;
            this.changed(&namespace).await;
            Ok(())
        })
        .await
    }

    /// What the documents of `tenant`'s namespaces take (soft-deleted ones included).
    pub async fn storage_used(&self, tenant: &TenantId) -> Result<StorageUse> {
        self.store.storage_used(tenant).await
    }
}
