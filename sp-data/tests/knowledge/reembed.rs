//! Re-embedding a store into another model (`Database::reembed_documents`), on every SQL
//! backend: the new model's vectors and width recorded, every section (soft-deleted
//! documents' too) kept and searchable with the new model, and a failure halfway changing
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use sp_core::knowledge::{
    DocumentStore, HashEmbedder, KnowledgeBase, KnowledgeConfig, Namespace, NewDocument,
    Reembedder, SearchMode, SearchQuery, SimpleTokenizer,
};
use sp_core::{Embedder, Error, ErrorCode, Id, Result};
use sp_data::Database;
use sp_tests::TestDatabase;

/// Another embedding model: the hashing embedder under its own id, failing after `fail_after`
/// calls when asked to.
struct OtherModel {
    inner: HashEmbedder,
    calls: AtomicUsize,
    fail_after: Option<usize>,
}

impl OtherModel {
    fn new(dimensions: usize, fail_after: Option<usize>) -> Self {
        OtherModel {
            inner: HashEmbedder::new(dimensions),
            calls: AtomicUsize::new(0),
            fail_after,
        }
    }
}

#[async_trait]
impl Embedder for OtherModel {
    fn model_id(&self) -> &str {
        "other-model"
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|limit| call >= limit) {
            return Err(Error::Inference("the model stopped".into()));
        }
        self.inner.embed(texts).await
    }
}

async fn knowledge(database: &Database, embedder: Arc<dyn Embedder>) -> KnowledgeBase {
    let store: Arc<dyn DocumentStore> = database
        .document_store(embedder.dimensions())
        .await
        .expect("store");
    store
        .adopt_embedder(embedder.model_id())
        .await
        .expect("embedder adopted");
    KnowledgeBase::new(
        store,
        embedder,
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base")
}

fn query(text: &str, namespace: &Namespace) -> SearchQuery {
    SearchQuery {
        mode: SearchMode::Vector,
        namespace: namespace.clone(),
        k: 3,
        ..SearchQuery::new(text)
    }
}

/// Cats and tax in the default namespace, a soft-deleted note in another: its ids.
async fn seed(database: &Database) -> (Id, Id) {
    let kb = knowledge(database, Arc::new(HashEmbedder::new(64))).await;
    let mut long = String::from("# Cats\n");
    for i in 0..40 {
        long.push_str(&format!("Cats sleep in the warm sun, paragraph {i}.\n\n"));
    }
    let cats = kb
        .ingest(NewDocument::new("Cats", long))
        .await
        .expect("cats");
    assert!(cats.document.section_count > 1, "several sections");
    kb.ingest(NewDocument::new("Tax", "Tax returns are due in April."))
        .await
        .expect("tax");
    let notes = Namespace::new("notes").expect("namespace");
    let mut note = NewDocument::new("Note", "Remember the dentist.");
    note.namespace = notes.clone();
    let note = kb.ingest(note).await.expect("note");
    kb.delete(&notes, note.document.id).await.expect("delete");
    (cats.document.id, note.document.id)
}

pub async fn reembedding_switches_the_model_and_keeps_every_section(database: &Database) {
    let (cats, note) = seed(database).await;
    let before = {
        let kb = knowledge(database, Arc::new(HashEmbedder::new(64))).await;
        kb.sections(&Namespace::default(), cats)
            .await
            .expect("sections")
    };

    let model: Arc<dyn Embedder> = Arc::new(OtherModel::new(96, None));
    let reembedder = Reembedder::new(model.clone(), Arc::new(SimpleTokenizer)).with_batch(1);
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: u64, total: u64| seen.lock().expect("lock").push((done, total));
    let report = database
        .reembed_documents(&reembedder, &progress)
        .await
        .expect("re-embedded");
    assert_eq!(report.from_model.as_deref(), Some("hash-v1-64"));
    assert_eq!(
        (report.from_dimensions, report.to_dimensions),
        (Some(64), 96)
    );
    assert_eq!(report.to_model, "other-model");
    assert_eq!(report.documents, 3, "the soft-deleted note included");
    assert_eq!(report.sections, before.len() as u64 + 2);
    let names: Vec<&str> = report.namespaces.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["default", "notes"]);
    let seen = seen.into_inner().expect("lock");
    assert_eq!(seen.first(), Some(&(0, report.sections)));
    assert_eq!(seen.last(), Some(&(report.sections, report.sections)));
    assert!(seen.len() > 2, "progress as it goes: {seen:?}");

    // The old model is refused now, the new one serves, every section is where it was.
    let Err(err) = database.document_store(64).await else {
        panic!("the old width is refused");
    };
    assert_eq!(err.code(), ErrorCode::DimensionMismatch, "{err}");
    assert_eq!(
        database.recorded_embedder().await.expect("recorded"),
        Some((96, Some("other-model".to_owned())))
    );
    let kb = knowledge(database, model).await;
    let after = kb
        .sections(&Namespace::default(), cats)
        .await
        .expect("sections");
    assert_eq!(after, before, "same sections, same text, same counts");
    let hits = kb
        .search(&query("tax returns in April", &Namespace::default()))
        .await
        .expect("search");
    assert_eq!(hits[0].title, "Tax", "{hits:?}");
    // The soft-deleted note was re-embedded too: restored, it is found.
    let notes = Namespace::new("notes").expect("namespace");
    kb.restore(&notes, note).await.expect("restore");
    let hits = kb.search(&query("dentist", &notes)).await.expect("search");
    assert_eq!(hits[0].title, "Note", "{hits:?}");
}

pub async fn a_failure_halfway_changes_nothing(database: &Database) {
    seed(database).await;
    let failing: Arc<dyn Embedder> = Arc::new(OtherModel::new(96, Some(2)));
    let reembedder = Reembedder::new(failing, Arc::new(SimpleTokenizer)).with_batch(1);
    let err = database
        .reembed_documents(&reembedder, &|_, _| {})
        .await
        .expect_err("the model fails on the third section");
    assert_eq!(err.code(), ErrorCode::Inference, "{err}");
    assert_eq!(
        database.recorded_embedder().await.expect("recorded"),
        Some((64, Some("hash-v1-64".to_owned())))
    );
    let kb = knowledge(database, Arc::new(HashEmbedder::new(64))).await;
    let hits = kb
        .search(&query("cats sleep in the sun", &Namespace::default()))
        .await
        .expect("search with the old model");
    assert_eq!(hits[0].title, "Cats", "{hits:?}");
}

pub async fn an_open_embedded_store_is_not_reembedded_under_it() {
    let db = TestDatabase::sqlite().await;
    let kb = knowledge(&db.database, Arc::new(HashEmbedder::new(64))).await;
    let reembedder = Reembedder::new(
        Arc::new(OtherModel::new(96, None)),
        Arc::new(SimpleTokenizer),
    );
    let err = db
        .database
        .reembed_documents(&reembedder, &|_, _| {})
        .await
        .expect_err("a store is open");
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    drop(kb);
    db.database
        .reembed_documents(&reembedder, &|_, _| {})
        .await
        .expect("once it is dropped");
    db.cleanup().await;
}
