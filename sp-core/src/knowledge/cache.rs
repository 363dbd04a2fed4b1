//! Caching for the knowledge base: query embeddings and search results.
//!
//! Search results are keyed by a per-namespace generation that every write to the
//! namespace replaces, so a cached result never outlives the data it came from (across
//! processes too, when the cache is shared on Redis); the TTL bounds the rest.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::types::{Namespace, SearchHit, SearchQuery};
use crate::Id;
use crate::cache::{Cache, Cached};
use crate::error::Result;

/// How long cached knowledge entries live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnowledgeCacheTtl {
    /// A query's embedding (valid as long as the embedding model is the same).
    pub embedding: Duration,
    /// A search result (also invalidated by any write to its namespace).
    pub search: Duration,
}

impl Default for KnowledgeCacheTtl {
    fn default() -> Self {
        KnowledgeCacheTtl {
            embedding: Duration::from_secs(3600),
            search: Duration::from_secs(60),
        }
    }
}

/// A generation outlives the results keyed by it; when it is evicted a new one is drawn,
/// which only invalidates more.
const GENERATION_TTL: Duration = Duration::from_secs(24 * 3600);

pub(super) struct KnowledgeCache {
    cached: Cached,
    ttl: KnowledgeCacheTtl,
}

fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl KnowledgeCache {
    pub(super) fn new(cache: Arc<dyn Cache>, ttl: KnowledgeCacheTtl) -> Self {
        KnowledgeCache {
            cached: Cached::new(cache, "kb"),
            ttl,
        }
    }

    pub(super) async fn embedding<F, Fut>(
        &self,
        model: &str,
        text: &str,
        compute: F,
    ) -> Result<Vec<f32>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<f32>>>,
    {
        let key = format!("emb:{model}:{}", digest(text.as_bytes()));
        let bytes = self
            .cached
            .get_or_compute(&key, self.ttl.embedding, || async {
                Ok(compute()
                    .await?
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect())
            })
            .await?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    async fn generation(&self, namespace: &Namespace) -> String {
        let key = format!("gen:{}", namespace.as_str());
        if let Some(found) = self.cached.get(&key).await {
            return String::from_utf8_lossy(&found).into_owned();
        }
        let fresh = Id::new().to_string();
        self.cached
            .set(&key, fresh.as_bytes(), GENERATION_TTL)
            .await;
        fresh
    }

    /// Invalidates every cached search of `namespace`.
    pub(super) async fn namespace_changed(&self, namespace: &Namespace) {
        let key = format!("gen:{}", namespace.as_str());
        let fresh = Id::new().to_string();
        self.cached
            .set(&key, fresh.as_bytes(), GENERATION_TTL)
            .await;
    }

    pub(super) async fn search<F, Fut>(
        &self,
        query: &SearchQuery,
        compute: F,
    ) -> Result<Vec<SearchHit>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<SearchHit>>>,
    {
        let generation = self.generation(&query.namespace).await;
        let shape = serde_json::to_vec(query).unwrap_or_default();
        let key = format!(
            "search:{}:{generation}:{}",
            query.namespace.as_str(),
            digest(&shape)
        );
        self.cached
            .get_or_compute_json(&key, self.ttl.search, compute)
            .await
    }
}
