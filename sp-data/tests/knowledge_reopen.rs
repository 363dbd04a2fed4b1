//! The embedded store keeps vectors and what hits show in memory and rebuilds both from SQLite
//! on open: a reopened store answers exactly as before, soft deletions included.

use std::sync::Arc;

use serde_json::json;
use sp_core::knowledge::{
    DocumentStore, HashEmbedder, KnowledgeBase, KnowledgeConfig, Namespace, NewDocument,
    SearchMode, SearchQuery, SimpleTokenizer,
};

async fn open(dir: &std::path::Path, graph: bool) -> KnowledgeBase {
    let db = sp_data::SqliteStore::open(dir).await.expect("sqlite");
    let config = sp_data::knowledge::VectorIndexConfig {
        exact_below: if graph { 0 } else { usize::MAX },
        ..Default::default()
    };
    let store = sp_data::SqliteDocumentStore::open_with(&db, 64, config)
        .await
        .expect("store");
    if graph {
        // The graph is built from the loaded vectors on a background thread; searches stay
        // exact until then, so wait for it to be sure the graph path is the one tested.
        for _ in 0..500 {
            if store.graph_ready() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(store.graph_ready(), "the graph was not built");
    }
    let store: Arc<dyn DocumentStore> = Arc::new(store);
    KnowledgeBase::new(
        store,
        Arc::new(HashEmbedder::new(64)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base")
}

fn search(mode: SearchMode) -> SearchQuery {
    SearchQuery {
        mode,
        k: 5,
        ..SearchQuery::new("cats sleep in the sun")
    }
}

async fn answers(kb: &KnowledgeBase) -> Vec<Vec<(String, String, serde_json::Value, String)>> {
    let mut all = Vec::new();
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits = kb.search(&search(mode)).await.expect("search");
        all.push(
            hits.into_iter()
                .map(|h| {
                    (
                        h.title,
                        h.section.text,
                        h.metadata,
                        format!("{:.5}", h.score),
                    )
                })
                .collect(),
        );
    }
    all
}

async fn reopened_store_answers_the_same(graph: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let space = Namespace::default();
    let (before, deleted) = {
        let kb = open(dir.path(), graph).await;
        let cats = kb
            .ingest(
                NewDocument::new("Cats", "# Cats\nCats sleep in the sun all afternoon.")
                    .with_metadata(json!({"kind": "animal"}))
                    .with_external_id("cats"),
            )
            .await
            .expect("cats");
        let gone = kb
            .ingest(NewDocument::new(
                "Old cats",
                "Cats sleep in the sun, an old note.",
            ))
            .await
            .expect("old");
        kb.ingest(NewDocument::new("Dogs", "Dogs fetch sticks in the park."))
            .await
            .expect("dogs");
        // A replaced document keeps only its new sections.
        kb.ingest(
            NewDocument::new("Cats", "# Cats\nCats sleep in the sun and purr.")
                .with_metadata(json!({"kind": "animal", "v": 2}))
                .with_external_id("cats"),
        )
        .await
        .expect("cats v2");
        kb.delete(&space, gone.document.id).await.expect("delete");
        let before = answers(&kb).await;
        for hits in &before {
            assert!(hits.iter().all(|h| h.0 != "Old cats"), "{before:?}");
            assert!(
                hits.iter().all(|h| !h.1.contains("afternoon")),
                "{before:?}"
            );
        }
        assert!(before[0].iter().any(|h| h.0 == cats.document.title));
        assert!(
            before[0]
                .iter()
                .any(|h| h.2 == json!({"kind": "animal", "v": 2}))
        );
        (before, gone.document.id)
    };
    let kb = open(dir.path(), graph).await;
    assert_eq!(answers(&kb).await, before);
    kb.restore(&space, deleted).await.expect("restore");
    let restored = kb
        .search(&search(SearchMode::Vector))
        .await
        .expect("search");
    assert!(
        restored.iter().any(|h| h.title == "Old cats"),
        "{restored:?}"
    );
}

#[tokio::test]
async fn reopened_exact_store_answers_the_same() {
    reopened_store_answers_the_same(false).await;
}

#[tokio::test]
async fn reopened_graph_store_answers_the_same() {
    reopened_store_answers_the_same(true).await;
}

#[tokio::test]
async fn stores_on_one_database_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = open(dir.path(), false).await;
    let second = open(dir.path(), true).await;
    let space = Namespace::default();
    let cats = first
        .ingest(NewDocument::new(
            "Cats",
            "Cats sleep in the sun all afternoon.",
        ))
        .await
        .expect("cats");
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits = second.search(&search(mode)).await.expect("search");
        assert_eq!(
            hits.first().map(|h| h.document_id),
            Some(cats.document.id),
            "{mode:?}"
        );
    }
    second
        .delete(&space, cats.document.id)
        .await
        .expect("delete");
    let hits = first
        .search(&search(SearchMode::Hybrid))
        .await
        .expect("search");
    assert!(hits.is_empty(), "{hits:?}");
}

