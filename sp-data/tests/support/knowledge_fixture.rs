//! The fixture of the knowledge-store suite: a fresh store per backend, cleaned up after.

use std::sync::Arc;

use sp_core::Id;
use sp_core::knowledge::{
    DocumentStore, HashEmbedder, KnowledgeBase, KnowledgeConfig, SimpleTokenizer,
};

pub const DIMS: usize = 64;
/// A fresh store of one backend, and how to clean it up.
pub struct Fixture {
    pub kb: KnowledgeBase,
    pub store: Arc<dyn DocumentStore>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(sp_data::PgStore, String)>,
}

impl Fixture {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(DIMS).await
    }

    pub async fn postgres() -> Self {
        Self::postgres_with(DIMS).await
    }

    pub async fn sqlite_with(dims: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sp_data::SqliteStore::open(dir.path())
            .await
            .expect("sqlite");
        let store: Arc<dyn DocumentStore> = Arc::new(
            sp_data::SqliteDocumentStore::open(&db, dims)
                .await
                .expect("store"),
        );
        Self::with(store, Some(dir), None)
    }

    pub async fn sqlite_graph() -> Self {
        Self::sqlite_graph_with(DIMS).await
    }

    /// The embedded store with every search going through the HNSW graph.
    pub async fn sqlite_graph_with(dims: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sp_data::SqliteStore::open(dir.path())
            .await
            .expect("sqlite");
        let config = sp_data::knowledge::VectorIndexConfig {
            exact_below: 0,
            ..Default::default()
        };
        let store: Arc<dyn DocumentStore> = Arc::new(
            sp_data::SqliteDocumentStore::open_with(&db, dims, config)
                .await
                .expect("store"),
        );
        Self::with(store, Some(dir), None)
    }

    pub async fn postgres_with(dims: usize) -> Self {
        let mut config = sp_core::config::DatabaseConfig {
            url: Some(sp_tests::service_url("DATABASE_URL")),
            ..Default::default()
        };
        config.schema = format!("kb_test_{}", Id::new().as_uuid().simple());
        let pg = sp_data::PgStore::connect_lazy(&config).expect("pool");
        pg.migrate().await.expect("migrate");
        let store: Arc<dyn DocumentStore> = Arc::new(
            sp_data::PgDocumentStore::open(&pg, dims)
                .await
                .expect("store"),
        );
        Self::with(store, None, Some((pg, config.schema)))
    }

    fn with(
        store: Arc<dyn DocumentStore>,
        dir: Option<tempfile::TempDir>,
        pg_schema: Option<(sp_data::PgStore, String)>,
    ) -> Self {
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
        Fixture {
            kb,
            store,
            _dir: dir,
            pg_schema,
        }
    }

    pub async fn cleanup(self) {
        if let Some((pg, schema)) = self.pg_schema {
            let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(pg.pool())
                .await;
        }
    }
}
