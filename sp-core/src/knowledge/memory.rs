//! An in-process [`DocumentStore`] for tests, examples and small tools.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use serde_json::Value;

use super::store::{DocumentStore, PreparedDocument};
use super::types::{
    Document, IngestOutcome, Ingested, Namespace, SearchHit, Section, json_contains,
};
use crate::error::{Error, Result};
use crate::page::{Page, PageRequest};
use crate::tenants::{StorageDelta, StorageUse};
use crate::{Id, TenantId, Timestamp};

struct Stored {
    document: Document,
    sections: Vec<(Section, Vec<f32>)>,
    /// What it takes of its tenant's storage.
    storage: StorageDelta,
}

/// What the documents of `tenant` take in `docs`.
fn tenant_use(docs: &HashMap<Id, Stored>, tenant: &TenantId) -> StorageUse {
    docs.values()
        .filter(|s| &s.document.namespace.tenant() == tenant)
        .fold(StorageUse::default(), |used, s| used.after(s.storage))
}

/// Everything in memory, searched exhaustively: exact cosine for vectors, BM25 for keywords.
/// Nothing persists. The reference the real backends are compared against.
#[derive(Default)]
pub struct MemoryDocumentStore {
    dimensions: usize,
    documents: RwLock<HashMap<Id, Stored>>,
    /// The model that made its vectors, once one is adopted.
    embedder: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for MemoryDocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDocumentStore")
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl MemoryDocumentStore {
    /// An empty store for `dimensions`-long vectors.
    pub fn new(dimensions: usize) -> Self {
        MemoryDocumentStore {
            dimensions,
            documents: RwLock::default(),
            embedder: std::sync::OnceLock::new(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Id, Stored>> {
        self.documents
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Id, Stored>> {
        self.documents
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live_hits<'a>(
        docs: &'a HashMap<Id, Stored>,
        namespace: &'a Namespace,
        filter: Option<&'a Value>,
    ) -> impl Iterator<Item = (&'a Document, &'a (Section, Vec<f32>))> + 'a {
        docs.values()
            .filter(move |s| {
                &s.document.namespace == namespace
                    && s.document.deleted_at.is_none()
                    && filter.is_none_or(|f| json_contains(&s.document.metadata, f))
            })
            .flat_map(|s| s.sections.iter().map(move |sec| (&s.document, sec)))
    }
}

fn hit(document: &Document, section: &Section, score: f64) -> SearchHit {
    SearchHit {
        document_id: document.id,
        title: document.title.clone(),
        external_id: document.external_id.clone(),
        metadata: document.metadata.clone(),
        section: section.clone(),
        score,
    }
}

fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn top_k(mut hits: Vec<SearchHit>, k: usize) -> Vec<SearchHit> {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.document_id.cmp(&b.document_id))
            .then(a.section.ordinal.cmp(&b.section.ordinal))
    });
    hits.truncate(k);
    hits
}

#[async_trait]
impl DocumentStore for MemoryDocumentStore {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn adopt_embedder(&self, model: &str) -> Result<()> {
        let stored = self.embedder.get_or_init(|| model.to_owned());
        if stored == model {
            Ok(())
        } else {
            Err(crate::Error::EmbedderMismatch {
                stored: stored.clone(),
                got: model.to_owned(),
            })
        }
    }

    async fn put(&self, prepared: PreparedDocument) -> Result<Ingested> {
        for (_, vector) in &prepared.sections {
            super::base::check_vector(vector, self.dimensions)?;
        }
        let mut docs = self.write();
        let new = &prepared.document;
        let existing = docs.values().find(|s| {
            s.document.namespace == new.namespace
                && match &new.external_id {
                    Some(ext) => s.document.external_id.as_ref() == Some(ext),
                    None => {
                        s.document.external_id.is_none()
                            && s.document.content_hash == prepared.content_hash
                    }
                }
        });
        let tenant = new.namespace.tenant();
        let storage = prepared.storage();
        let freed = existing.map_or_else(StorageDelta::default, |s| s.storage);
        let now = Timestamp::now();
        let (id, created_at, outcome) = match existing {
            Some(s)
                if s.document.content_hash == prepared.content_hash
                    && s.document.deleted_at.is_none() =>
            {
                return Ok(Ingested {
                    document: s.document.clone(),
                    outcome: IngestOutcome::Unchanged,
                });
            }
            Some(s) => (
                s.document.id,
                s.document.created_at,
                IngestOutcome::Replaced,
            ),
            None => (Id::new(), now, IngestOutcome::Created),
        };
        prepared.storage_quota.admit(
            &tenant,
            tenant_use(&docs, &tenant),
            StorageDelta::between(freed, storage),
        )?;
        let document = Document {
            id,
            namespace: new.namespace.clone(),
            external_id: new.external_id.clone(),
            title: new.title.clone(),
            source_uri: new.source_uri.clone(),
            metadata: new.metadata.clone(),
            content_hash: prepared.content_hash.clone(),
            section_count: u32::try_from(prepared.sections.len()).unwrap_or(u32::MAX),
            created_at,
            updated_at: now,
            deleted_at: None,
        };
        docs.insert(
            id,
            Stored {
                document: document.clone(),
                sections: prepared.sections,
                storage,
            },
        );
        Ok(Ingested { document, outcome })
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        self.read()
            .get(&id)
            .filter(|s| &s.document.namespace == namespace && s.document.deleted_at.is_none())
            .map(|s| s.document.clone())
            .ok_or_else(|| not_found(id))
    }

