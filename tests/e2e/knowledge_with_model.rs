//! The knowledge store with the real model: sections sized by the model's tokenizer and
//! embedded by its embedding worker, stored in the embedded backend, found by vector search.

use std::sync::Arc;

use sp_core::knowledge::{KnowledgeBase, KnowledgeConfig, NewDocument, SearchMode, SearchQuery};
use sp_core::{Embedder as _, Tokenizer as _};
use sp_llm::{EmbeddingModel, Engine, EngineConfig};

#[tokio::test]
async fn real_embeddings_and_tokenizer_drive_ingest_and_search() {
    let _gate = sp_tests::model_gate().await;
    let config = EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL"))
        .with_slots(1)
        .with_context_per_slot(512);
    let engine = Engine::load(config).expect("model");
    let embedder = Arc::new(EmbeddingModel::new(&engine).expect("embedder"));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    let store = sp_data::SqliteDocumentStore::open(&db, embedder.dimensions())
        .await
        .expect("store");
    let kb = KnowledgeBase::new(
        Arc::new(store),
        embedder,
        Arc::new(engine.clone()),
        KnowledgeConfig::default(),
    )
    .expect("kb");

    let long = "Cats sleep for most of the day. ".repeat(60);
    let cats = kb
        .ingest(NewDocument::new("Cats", format!("# Sleep\n{long}")))
        .await
        .expect("ingest");
    kb.ingest(NewDocument::new(
        "Taxes",
        "File your income tax return before April.",
    ))
    .await
    .expect("ingest");
    kb.ingest(NewDocument::new(
        "Rust",
        "The borrow checker enforces ownership rules.",
    ))
    .await
    .expect("ingest");

    let sections = kb
        .sections(&cats.document.namespace, cats.document.id)
        .await
        .expect("sections");
    assert!(sections.len() > 1, "a long document is split");
    for section in &sections {
        let counted = engine.count_tokens(&section.text).expect("count");
        assert_eq!(
            section.token_count as usize, counted,
            "sized by the model's tokenizer"
        );
        assert!(counted <= 256);
    }

    let hits = kb
        .search(&SearchQuery {
            mode: SearchMode::Vector,
            ..SearchQuery::new("How long do cats sleep?")
        })
        .await
        .expect("search");
    assert_eq!(hits[0].document_id, cats.document.id, "{hits:#?}");
}
