//! `export_store` / `import_store`: a store moved embedded → PostgreSQL → embedded exports the
//! same bytes at every step and answers searches the same; the export covers every column of
//! both live schemas; a bad line, a truncated file or a target holding data imports nothing.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use sp_core::ErrorCode;
use sp_core::chat::Role;
use sp_core::context::{NewContext, NewMessage, PreparedMessage};
use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeConfig, NewDocument, SearchMode, SearchQuery,
    SimpleTokenizer,
};
use sp_data::Database;
use sp_tests::TestDatabase;

const DIMENSIONS: usize = 16;

async fn knowledge(database: &Database) -> KnowledgeBase {
    let store = database
        .document_store(DIMENSIONS)
        .await
        .expect("document store");
    KnowledgeBase::new(
        store,
        Arc::new(HashEmbedder::new(DIMENSIONS)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("knowledge base")
}

/// Documents (sections with vectors), a key, a context with messages, events.
async fn fill(database: &Database) {
    let kb = knowledge(database).await;
    for (title, body) in sp_tests::PARAPHRASE_DOCUMENTS {
        kb.ingest(
            NewDocument::new(title, body)
                .with_metadata(json!({"zeta": 1, "alpha": {"y": [1, 2], "b": null}})),
        )
        .await
        .expect("ingest");
    }
    let key: sp_core::auth::NewApiKey =
        serde_json::from_value(json!({"name": "exporter", "scopes": ["inference", "events"]}))
            .expect("key");
    sp_core::auth::create_key(database.key_store().as_ref(), key)
        .await
        .expect("create key");
    let contexts = database.context_store();
    let new: NewContext = serde_json::from_value(json!({
        "title": "Trip", "system_prompt": "Be brief.", "metadata": {"b": 2, "a": 1},
        "extract_facts": true
    }))
    .expect("context");
    let context = contexts.create(new).await.expect("create context");
    for (role, text) in [(Role::User, "Where to?"), (Role::Assistant, "The coast.")] {
        let message = PreparedMessage {
            message: NewMessage::new(role, text),
            token_count: 4,
            covers_through: None,
        };
        contexts
            .append(&context.namespace, context.id, message)
            .await
            .expect("append");
    }
    let events = (0..3)
        .map(|n| {
            serde_json::from_value(json!({"stream": "trips", "type": "trip.planned",
                "data": {"n": n, "where": "coast"}}))
            .expect("event")
        })
        .collect();
    database
        .event_store()
        .append(events)
        .await
        .expect("append events");
}

async fn answers(database: &Database) -> Vec<Vec<(String, String)>> {
    let kb = knowledge(database).await;
    let mut all = Vec::new();
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits = kb
            .search(&SearchQuery {
                mode,
                k: 5,
                ..SearchQuery::new("the harbour wind and the spark plugs")
            })
            .await
            .expect("search");
        all.push(
            hits.into_iter()
                .map(|h| (h.title, h.section.text))
                .collect(),
        );
    }
    all
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read export")
}

#[tokio::test]
async fn a_store_moves_embedded_to_postgres_and_back_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let laptop = TestDatabase::sqlite().await;
    fill(&laptop.database).await;
    let first = dir.path().join("laptop.jsonl");
    let summary = sp_data::export_store(&laptop.database, &first)
        .await
        .expect("export embedded");
    assert_eq!(
        summary.rows["kb_documents"],
        sp_tests::PARAPHRASE_DOCUMENTS.len() as u64
    );
    assert_eq!(summary.rows["ctx_messages"], 2);
    assert_eq!(summary.rows["events"], 3);
    assert_eq!(summary.rows["auth_keys"], 1);
    assert!(summary.rows["kb_sections"] >= sp_tests::PARAPHRASE_DOCUMENTS.len() as u64);
    assert!(!dir.path().join("laptop.jsonl.partial").exists());

    let server = TestDatabase::postgres("transfer").await;
    let imported = sp_data::import_store(&server.database, &first)
        .await
        .expect("import into postgres");
    assert_eq!(imported, summary);
    let second = dir.path().join("server.jsonl");
    sp_data::export_store(&server.database, &second)
        .await
        .expect("export postgres");
    assert_eq!(
        read(&second),
        read(&first),
        "PostgreSQL exports the same bytes"
    );

    let back = TestDatabase::sqlite().await;
    sp_data::import_store(&back.database, &second)
        .await
        .expect("import back");
    let third = dir.path().join("back.jsonl");
    sp_data::export_store(&back.database, &third)
        .await
        .expect("export again");
    assert_eq!(read(&third), read(&first), "the round trip is byte-equal");

    let expected = answers(&laptop.database).await;
    assert!(
        !expected[1].is_empty(),
        "the keyword search finds something"
    );
    // The vectors moved exactly: PostgreSQL ranks the same sections the same way. Its keyword
    // search is its own (English stemming and stop words, where FTS5 keeps "the"), so there it
    // finds a subset of what the embedded store finds.
    let on_server = answers(&server.database).await;
    assert_eq!(
        on_server[0], expected[0],
        "PostgreSQL's vector search answers the same"
    );
    assert!(!on_server[1].is_empty());
    for hit in &on_server[1] {
        assert!(
            expected[1].contains(hit),
            "{hit:?} not among {:?}",
            expected[1]
        );
    }
    assert_eq!(
        answers(&back.database).await,
        expected,
        "the way back answers the same"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn the_export_covers_every_column_of_both_live_schemas() {
    let catalogue: Vec<(String, Vec<String>)> = sp_data::exported_tables()
        .into_iter()
        .map(|(t, cols)| (t.to_owned(), cols.into_iter().map(String::from).collect()))
        .collect();
    let covered = |table: &str, columns: Vec<String>, derived: &[&str]| {
        let columns: Vec<String> = columns
            .into_iter()
            .filter(|c| !derived.contains(&format!("{table}.{c}").as_str()))
            .collect();
        let listed = catalogue.iter().find(|(t, _)| t == table);
        let mut want = listed.map(|(_, cols)| cols.clone()).unwrap_or_default();
        let mut have = columns;
        want.sort();
        have.sort();
        assert_eq!(
            have, want,
            "table `{table}`: live columns vs exported columns"
        );
    };

    let embedded = TestDatabase::sqlite().await;
    let Database::Embedded(sqlite) = &embedded.database else {
        unreachable!("embedded")
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE 'kb_sections_fts%' AND name NOT IN \
         ('_sqlx_migrations', 'kb_index_journal', 'kb_index_identity', 'replicas') ORDER BY name",
    )
    .fetch_all(sqlite.pool())
    .await
    .expect("sqlite tables");
    assert_eq!(tables.len(), catalogue.len(), "{tables:?}");
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(sqlite.pool())
        .await
        .expect("columns");
        covered(&table, columns, &["kb_sections.rowid"]);
    }

    let server = TestDatabase::postgres("transfer_schema").await;
    let Database::Postgres(pg) = &server.database else {
        unreachable!("postgres")
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() \
         AND table_name NOT IN ('_sqlx_migrations', 'replicas') \
         AND NOT EXISTS (SELECT 1 FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace \
             AND c.relname = table_name AND c.relispartition) ORDER BY 1",
    )
    .fetch_all(pg.pool())
    .await
    .expect("postgres tables");
    assert_eq!(tables.len(), catalogue.len(), "{tables:?}");
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(pg.pool())
        .await
        .expect("columns");
        covered(
            &table,
            columns,
            &["kb_sections.id", "kb_sections.tsv", "kb_sections.namespace"],
        );
    }
    server.cleanup().await;
}

