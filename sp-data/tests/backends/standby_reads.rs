//! `database.read_url`: knowledge searches on a hot standby (`scripts/pg-ha.sh`: a primary
//! streaming synchronously to it), what a paused replay hides from them, and the primary
//! answering when the standby cannot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeConfig, NewDocument, SearchMode, SearchQuery,
    SimpleTokenizer,
};
use sp_data::{Database, PgStore};

/// A `pg-ha.sh` pair, removed when dropped.
struct Pair(&'static str);

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(sp_tests::repo_root().join("scripts/pg-ha.sh"))
            .args(["down", self.0])
            .output();
    }
}

async fn knowledge(pg: &PgStore) -> KnowledgeBase {
    let store = Database::Postgres(pg.clone())
        .document_store(16)
        .await
        .expect("document store");
    KnowledgeBase::new(
        store,
        Arc::new(HashEmbedder::new(16)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base")
}

async fn titles(kb: &KnowledgeBase, words: &str, mode: SearchMode) -> Vec<String> {
    let query = SearchQuery {
        mode,
        ..SearchQuery::new(words)
    };
    let hits = kb.search(&query).await.expect("search");
    hits.into_iter().map(|hit| hit.title).collect()
}

/// Searches until `words` finds `title` (the standby replays within moments).
async fn until_found(kb: &KnowledgeBase, words: &str, title: &str) {
    let started = Instant::now();
    while !titles(kb, words, SearchMode::Keyword)
        .await
        .iter()
        .any(|t| t == title)
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{title} never replayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn on(url: &str, sql: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .expect(sql);
}

#[tokio::test]
async fn postgres_searches_read_the_standby_and_fall_back_to_the_primary() {
    let printed = sp_tests::script("pg-ha.sh", &["up", "reads", "sync"]);
    let _pair = Pair("reads");
    let url = |var: &str| {
        printed
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{var}=")))
            .unwrap_or_else(|| panic!("no {var} in {printed}"))
            .to_owned()
    };
    let (primary, standby) = (url("SP_HA_PRIMARY_URL"), url("SP_HA_STANDBY_URL"));
    let config = sp_core::config::DatabaseConfig {
        url: Some(primary.clone()),
        read_url: Some(standby.clone()),
        schema: format!("reads_{}", sp_core::Id::new().as_uuid().simple()),
        ..Default::default()
    };
    let pg = PgStore::connect_lazy(&config).expect("pools");
    pg.migrate().await.expect("migrate");
    let kb = knowledge(&pg).await;
    kb.ingest(NewDocument::new("Alpha", "The heron stands in the reeds."))
        .await
        .expect("ingest");
    until_found(&kb, "heron", "Alpha").await;

    // The standby stops replaying: a document written now is on the primary only, and the
    // searches, which read the standby, do not see it yet.
    on(&standby, "SELECT pg_wal_replay_pause()").await;
    let beta = kb
        .ingest(NewDocument::new("Beta", "The kingfisher dives for fish."))
        .await
        .expect("ingest on the primary")
        .document;
    let read = kb
        .get(&beta.namespace, beta.id)
        .await
        .expect("reads stay on the primary");
    assert_eq!(read.title, "Beta");
    assert!(
        titles(&kb, "kingfisher", SearchMode::Keyword)
            .await
            .is_empty()
    );
    let nearest = titles(&kb, "The kingfisher dives for fish.", SearchMode::Vector).await;
    assert_eq!(nearest, ["Alpha"], "the standby holds only Alpha");
    on(&standby, "SELECT pg_wal_replay_resume()").await;
    until_found(&kb, "kingfisher", "Beta").await;

    // A standby that cannot answer: the primary does.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let unreachable = sp_core::config::DatabaseConfig {
        read_url: Some(format!("postgres://sp:sp@127.0.0.1:{port}/sp")),
        ..config.clone()
    };
    let fallback = knowledge(&PgStore::connect_lazy(&unreachable).expect("pools")).await;
    assert_eq!(
        titles(&fallback, "kingfisher", SearchMode::Keyword).await,
        ["Beta"]
    );
    let drop = format!("DROP SCHEMA \"{}\" CASCADE", config.schema);
    on(&primary, &drop).await;
}
