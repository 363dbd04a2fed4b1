//! The knowledge base: chunk, embed and store documents; search them three ways.

use std::sync::Arc;
use tracing::Instrument as _;

mod reranked;
mod writes;

pub use reranked::{rerank_hits, retrieval_of, top_n_of};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cache::{KnowledgeCache, KnowledgeCacheTtl};
use super::chunk::{ChunkConfig, chunk};
use super::fusion::reciprocal_rank_fusion;
use super::store::{DocumentStore, PreparedDocument};
use super::types::{Document, Namespace, NewDocument, SearchHit, SearchMode, SearchQuery, Section};
use crate::Id;
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::events::{EventLog, Recorder};
use crate::model::{Embedder, Tokenizer};
use crate::page::{Page, PageRequest};
use crate::tenants::{StorageQuota, TenantStore};

/// Knobs of ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnowledgeConfig {
    /// Section sizes.
    pub chunk: ChunkConfig,
    /// Largest accepted document content, in bytes.
    pub max_document_bytes: usize,
    /// Largest accepted `metadata`, serialized, in bytes: every search hit carries it, so a
    /// large one multiplies (review finding H5).
    pub max_metadata_bytes: usize,
    /// Texts per embedder call.
    pub embed_batch: usize,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        KnowledgeConfig {
            chunk: ChunkConfig::default(),
            max_document_bytes: 8 * 1024 * 1024,
            max_metadata_bytes: 16 * 1024,
            embed_batch: 32,
        }
    }
}

