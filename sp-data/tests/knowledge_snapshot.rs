//! The embedded store saves its in-memory index (vectors, HNSW graphs, hit rows) beside the
//! database and reads it back at open instead of rebuilding; what changed after the last
//! save — a crash between a commit and a save — is replayed from SQLite, the durable truth;
//! a damaged snapshot is discarded, never trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sp_core::knowledge::{
    DocumentStore, HashEmbedder, KnowledgeBase, KnowledgeConfig, Namespace, NewDocument,
    SearchMode, SearchQuery, SimpleTokenizer,
};
use sp_data::SqliteDocumentStore;
use sp_data::knowledge::VectorIndexConfig;

mod knowledge_snapshot {
    pub mod crash;
}

const DIMS: usize = 64;

/// A store that saves from one section on, searching through the graph (`exact: false`) or
/// exactly, and a knowledge base over it.
pub(crate) struct Opened {
    pub(crate) store: Arc<SqliteDocumentStore>,
    pub(crate) kb: KnowledgeBase,
}

pub(crate) async fn open(dir: &Path, exact: bool, save_every: usize) -> Opened {
    let db = sp_data::SqliteStore::open(dir).await.expect("sqlite");
    let config = VectorIndexConfig {
        exact_below: if exact { usize::MAX } else { 0 },
        save_from: 1,
        save_every,
        ..Default::default()
    };
    let store = Arc::new(
        SqliteDocumentStore::open_with(&db, DIMS, config)
            .await
            .expect("store"),
    );
    let dyn_store: Arc<dyn DocumentStore> = store.clone();
    let kb = KnowledgeBase::new(
        dyn_store,
        Arc::new(HashEmbedder::new(DIMS)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base");
    Opened { store, kb }
}

pub(crate) async fn wait_ready(store: &SqliteDocumentStore) {
    for _ in 0..1000 {
        if store.graph_ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the graph never became ready");
}

pub(crate) fn snapshot_dir(dir: &Path) -> PathBuf {
    dir.join("sp.db.kb-index")
}

pub(crate) fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(snapshot_dir(dir))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

pub(crate) fn doc_text(i: usize) -> String {
    format!(
        "Note {i} on topic{} with detail{} and word{}",
        i % 7,
        i % 13,
        i * 31 % 101
    )
}

pub(crate) type Answers = Vec<Vec<(String, String, serde_json::Value, String)>>;

pub(crate) async fn answers(kb: &KnowledgeBase, queries: &[String]) -> Answers {
    let mut all = Vec::new();
    for text in queries {
        for mode in [SearchMode::Vector, SearchMode::Keyword] {
            let query = SearchQuery {
                mode,
                k: 5,
                ..SearchQuery::new(text.clone())
            };
            let hits = kb.search(&query).await.expect("search");
            all.push(
                hits.into_iter()
                    .map(|h| {
                        let score = format!("{:.4}", h.score);
                        (h.title, h.section.text, h.metadata, score)
                    })
                    .collect(),
            );
        }
    }
    all
}

fn queries() -> Vec<String> {
    vec![
        doc_text(3),
        doc_text(17),
        "topic4 detail9".into(),
        "replaced words".into(),
    ]
}

/// Closes `opened`, first letting a running save finish (it holds the store's memory).
async fn close(opened: Opened) {
    opened.store.save_index().await.expect("save");
    drop(opened);
}

#[tokio::test]
async fn a_saved_index_is_read_back_instead_of_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opened = open(dir.path(), false, 1_000_000).await;
    for i in 0..40 {
        let doc = NewDocument::new(format!("Doc {i}"), doc_text(i)).with_metadata(json!({"i": i}));
        opened.kb.ingest(doc).await.expect("ingest");
    }
    wait_ready(&opened.store).await;
    // What a server does at a clean shutdown, through the trait.
    let as_trait: &dyn DocumentStore = opened.store.as_ref();
    as_trait.flush().await.expect("flush");
    assert_eq!(snapshot_files(dir.path()).len(), 4, "flushed to disk");
    assert!(
        !opened.store.save_index().await.expect("save"),
        "nothing new to save"
    );
    let before = answers(&opened.kb, &queries()).await;
    assert!(before[0][0].1 == doc_text(3), "{before:?}");
    close(opened).await;
    let files = snapshot_files(dir.path());
    assert_eq!(
        files.len(),
        4,
        "manifest, vectors, rows, one graph: {files:?}"
    );

    let opened = open(dir.path(), false, 1_000_000).await;
    // Read, not rebuilt: the graph is ready as the open returns.
    assert!(opened.store.graph_ready());
    assert_eq!(answers(&opened.kb, &queries()).await, before);
    // And it takes writes like a built one.
    opened
        .kb
        .ingest(NewDocument::new("Replaced", "replaced words only here"))
        .await
        .expect("ingest");
    let hits = answers(&opened.kb, &["replaced words".to_string()]).await;
    assert_eq!(hits[0][0].0, "Replaced");
}

#[tokio::test]
async fn changes_after_the_last_save_are_replayed_from_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let space = Namespace::default();
    let opened = open(dir.path(), false, 1_000_000).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let doc =
            NewDocument::new(format!("Doc {i}"), doc_text(i)).with_external_id(format!("d{i}"));
        ids.push(opened.kb.ingest(doc).await.expect("ingest").document.id);
    }
    wait_ready(&opened.store).await;
    // Saved (here, or by the save that follows the graph build, whichever came first).
    opened.store.save_index().await.expect("save");
    // After the save, nothing saved again (`save_every` is far): as after a crash, the
    // snapshot on disk misses every one of these.
    for i in 30..45 {
        opened
            .kb
            .ingest(NewDocument::new(format!("Doc {i}"), doc_text(i)))
            .await
            .expect("ingest");
    }
    opened
        .kb
        .ingest(NewDocument::new("Doc 3", "replaced words of the third").with_external_id("d3"))
        .await
        .expect("replace");
    opened.kb.delete(&space, ids[17]).await.expect("delete");
    opened.kb.purge(&space, ids[4]).await.expect("purge");
    let before = answers(&opened.kb, &queries()).await;
    drop(opened);

    let replayed = open(dir.path(), false, 1_000_000).await;
    wait_ready(&replayed.store).await;
    let after = answers(&replayed.kb, &queries()).await;
    assert_eq!(after, before);
    assert!(
        after
            .iter()
            .flatten()
            .all(|hit| hit.0 != "Doc 17" && hit.0 != "Doc 4")
    );
    assert!(after.iter().flatten().all(|hit| hit.1 != doc_text(3)));
    // The replay is saved in turn; a store rebuilt from SQLite alone answers the same.
    close(replayed).await;
    let exact_replayed = answers(&open(dir.path(), true, 1_000_000).await.kb, &queries()).await;
    std::fs::remove_dir_all(snapshot_dir(dir.path())).expect("remove snapshot");
    let rebuilt = open(dir.path(), true, 1_000_000).await;
    assert_eq!(answers(&rebuilt.kb, &queries()).await, exact_replayed);
}

