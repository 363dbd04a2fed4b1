//! The fixture of the knowledge-store suite: a fresh store per backend, cleaned up after.

use std::sync::Arc;

use sp_core::knowledge::{
    DocumentStore, HashEmbedder, KnowledgeBase, KnowledgeConfig, MemoryDocumentStore,
    SimpleTokenizer,
};
use sp_tests::TestDatabase;

pub const DIMS: usize = 64;
/// A fresh store of one backend, and how to clean it up.
pub struct Fixture {
    pub kb: KnowledgeBase,
    pub store: Arc<dyn DocumentStore>,
    /// The database the store is on (none for the in-process store).
    db: Option<TestDatabase>,
}

impl Fixture {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(DIMS).await
    }

    pub async fn postgres() -> Self {
        Self::postgres_with(DIMS).await
    }

    pub async fn sqlite_with(dims: usize) -> Self {
        let db = TestDatabase::sqlite().await;
        let store = db.database.document_store(dims).await.expect("store");
        Self::with(store, db)
    }

    pub async fn sqlite_graph() -> Self {
        Self::sqlite_graph_with(DIMS).await
    }

    /// The embedded store with every search going through the HNSW graph.
    pub async fn sqlite_graph_with(dims: usize) -> Self {
        let db = TestDatabase::sqlite().await;
        let config = sp_data::knowledge::VectorIndexConfig {
            exact_below: 0,
            ..Default::default()
        };
        let sp_data::Database::Embedded(sqlite) = &db.database else {
            unreachable!("TestDatabase::sqlite is embedded")
        };
        let store: Arc<dyn DocumentStore> = Arc::new(
            sp_data::SqliteDocumentStore::open_with(sqlite, dims, config)
                .await
                .expect("store"),
        );
        Self::with(store, db)
    }

    pub async fn postgres_with(dims: usize) -> Self {
        let db = TestDatabase::postgres("kb_test").await;
        let store = db.database.document_store(dims).await.expect("store");
        Self::with(store, db)
    }

    pub async fn memory() -> Self {
        Self::memory_with(DIMS).await
    }

    pub async fn memory_with(dims: usize) -> Self {
        Self::build(Arc::new(MemoryDocumentStore::new(dims)), None)
    }

    fn with(store: Arc<dyn DocumentStore>, db: TestDatabase) -> Self {
        Self::build(store, Some(db))
    }

    fn build(store: Arc<dyn DocumentStore>, db: Option<TestDatabase>) -> Self {
        let config = KnowledgeConfig {
            max_document_bytes: 64 * 1024,
            ..KnowledgeConfig::default()
        };
        let kb = KnowledgeBase::new(
            store.clone(),
            Arc::new(HashEmbedder::new(store.dimensions())),
            Arc::new(SimpleTokenizer),
            config,
        )
        .expect("kb");
        Fixture { kb, store, db }
    }

    pub async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}