async fn document_count(database: &Database) -> usize {
    let kb = knowledge(database).await;
    kb.list(&Default::default(), &Default::default())
        .await
        .expect("list")
        .items
        .len()
}

#[tokio::test]
async fn a_bad_line_a_truncated_file_or_a_full_target_imports_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = TestDatabase::sqlite().await;
    fill(&source.database).await;
    let good = dir.path().join("good.jsonl");
    sp_data::export_store(&source.database, &good)
        .await
        .expect("export");
    let lines: Vec<String> = read(&good).lines().map(String::from).collect();

    for backend in ["sqlite", "postgres"] {
        let target = match backend {
            "sqlite" => TestDatabase::sqlite().await,
            _ => TestDatabase::postgres("transfer_bad").await,
        };
        // A row of the wrong type in the middle: named by file and line; nothing imported.
        let mut bad = lines.clone();
        let middle = bad.len() / 2;
        bad[middle] = r#"{"table":"kb_documents","row":{"id":"not-a-uuid"}}"#.into();
        let bad_path = dir.path().join(format!("bad-{backend}.jsonl"));
        std::fs::write(&bad_path, bad.join("\n") + "\n").expect("write");
        let err = sp_data::import_store(&target.database, &bad_path)
            .await
            .expect_err("a bad line");
        assert_eq!(err.code(), ErrorCode::ImportInvalid);
        let message = err.to_string();
        assert!(
            message.contains(&format!("bad-{backend}.jsonl:{}", middle + 1)),
            "{message}"
        );
        assert!(message.contains("expected a UUID string"), "{message}");

        // Cut short: no closing line.
        let cut = dir.path().join(format!("cut-{backend}.jsonl"));
        std::fs::write(&cut, lines[..lines.len() - 1].join("\n") + "\n").expect("write");
        let err = sp_data::import_store(&target.database, &cut)
            .await
            .expect_err("truncated");
        assert_eq!(err.code(), ErrorCode::ImportInvalid);
        assert!(err.to_string().contains("truncated"), "{err}");

        // Not JSON at all.
        let junk = dir.path().join(format!("junk-{backend}.jsonl"));
        std::fs::write(&junk, "PK\u{3}\u{4}binary").expect("write");
        let err = sp_data::import_store(&target.database, &junk)
            .await
            .expect_err("junk");
        assert!(err.to_string().contains("junk-"), "{err}");
        assert!(err.to_string().contains(":1"), "{err}");
        assert_eq!(
            document_count(&target.database).await,
            0,
            "nothing imported"
        );

        // A good file goes in once; a second import finds the target holding data.
        sp_data::import_store(&target.database, &good)
            .await
            .expect("the good file");
        assert_eq!(
            document_count(&target.database).await,
            sp_tests::PARAPHRASE_DOCUMENTS.len()
        );
        let err = sp_data::import_store(&target.database, &good)
            .await
            .expect_err("the target holds data");
        assert_eq!(err.code(), ErrorCode::ImportInvalid);
        assert!(err.to_string().contains("already holds data"), "{err}");
        assert_eq!(
            document_count(&target.database).await,
            sp_tests::PARAPHRASE_DOCUMENTS.len()
        );
        target.cleanup().await;
    }
}