#[tokio::test]
async fn a_damaged_snapshot_is_discarded_and_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opened = open(dir.path(), false, 1_000_000).await;
    for i in 0..25 {
        opened
            .kb
            .ingest(NewDocument::new(format!("Doc {i}"), doc_text(i)))
            .await
            .expect("ingest");
    }
    wait_ready(&opened.store).await;
    opened.store.save_index().await.expect("save");
    let before = answers(&opened.kb, &queries()).await;
    close(opened).await;

    for (n, kind) in ["vectors-", "rows-", "graph-"].iter().enumerate() {
        let file = snapshot_files(dir.path())
            .into_iter()
            .find(|f| {
                f.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(kind))
            })
            .expect("a snapshot file of each kind");
        // Flip a byte in the middle of one file (the others intact), or cut it short.
        let mut bytes = std::fs::read(&file).expect("read");
        if n % 2 == 0 {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x5a;
        } else {
            bytes.truncate(bytes.len() - 3);
        }
        std::fs::write(&file, &bytes).expect("damage");
        let opened = open(dir.path(), false, 1_000_000).await;
        // Rebuilt from SQLite: answers as before once the graph is built again.
        wait_ready(&opened.store).await;
        assert_eq!(answers(&opened.kb, &queries()).await, before, "{file:?}");
        close(opened).await;
        // The rebuild saved a good snapshot again, and the damaged file is gone.
        assert!(!file.exists(), "{file:?}");
        assert_eq!(snapshot_files(dir.path()).len(), 4);
        let reread = open(dir.path(), false, 1_000_000).await;
        assert!(reread.store.graph_ready(), "the new snapshot is read back");
        close(reread).await;
    }
    // A manifest that is not JSON is discarded the same way.
    std::fs::write(snapshot_dir(dir.path()).join("manifest.json"), b"{not json").expect("write");
    let opened = open(dir.path(), false, 1_000_000).await;
    wait_ready(&opened.store).await;
    assert_eq!(answers(&opened.kb, &queries()).await, before);
}

