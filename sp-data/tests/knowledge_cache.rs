//! The knowledge base's cache, on the in-process cache and on Redis: query embeddings and
//! search results are served from it, and a write to a namespace invalidates its searches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use sp_core::cache::Cache;
use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeCacheTtl, KnowledgeConfig, NewDocument, SearchMode,
    SearchQuery, SimpleTokenizer,
};
use sp_core::{Embedder, Result};

/// The feature-hashing embedder, counting how often it is asked.
struct Counting(HashEmbedder, AtomicUsize);

#[async_trait]
impl Embedder for Counting {
    fn model_id(&self) -> &str {
        self.0.model_id()
    }
    fn dimensions(&self) -> usize {
        self.0.dimensions()
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.1.fetch_add(texts.len(), Ordering::SeqCst);
        self.0.embed(texts).await
    }
}

async fn searches_are_cached_and_invalidated(cache: Arc<dyn Cache>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path()).await.expect("db");
    let store = Arc::new(
        sp_data::SqliteDocumentStore::open(&db, 64)
            .await
            .expect("store"),
    );
    let embedder = Arc::new(Counting(HashEmbedder::new(64), AtomicUsize::new(0)));
    let kb = KnowledgeBase::new(
        store,
        embedder.clone(),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("kb")
    .with_cache(cache.clone(), KnowledgeCacheTtl::default());
    // A namespace of its own: the Redis cache is shared with other tests.
    let namespace = sp_core::knowledge::Namespace::new(format!(
        "cache-{}",
        sp_core::Id::new().as_uuid().simple()
    ))
    .expect("namespace");
    let doc = |title: &str, content: &str| NewDocument {
        namespace: namespace.clone(),
        ..NewDocument::new(title, content)
    };
    kb.ingest(doc(
        "Tides",
        "The harbour tide tables list high water times.",
    ))
    .await
    .expect("ingest");
    let query = SearchQuery {
        namespace: namespace.clone(),
        mode: SearchMode::Hybrid,
        ..SearchQuery::new("harbour tide tables")
    };
    let first = kb.search(&query).await.expect("search");
    assert_eq!(first[0].title, "Tides");
    let embedded = embedder.1.load(Ordering::SeqCst);
    let hits_before = cache.stats().hits;
    let second = kb.search(&query).await.expect("search");
    assert_eq!(second, first);
    assert_eq!(
        embedder.1.load(Ordering::SeqCst),
        embedded,
        "served from the cache"
    );
    assert!(cache.stats().hits > hits_before);

    // A write to the namespace: the next search sees it.
    kb.ingest(doc(
        "Tide clocks",
        "Harbour tide clocks show the tide tables at a glance.",
    ))
    .await
    .expect("ingest");
    let third = kb.search(&query).await.expect("search");
    assert_eq!(third.len(), 2, "{third:?}");
    kb.delete(&namespace, third[0].document_id)
        .await
        .expect("delete");
    let fourth = kb.search(&query).await.expect("search");
    assert_eq!(fourth.len(), 1);
    assert_ne!(fourth[0].document_id, third[0].document_id);
    // The warming hook fills the cache for queries not yet asked.
    let other = SearchQuery {
        query: "high water".into(),
        ..query.clone()
    };
    assert_eq!(kb.warm(std::slice::from_ref(&other)).await, 1);
    let embedded = embedder.1.load(Ordering::SeqCst);
    kb.search(&other).await.expect("search");
    assert_eq!(embedder.1.load(Ordering::SeqCst), embedded);
}

#[tokio::test]
async fn on_the_memory_cache() {
    let cache = sp_data::MemoryCache::new(&sp_core::config::CacheConfig::default());
    searches_are_cached_and_invalidated(Arc::new(cache)).await;
}

#[tokio::test]
async fn on_redis() {
    let store = sp_data::RedisStore::connect(&sp_tests::service_url("REDIS_URL")).expect("url");
    let cache = Arc::new(sp_data::RedisCache::new(
        &store,
        std::time::Duration::from_millis(500),
    ));
    for _ in 0..100 {
        if fred::prelude::ClientLike::is_connected(store.client()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    searches_are_cached_and_invalidated(cache).await;
}
