//! Re-embedding a knowledge store into another embedding model (`sp reindex`): every stored
//! section's vector made again by the new model and its token count recounted by the new
//! model's tokenizer. The sections themselves — boundaries, text, headings — stay as they
//! were cut: a store does not keep what format its documents were written in, and the
//! sections are what search returns. The backends rewrite the rows in one transaction
//! (`sp_data::Database::reembed_documents`); this is the part they share.

use std::sync::Arc;

use serde::Serialize;

use super::base::{check_vector, embeddable_text};
use super::cache::{KnowledgeCache, KnowledgeCacheTtl};
use super::types::{Namespace, Section};
use crate::Id;
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::model::{Embedder, Tokenizer};

/// One stored section to re-embed, as a backend reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSection {
    /// The backend's key of the row (SQLite's `rowid`, PostgreSQL's `id`).
    pub key: i64,
    /// Its document.
    pub document_id: Id,
    /// Its document's title (part of what is embedded, as at ingest).
    pub title: String,
    /// The section.
    pub section: Section,
}

/// A section's new vector and token count.
#[derive(Debug, Clone, PartialEq)]
pub struct ReembeddedSection {
    /// The row's key, as read.
    pub key: i64,
    /// Tokens of the section's text under the new model's tokenizer.
    pub token_count: u32,
    /// The new model's vector.
    pub vector: Vec<f32>,
}

/// What a re-embedding changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReembedReport {
    /// The model the vectors were made by before (`None`: a store made before the model was
    /// recorded).
    pub from_model: Option<String>,
    /// The model they are made by now.
    pub to_model: String,
    /// The vector width before (`None`: the store was never opened).
    pub from_dimensions: Option<usize>,
    /// The vector width now.
    pub to_dimensions: usize,
    /// Documents whose sections were re-embedded (soft-deleted ones included).
    pub documents: u64,
    /// Sections re-embedded.
    pub sections: u64,
    /// The namespaces that hold them.
    pub namespaces: Vec<Namespace>,
}

/// Makes stored sections' vectors again with a new embedding model, in batches, the way
/// ingest makes them (the document's title and the section's headings before its text).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::Id;
/// use sp_core::Tokenizer as _;
/// use sp_core::knowledge::{HashEmbedder, Reembedder, Section, SimpleTokenizer, StoredSection};
///
/// let reembedder = Reembedder::new(Arc::new(HashEmbedder::new(64)), Arc::new(SimpleTokenizer));
/// let stored = StoredSection {
///     key: 7,
///     document_id: Id::new(),
///     title: "Cats".into(),
///     section: Section { ordinal: 0, heading_path: vec![], text: "Cats sleep a lot.".into(), token_count: 9 },
/// };
/// let [done] = reembedder.embed(&[stored]).await?.try_into().unwrap();
/// assert_eq!((done.key, done.vector.len()), (7, 64));
/// assert_eq!(done.token_count as usize, SimpleTokenizer.count_tokens("Cats sleep a lot.")?); // recounted
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Reembedder {
    embedder: Arc<dyn Embedder>,
    tokenizer: Arc<dyn Tokenizer>,
    batch: usize,
}

impl std::fmt::Debug for Reembedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reembedder")
            .field("model", &self.embedder.model_id())
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl Reembedder {
    /// Sections per embedder call unless [`with_batch`](Self::with_batch) says otherwise: a
    /// batched embedding model packs them into as few decodes as fit.
    pub const DEFAULT_BATCH: usize = 64;

    /// Re-embeds with `embedder`, counting tokens with `tokenizer` (the new model's own).
    pub fn new(embedder: Arc<dyn Embedder>, tokenizer: Arc<dyn Tokenizer>) -> Self {
        Reembedder {
            embedder,
            tokenizer,
            batch: Self::DEFAULT_BATCH,
        }
    }

    /// Sections per embedder call (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sections per embedder call.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The new model's id, which the store records.
    pub fn model_id(&self) -> &str {
        self.embedder.model_id()
    }

    /// The new vectors' width.
    pub fn dimensions(&self) -> usize {
        self.embedder.dimensions()
    }

    /// The new vector and token count of each of `sections`, in order. A section the new
    /// model cannot embed (longer than its window) fails the whole call with the model's
    /// error, naming the section's document.
    pub async fn embed(&self, sections: &[StoredSection]) -> Result<Vec<ReembeddedSection>> {
        let texts: Vec<String> = sections
            .iter()
            .map(|stored| embeddable_text(&stored.title, &stored.section))
            .collect();
        let vectors = self.embedder.embed(&texts).await.inspect_err(|err| {
            let documents: Vec<String> = sections
                .iter()
                .map(|stored| stored.document_id.to_string())
                .collect();
            tracing::error!(%err, ?documents, "re-embedding a batch failed");
        })?;
        if vectors.len() != sections.len() {
            return Err(Error::internal(format!(
                "embedder returned {} vectors for {} texts",
                vectors.len(),
                sections.len()
            )));
        }
        sections
            .iter()
            .zip(vectors)
            .map(|(stored, vector)| {
                check_vector(&vector, self.dimensions())?;
                let tokens = self.tokenizer.count_tokens(&stored.section.text)?;
                Ok(ReembeddedSection {
                    key: stored.key,
                    token_count: u32::try_from(tokens).map_err(Error::internal)?,
                    vector,
                })
            })
            .collect()
    }
}

/// Invalidates the cached searches of `namespaces` in `cache` (shared with running servers
/// when it is on Redis): results found with the old vectors must not outlive them.
pub async fn forget_cached_searches(cache: Arc<dyn Cache>, namespaces: &[Namespace]) {
    let cache = KnowledgeCache::new(cache, KnowledgeCacheTtl::default());
    for namespace in namespaces {
        cache.namespace_changed(namespace).await;
    }
}