    async fn sections(&self, namespace: &Namespace, id: Id) -> Result<Vec<Section>> {
        self.read()
            .get(&id)
            .filter(|s| &s.document.namespace == namespace && s.document.deleted_at.is_none())
            .map(|s| s.sections.iter().map(|(sec, _)| sec.clone()).collect())
            .ok_or_else(|| not_found(id))
    }

    async fn list(
        &self,
        namespace: &Namespace,
        page: &PageRequest,
        include_deleted: bool,
    ) -> Result<Page<Document>> {
        let docs = self.read();
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let mut rows: Vec<Document> = docs
            .values()
            .map(|s| &s.document)
            .filter(|d| &d.namespace == namespace && (include_deleted || d.deleted_at.is_none()))
            .filter(|d| after.is_none_or(|a| d.id < a))
            .cloned()
            .collect();
        rows.sort_by_key(|d| std::cmp::Reverse(d.id));
        rows.truncate(page.limit as usize + 1);
        Page::from_rows(rows, page.limit, |d| d.id)
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut docs = self.write();
        let stored = docs
            .get_mut(&id)
            .filter(|s| &s.document.namespace == namespace && s.document.deleted_at.is_none())
            .ok_or_else(|| not_found(id))?;
        stored.document.deleted_at = Some(Timestamp::now());
        Ok(())
    }

    async fn restore(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        let mut docs = self.write();
        let stored = docs
            .get_mut(&id)
            .filter(|s| &s.document.namespace == namespace)
            .ok_or_else(|| not_found(id))?;
        stored.document.deleted_at = None;
        Ok(stored.document.clone())
    }

    async fn purge(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut docs = self.write();
        match docs.get(&id) {
            Some(s) if &s.document.namespace == namespace => {
                docs.remove(&id);
                Ok(())
            }
            _ => Err(not_found(id)),
        }
    }

    async fn storage_used(&self, tenant: &TenantId) -> Result<StorageUse> {
        Ok(tenant_use(&self.read(), tenant))
    }

    async fn vector_search(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        super::base::check_vector(vector, self.dimensions)?;
        let docs = self.read();
        let hits = Self::live_hits(&docs, namespace, filter)
            .map(|(doc, (section, v))| {
                let cosine: f32 = v.iter().zip(vector).map(|(a, b)| a * b).sum();
                hit(doc, section, f64::from(cosine))
            })
            .collect();
        Ok(top_k(hits, k))
    }

    async fn keyword_search(
        &self,
        namespace: &Namespace,
        query: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let docs = self.read();
        let query_terms = terms(query);
        let candidates: Vec<(&Document, &Section, Vec<String>)> =
            Self::live_hits(&docs, namespace, filter)
                .map(|(doc, (section, _))| (doc, section, terms(&section.text)))
                .collect();
        let n = candidates.len() as f64;
        let avg_len = candidates.iter().map(|c| c.2.len() as f64).sum::<f64>() / n.max(1.0);
        let df = |term: &str| {
            candidates
                .iter()
                .filter(|c| c.2.iter().any(|t| t == term))
                .count() as f64
        };
        let idf: Vec<f64> = query_terms
            .iter()
            .map(|t| ((n - df(t) + 0.5) / (df(t) + 0.5) + 1.0).ln())
            .collect();
        let (k1, b) = (1.2, 0.75);
        let hits = candidates
            .iter()
            .filter_map(|(doc, section, words)| {
                let len = words.len() as f64;
                let score: f64 = query_terms
                    .iter()
                    .zip(&idf)
                    .map(|(t, idf)| {
                        let tf = words.iter().filter(|w| *w == t).count() as f64;
                        idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg_len.max(1.0)))
                    })
                    .sum();
                (score > 0.0).then(|| hit(doc, section, score))
            })
            .collect();
        Ok(top_k(hits, k))
    }
}

fn not_found(id: Id) -> Error {
    Error::NotFound {
        kind: crate::Resource::Document,
        id: id.to_string(),
    }
}