fn copy_database(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for name in ["sp.db", "sp.db-wal", "sp.db-shm"] {
        let source = from.join(name);
        if source.exists() {
            std::fs::copy(&source, to.join(name)).expect("copy");
        } else {
            let _ = std::fs::remove_file(to.join(name));
        }
    }
}

#[tokio::test]
async fn a_snapshot_of_another_or_a_newer_database_is_not_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backup = tempfile::tempdir().expect("tempdir");
    let opened = open(dir.path(), false, 1_000_000).await;
    for i in 0..20 {
        let doc = NewDocument::new(format!("Doc {i}"), doc_text(i));
        opened.kb.ingest(doc).await.expect("ingest");
    }
    wait_ready(&opened.store).await;
    let at_backup = answers(&opened.kb, &queries()).await;
    close(opened).await;
    copy_database(dir.path(), backup.path());

    // Later writes, saved: the snapshot is now ahead of the backup.
    let opened = open(dir.path(), false, 1_000_000).await;
    for i in 20..40 {
        let doc = NewDocument::new(format!("Doc {i}"), doc_text(i));
        opened.kb.ingest(doc).await.expect("ingest");
    }
    opened
        .kb
        .ingest(NewDocument::new("Replaced", "replaced words"))
        .await
        .expect("ingest");
    assert!(opened.store.save_index().await.expect("save"));
    close(opened).await;

    // The backup restored under the newer snapshot: rebuilt, answering as at the backup.
    copy_database(backup.path(), dir.path());
    let restored = open(dir.path(), false, 1_000_000).await;
    wait_ready(&restored.store).await;
    assert_eq!(answers(&restored.kb, &queries()).await, at_backup);
    close(restored).await;

    // Another database's snapshot copied beside this one: not used either (fewer writes, so
    // its journal position is behind this database's and only the identity tells them apart).
    let other = tempfile::tempdir().expect("tempdir");
    let opened = open(other.path(), false, 1_000_000).await;
    for i in 100..105 {
        let doc = NewDocument::new(format!("Other {i}"), doc_text(i));
        opened.kb.ingest(doc).await.expect("ingest");
    }
    wait_ready(&opened.store).await;
    close(opened).await;
    std::fs::remove_dir_all(snapshot_dir(dir.path())).expect("remove");
    std::fs::create_dir_all(snapshot_dir(dir.path())).expect("dir");
    for file in snapshot_files(other.path()) {
        let name = file.file_name().expect("name");
        std::fs::copy(&file, snapshot_dir(dir.path()).join(name)).expect("copy");
    }
    let reopened = open(dir.path(), false, 1_000_000).await;
    wait_ready(&reopened.store).await;
    assert_eq!(answers(&reopened.kb, &queries()).await, at_backup);
}

#[tokio::test]
async fn a_rebuilt_graph_is_saved_without_being_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opened = open(dir.path(), false, 1_000_000).await;
    for i in 0..10 {
        let doc = NewDocument::new(format!("Doc {i}"), doc_text(i));
        opened.kb.ingest(doc).await.expect("ingest");
    }
    close(opened).await;
    std::fs::remove_dir_all(snapshot_dir(dir.path())).expect("remove snapshot");
    let opened = open(dir.path(), false, 1_000_000).await;
    wait_ready(&opened.store).await;
    let manifest = snapshot_dir(dir.path()).join("manifest.json");
    for _ in 0..500 {
        if manifest.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(manifest.exists(), "the build's own save never came");
    drop(opened);
    let reread = open(dir.path(), false, 1_000_000).await;
    assert!(reread.store.graph_ready());
}