/// Documents in, relevant passages out, over any [`DocumentStore`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::knowledge::*;
///
/// let store = Arc::new(MemoryDocumentStore::new(256));
/// let kb = KnowledgeBase::new(store, Arc::new(HashEmbedder::new(256)), Arc::new(SimpleTokenizer), KnowledgeConfig::default())?;
/// kb.ingest(NewDocument::new("Cats", "Cats sleep most of the day.")).await?;
/// let hits = kb.search(&SearchQuery::new("how long do cats sleep")).await?;
/// assert_eq!(hits[0].title, "Cats");
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct KnowledgeBase {
    store: Arc<dyn DocumentStore>,
    embedder: Arc<dyn Embedder>,
    tokenizer: Arc<dyn Tokenizer>,
    config: KnowledgeConfig,
    cache: Option<Arc<KnowledgeCache>>,
    events: Recorder,
    /// Where each namespace's tenant's storage quota is read (none: no quota).
    tenants: Option<Arc<dyn TenantStore>>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("embedder", &self.embedder.model_id())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// Combines a store, an embedder whose dimension matches it, and a tokenizer for sizing.
    pub fn new(
        store: Arc<dyn DocumentStore>,
        embedder: Arc<dyn Embedder>,
        tokenizer: Arc<dyn Tokenizer>,
        config: KnowledgeConfig,
    ) -> Result<Self> {
        config.chunk.validate()?;
        if embedder.dimensions() != store.dimensions() {
            return Err(Error::DimensionMismatch {
                expected: store.dimensions(),
                got: embedder.dimensions(),
            });
        }
        Ok(KnowledgeBase {
            store,
            embedder,
            tokenizer,
            config,
            cache: None,
            events: Recorder::default(),
            tenants: None,
        })
    }

    /// Caches query embeddings and search results in `cache`. Writes through this knowledge
    /// base invalidate the cached searches of their namespace.
    pub fn with_cache(mut self, cache: Arc<dyn Cache>, ttl: KnowledgeCacheTtl) -> Self {
        self.cache = Some(Arc::new(KnowledgeCache::new(cache, ttl)));
        self
    }

    /// Records `document.ingested`, `document.replaced` and `document.deleted` in `log` (stream
    /// `documents`), whichever entry point made the change.
    pub fn with_events(mut self, log: Arc<EventLog>) -> Self {
        self.events = Recorder::new(log);
        self
    }

    /// Applies each tenant's storage quota (`quotas.storage` in `tenants`) to the writes of its
    /// namespaces: an ingest that would take the tenant past it is refused with `SP-KB-004`
    /// and stores nothing. A namespace whose tenant `tenants` does not know has no quota.
    pub fn with_tenants(mut self, tenants: Arc<dyn TenantStore>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// The storage quota of `namespace`'s tenant.
    async fn storage_quota(&self, namespace: &Namespace) -> Result<StorageQuota> {
        let Some(tenants) = &self.tenants else {
            return Ok(StorageQuota::default());
        };
        Ok(tenants
            .find(&namespace.tenant())
            .await?
            .map(|tenant| tenant.quotas.storage)
            .unwrap_or_default())
    }

    /// Runs `queries` so their embeddings and results are cached before users ask (a
    /// warming hook for start-up or after a bulk ingest). Returns how many succeeded.
    pub async fn warm(&self, queries: &[SearchQuery]) -> usize {
        let mut warmed = 0;
        for query in queries {
            match self.search(query).await {
                Ok(_) => warmed += 1,
                Err(err) => {
                    tracing::warn!(%err, query = %query.query, "cache warming query failed")
                }
            }
        }
        warmed
    }

    async fn changed(&self, namespace: &Namespace) {
        if let Some(cache) = &self.cache {
            cache.namespace_changed(namespace).await;
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn DocumentStore> {
        &self.store
    }

    /// The embedder documents and queries are embedded with (other stores that search by
    /// meaning, such as facts, share it).
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    async fn prepare(&self, document: NewDocument) -> Result<PreparedDocument> {
        validate_document(&document, &self.config)?;
        let content_hash = content_hash(&document);
        let sections = chunk(
            &document.content,
            document.format,
            &self.config.chunk,
            self.tokenizer.as_ref(),
        )?;
        let mut embedded = Vec::with_capacity(sections.len());
        for batch in sections.chunks(self.config.embed_batch.max(1)) {
            let texts: Vec<String> = batch
                .iter()
                .map(|s| embeddable_text(&document.title, s))
                .collect();
            let vectors = self.embedder.embed(&texts).await?;
            if vectors.len() != batch.len() {
                return Err(Error::internal(format!(
                    "embedder returned {} vectors for {} texts",
                    vectors.len(),
                    batch.len()
                )));
            }
            for (section, vector) in batch.iter().zip(vectors) {
                check_vector(&vector, self.store.dimensions())?;
                embedded.push((section.clone(), vector));
            }
        }
        let storage_quota = self.storage_quota(&document.namespace).await?;
        Ok(PreparedDocument {
            document,
            content_hash,
            sections: embedded,
            storage_quota,
        })
    }

    /// Searches in the query's mode; hybrid fuses vector and keyword results by reciprocal rank.
    /// A query with a rerank stage is refused here (`SP-VAL-001`): it needs a reranker, see
    /// [`search_reranked`](Self::search_reranked).
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        query.validate()?;
        if query.rerank.is_some() {
            return Err(Error::invalid_input(
                "rerank",
                "this search has no reranker: use KnowledgeBase::search_reranked",
            ));
        }
        match &self.cache {
            Some(cache) => cache.search(query, || self.search_uncached(query)).await,
            None => self.search_uncached(query).await,
        }
    }

    async fn search_uncached(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let filter = query.filter.as_ref();
        match query.mode {
            SearchMode::Keyword => {
                self.store
                    .keyword_search(&query.namespace, &query.query, query.k, filter)
                    .instrument(store_span("keyword_search"))
                    .await
            }
            SearchMode::Vector => {
                let vector = self.embed_query(&query.query).await?;
                self.store
                    .vector_search(&query.namespace, &vector, query.k, filter)
                    .instrument(store_span("vector_search"))
                    .await
            }
            SearchMode::Hybrid => {
                // Each side contributes more than k candidates so fusion can promote items that
                // rank moderately in both.
                let depth = (query.k * 3).min(super::types::MAX_K * 3);
                let vector = self.embed_query(&query.query).await?;
                let by_vector = self
                    .store
                    .vector_search(&query.namespace, &vector, depth, filter)
                    .instrument(store_span("vector_search"))
                    .await?;
                let by_keyword = self
                    .store
                    .keyword_search(&query.namespace, &query.query, depth, filter)
                    .instrument(store_span("keyword_search"))
                    .await?;
                Ok(fuse(by_vector, by_keyword, query.k))
            }
        }
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        match &self.cache {
            Some(cache) => {
                cache
                    .embedding(self.embedder.model_id(), text, || {
                        self.embed_query_uncached(text)
                    })
                    .await
            }
            None => self.embed_query_uncached(text).await,
        }
    }

    async fn embed_query_uncached(&self, text: &str) -> Result<Vec<f32>> {
        let mut vectors = self.embedder.embed(&[text.to_owned()]).await?;
        let vector = vectors
            .pop()
            .ok_or_else(|| Error::internal("embedder returned no vector"))?;
        check_vector(&vector, self.store.dimensions())?;
        Ok(vector)
    }

    /// A live document.
    pub async fn get(&self, namespace: &Namespace, id: Id) -> Result<Document> {
        self.store.get(namespace, id).await
    }

    /// Its sections.
    pub async fn sections(&self, namespace: &Namespace, id: Id) -> Result<Vec<Section>> {
        self.store.sections(namespace, id).await
    }

    /// Documents, newest first.
    pub async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Document>> {
        self.store.list(namespace, page, false).await
    }
}

/// How deeply `metadata` may nest.
const MAX_METADATA_DEPTH: usize = 16;

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn validate_document(document: &NewDocument, config: &KnowledgeConfig) -> Result<()> {
    let max_bytes = config.max_document_bytes;
    crate::nul::refuse_nul("title", &document.title)?;
    crate::nul::refuse_nul("content", &document.content)?;
    if let Some(uri) = &document.source_uri {
        crate::nul::refuse_nul("source_uri", uri)?;
    }
    crate::nul::refuse_nul_in("metadata", &document.metadata)?;
    if document.title.trim().is_empty() {
        return Err(Error::invalid_input("title", "must not be empty"));
    }
    if document.title.len() > 1_000 {
        return Err(Error::invalid_input("title", "at most 1000 bytes"));
    }
    if document
        .source_uri
        .as_deref()
        .is_some_and(|uri| uri.len() > 2_048)
    {
        return Err(Error::invalid_input("source_uri", "at most 2048 bytes"));
    }
    if document.content.trim().is_empty() {
        return Err(Error::invalid_input("content", "must not be empty"));
    }
    if document.content.len() > max_bytes {
        return Err(Error::DocumentTooLarge {
            bytes: document.content.len(),
            limit: max_bytes,
        });
    }
    if !document.metadata.is_object() {
        return Err(Error::invalid_input("metadata", "must be a JSON object"));
    }
    let size = serde_json::to_vec(&document.metadata).map_or(usize::MAX, |v| v.len());
    if size > config.max_metadata_bytes {
        return Err(Error::invalid_input(
            "metadata",
            format!(
                "{size} bytes as JSON, at most {} (knowledge.max_metadata_bytes): keep large \
                 data in the content",
                config.max_metadata_bytes
            ),
        ));
    }
    if depth(&document.metadata) > MAX_METADATA_DEPTH {
        return Err(Error::invalid_input(
            "metadata",
            format!("nested deeper than {MAX_METADATA_DEPTH} levels"),
        ));
    }
    if document
        .external_id
        .as_deref()
        .is_some_and(|id| id.is_empty() || id.len() > 512)
    {
        return Err(Error::invalid_input(
            "external_id",
            "must be 1 to 512 bytes",
        ));
    }
    Ok(())
}

/// The `store.query` span around one call into the document store (a trace span with the
/// server's `otel` feature): which operation, on which store.
pub(crate) fn store_span(operation: &'static str) -> tracing::Span {
    tracing::info_span!("store.query", store = "documents", operation)
}

/// Refuses vectors of the wrong length or holding NaN / infinity.
pub fn check_vector(vector: &[f32], dimensions: usize) -> Result<()> {
    if vector.len() != dimensions {
        return Err(Error::DimensionMismatch {
            expected: dimensions,
            got: vector.len(),
        });
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidVector(format!(
            "component {i} is {}",
            vector[i]
        )));
    }
    Ok(())
}

/// What a section is embedded as: its document's title and its headings before its text,
/// which gives every section of a document shared context.
///
/// ```
/// use sp_core::knowledge::{Section, embeddable_text};
///
/// let section = Section { ordinal: 0, heading_path: vec!["Care".into()], text: "Brush weekly.".into(), token_count: 3 };
/// assert_eq!(embeddable_text("Cats", &section), "Cats / Care\nBrush weekly.");
/// ```
pub fn embeddable_text(title: &str, section: &Section) -> String {
    let mut text = String::with_capacity(title.len() + section.text.len() + 2);
    text.push_str(title);
    for heading in &section.heading_path {
        text.push_str(" / ");
        text.push_str(heading);
    }
    text.push('\n');
    text.push_str(&section.text);
    text
}

/// SHA-256 over everything the caller sent, so any change re-ingests.
fn content_hash(document: &NewDocument) -> String {
    let mut hasher = Sha256::new();
    for part in [
        document.title.as_bytes(),
        document.content.as_bytes(),
        document
            .source_uri
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
        document.metadata.to_string().as_bytes(),
        format!("{:?}", document.format).as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fuse(by_vector: Vec<SearchHit>, by_keyword: Vec<SearchHit>, k: usize) -> Vec<SearchHit> {
    let key = |h: &SearchHit| (h.document_id, h.section.ordinal);
    let lists = vec![
        by_vector.iter().map(key).collect::<Vec<_>>(),
        by_keyword.iter().map(key).collect::<Vec<_>>(),
    ];
    let mut pool: std::collections::HashMap<(Id, u32), SearchHit> = by_keyword
        .into_iter()
        .chain(by_vector)
        .map(|h| (key(&h), h))
        .collect();
    reciprocal_rank_fusion(&lists)
        .into_iter()
        .take(k)
        .filter_map(|(id, score)| {
            pool.remove(&id).map(|mut hit| {
                hit.score = score;
                hit
            })
        })
        .collect()
}
