//! Point-in-time recovery of a PostgreSQL-backed store with `scripts/pg-pitr.sh`: a base backup,
//! two batches of documents with a moment between them, and a restore to that moment holds
//! exactly the first batch — and answers searches as a store.

use std::sync::Arc;

use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeConfig, NewDocument, SearchMode, SearchQuery,
    SimpleTokenizer,
};
use sp_data::Database;
use sp_tests::{OwnPostgres, script};

async fn knowledge_base(url: &str) -> (Database, KnowledgeBase) {
    let config = sp_core::config::DatabaseConfig {
        url: Some(url.to_owned()),
        ..Default::default()
    };
    let database = Database::Postgres(sp_data::PgStore::connect_lazy(&config).expect("pool"));
    database.migrate().await.expect("migrate");
    let store = database.document_store(64).await.expect("document store");
    let kb = KnowledgeBase::new(
        store,
        Arc::new(HashEmbedder::new(64)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base");
    (database, kb)
}

async fn titles(database: &Database) -> Vec<String> {
    let Database::Postgres(pg) = database else {
        unreachable!("opened on PostgreSQL")
    };
    sqlx::query_scalar("SELECT title FROM kb_documents ORDER BY title")
        .fetch_all(pg.pool())
        .await
        .expect("titles")
}

async fn server_clock(database: &Database) -> String {
    let Database::Postgres(pg) = database else {
        unreachable!("opened on PostgreSQL")
    };
    sqlx::query_scalar("SELECT clock_timestamp()::text")
        .fetch_one(pg.pool())
        .await
        .expect("clock")
}

async fn ingest_batch(kb: &KnowledgeBase, batch: &str) -> Vec<String> {
    let mut titles = Vec::new();
    for n in 0..5 {
        let title = format!("{batch} {n}");
        kb.ingest(NewDocument::new(
            title.clone(),
            format!("Note {n} of the {batch}: lighthouses guide ships home."),
        ))
        .await
        .expect("ingest");
        titles.push(title);
    }
    titles
}

#[tokio::test]
async fn a_restore_to_a_moment_between_two_batches_holds_exactly_the_first() {
    let (primary, url) = OwnPostgres::start("pitr-primary");
    let archive = script("pg-pitr.sh", &["archive", primary.name]);
    let (database, kb) = knowledge_base(&url).await;

    let scratch = tempfile::tempdir().expect("tempdir");
    let base = scratch.path().join("base");
    let base = base.to_str().expect("utf-8 path");
    script("pg-pitr.sh", &["base", &url, base]);

    let first = ingest_batch(&kb, "first batch").await;
    let moment = server_clock(&database).await;
    // Commit timestamps have microseconds; a clear gap keeps the second batch after `moment`.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = ingest_batch(&kb, "second batch").await;
    let mut both = [first.clone(), second].concat();
    both.sort();
    assert_eq!(titles(&database).await, both, "the primary holds both");
    script("pg-pitr.sh", &["switch", &url]);

    let restored = OwnPostgres::adopt("pitr-restored");
    let restored_url = script(
        "pg-pitr.sh",
        &["restore", base, &archive, restored.name, &moment],
    );
    let (restored_db, restored_kb) = knowledge_base(&restored_url).await;
    assert_eq!(titles(&restored_db).await, first, "exactly the first batch");
    let hits = restored_kb
        .search(&SearchQuery {
            mode: SearchMode::Hybrid,
            k: 20,
            ..SearchQuery::new("lighthouses guide ships")
        })
        .await
        .expect("search the restored store");
    let mut found: Vec<String> = hits.into_iter().map(|hit| hit.title).collect();
    found.sort();
    found.dedup();
    assert_eq!(found, first, "searches see the first batch only");

    // A restore without a moment replays the whole archive: both batches.
    let latest = OwnPostgres::adopt("pitr-latest");
    let latest_url = script("pg-pitr.sh", &["restore", base, &archive, latest.name]);
    let (latest_db, _) = knowledge_base(&latest_url).await;
    assert_eq!(titles(&latest_db).await, both);

    // A damaged base backup is refused before anything is written.
    let damaged = scratch.path().join("damaged");
    let copied = std::process::Command::new("cp")
        .args(["-a", base])
        .arg(&damaged)
        .status()
        .expect("cp");
    assert!(copied.success());
    let control = damaged.join("global/pg_control");
    let mut bytes = std::fs::read(&control).expect("read pg_control");
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&control, bytes).expect("truncate pg_control");
    let refused = OwnPostgres::adopt("pitr-damaged");
    let stderr = refused_restore(&damaged, &archive, refused.name);
    assert!(stderr.contains("does not verify"), "{stderr}");
}

/// Runs `pg-pitr.sh restore` expecting a refusal; returns its stderr.
fn refused_restore(base: &std::path::Path, archive: &str, name: &str) -> String {
    let output = std::process::Command::new("bash")
        .arg(sp_tests::repo_root().join("scripts/pg-pitr.sh"))
        .arg("restore")
        .arg(base)
        .arg(archive)
        .arg(name)
        .output()
        .expect("run pg-pitr.sh");
    assert!(!output.status.success(), "the restore was refused");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_restore_refuses_what_is_not_a_base_backup() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let not_a_backup = scratch.path().join("empty");
    std::fs::create_dir(&not_a_backup).expect("mkdir");
    let _cleanup = OwnPostgres::adopt("pitr-refused");
    let archive = scratch.path().to_str().expect("utf-8 path");
    let stderr = refused_restore(&not_a_backup, archive, "pitr-refused");
    assert!(stderr.contains("is not a base backup"), "{stderr}");
}