/// A data directory the store creates, its database and the database's WAL are its owner's
/// alone (review finding L6: they were readable by every local user under a 022 umask).
#[cfg(unix)]
#[tokio::test]
async fn a_new_data_dir_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    let kb = open(&dir, false).await;
    let doc = NewDocument::new("Private", "Only the owner reads this.");
    kb.ingest(doc).await.expect("ingest");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for file in ["sp.db", "sp.db-wal"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}

/// A database of documents stored before storage was counted: the migration that adds the
/// counters counts them, per tenant. Simulated by undoing that migration on a filled
/// database, then opening it again.
#[tokio::test]
async fn the_storage_migration_counts_documents_already_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let acme = sp_core::TenantId::new("acme").expect("tenant");
    let before = {
        let kb = open(dir.path(), false).await;
        for (space, title) in [("acme.docs", "A"), ("acme.more", "B"), ("docs", "C")] {
            let doc = NewDocument::new(title, format!("{title} words, {}", "more ".repeat(50)))
                .with_metadata(json!({"kind": title}))
                .in_namespace(Namespace::new(space).expect("ns"));
            kb.ingest(doc).await.expect("ingest");
        }
        let acme_use = kb.storage_used(&acme).await.expect("used");
        let default_use = kb
            .storage_used(&sp_core::TenantId::default())
            .await
            .expect("used");
        assert!(acme_use.sections >= 2 && acme_use.bytes > 0, "{acme_use:?}");
        (acme_use, default_use)
    };
    {
        let db = sp_data::SqliteStore::open(dir.path())
            .await
            .expect("sqlite");
        for undo in [
            "DROP TABLE tenant_storage",
            "ALTER TABLE kb_documents DROP COLUMN stored_bytes",
            "ALTER TABLE tenants DROP COLUMN max_sections",
            "ALTER TABLE tenants DROP COLUMN max_bytes",
            "DELETE FROM _sqlx_migrations WHERE version = 12",
        ] {
            sqlx::query(undo).execute(db.pool()).await.expect(undo);
        }
        db.pool().close().await;
    }
    let kb = open(dir.path(), false).await;
    let acme_use = kb.storage_used(&acme).await.expect("used");
    let default_use = kb
        .storage_used(&sp_core::TenantId::default())
        .await
        .expect("used");
    assert_eq!((acme_use, default_use), before);
}

/// The plain embedded store of `dir`, opened afresh.
async fn open_store(dir: &std::path::Path) -> sp_data::SqliteDocumentStore {
    let db = sp_data::SqliteStore::open(dir).await.expect("sqlite");
    sp_data::SqliteDocumentStore::open(&db, 64)
        .await
        .expect("store")
}

#[tokio::test]
async fn the_embedder_of_a_store_is_remembered_across_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    open_store(dir.path())
        .await
        .adopt_embedder("model-a")
        .await
        .expect("adopted");
    let store = open_store(dir.path()).await;
    let err = store
        .adopt_embedder("model-b")
        .await
        .expect_err("another model");
    assert_eq!(err.code(), sp_core::ErrorCode::EmbedderMismatch, "{err}");
    store
        .adopt_embedder("model-a")
        .await
        .expect("the same model");
}

#[path = "knowledge_reopen/backup.rs"]
mod backup;
