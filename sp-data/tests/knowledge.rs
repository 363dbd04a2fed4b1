//! One knowledge-store suite, run against every backend: embedded SQLite and the PostgreSQL
//! of the services script (real, each test in a fresh schema).

use std::sync::Arc;

use serde_json::json;
use sp_core::knowledge::{
    ContentFormat, HashEmbedder, IngestOutcome, KnowledgeBase, KnowledgeConfig, Namespace,
    NewDocument, PreparedDocument, SearchMode, SearchQuery, Section, SimpleTokenizer,
};
use sp_core::{Embedder as _, Error, ErrorCode, Id, PageRequest};

#[path = "knowledge/crowded.rs"]
mod crowded;
#[path = "knowledge/embedder.rs"]
mod embedder;
#[path = "support/knowledge_fixture.rs"]
mod fixture;
#[path = "knowledge/quota.rs"]
mod quota;
#[path = "support/knowledge_recall.rs"]
mod recall;
#[path = "knowledge/reembed.rs"]
mod reembed;

use fixture::{DIMS, Fixture};

fn ns(name: &str) -> Namespace {
    Namespace::new(name).expect("namespace")
}

fn doc(title: &str, content: &str) -> NewDocument {
    NewDocument::new(title, content)
}

fn query(text: &str, mode: SearchMode) -> SearchQuery {
    SearchQuery {
        mode,
        ..SearchQuery::new(text)
    }
}

async fn ingest_is_idempotent_and_replaces(f: &Fixture) {
    let first =
        f.kb.ingest(
            doc("Guide", "# Setup\nInstall the tool with the installer.").with_external_id("guide"),
        )
        .await
        .expect("ingest");
    assert_eq!(first.outcome, IngestOutcome::Created);
    assert!(first.document.section_count >= 1);

    let again =
        f.kb.ingest(
            doc("Guide", "# Setup\nInstall the tool with the installer.").with_external_id("guide"),
        )
        .await
        .expect("ingest");
    assert_eq!(again.outcome, IngestOutcome::Unchanged);
    assert_eq!(again.document.id, first.document.id);
    assert_eq!(again.document.updated_at, first.document.updated_at);

    let changed =
        f.kb.ingest(
            doc("Guide", "# Setup\nCompile it from source with cargo.").with_external_id("guide"),
        )
        .await
        .expect("ingest");
    assert_eq!(changed.outcome, IngestOutcome::Replaced);
    assert_eq!(changed.document.id, first.document.id);
    let sections =
        f.kb.sections(&ns("default"), first.document.id)
            .await
            .expect("sections");
    assert!(sections.iter().any(|s| s.text.contains("cargo")));
    assert!(
        !sections.iter().any(|s| s.text.contains("installer")),
        "old sections are gone"
    );
    let stale =
        f.kb.search(&query("installer", SearchMode::Keyword))
            .await
            .expect("search");
    assert!(stale.is_empty(), "old text is not searchable: {stale:?}");

    // Without an external id, identical content is recognised too.
    let a =
        f.kb.ingest(doc("Note", "Same words here."))
            .await
            .expect("ingest");
    let b =
        f.kb.ingest(doc("Note", "Same words here."))
            .await
            .expect("ingest");
    assert_eq!(
        (a.outcome, b.outcome),
        (IngestOutcome::Created, IngestOutcome::Unchanged)
    );
    assert_eq!(a.document.id, b.document.id);
}

async fn seed_animals(f: &Fixture) -> (Id, Id, Id) {
    let cats =
        f.kb.ingest(
            doc(
                "Cats",
                "# Cats\nCats sleep for most of the day and hunt mice at night.",
            )
            .with_metadata(json!({"lang": "en", "kind": "animal", "tags": ["pets"]})),
        )
        .await
        .expect("cats");
    let dogs =
        f.kb.ingest(
            doc(
                "Dogs",
                "# Dogs\nDogs love long walks in the park and playing fetch.",
            )
            .with_metadata(json!({"lang": "en", "kind": "animal"})),
        )
        .await
        .expect("dogs");
    let money =
        f.kb.ingest(
            doc(
                "Report",
                "Quarterly revenue grew by eight percent while costs fell.",
            )
            .with_metadata(json!({"lang": "fr", "kind": "finance"}))
            .with_format(ContentFormat::Text),
        )
        .await
        .expect("money");
    (cats.document.id, dogs.document.id, money.document.id)
}

async fn every_search_mode_finds_the_right_document(f: &Fixture) {
    let (cats, _, money) = seed_animals(f).await;
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits =
            f.kb.search(&query("how long do cats sleep", mode))
                .await
                .expect("search");
        assert_eq!(
            hits.first().map(|h| h.document_id),
            Some(cats),
            "{mode:?}: {hits:?}"
        );
        assert_eq!(hits[0].title, "Cats");
        assert!(hits[0].section.text.contains("sleep"));
        assert_eq!(hits[0].section.heading_path, ["Cats"]);
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{mode:?} sorted"
        );
        let hits =
            f.kb.search(&query("revenue growth", mode))
                .await
                .expect("search");
        assert_eq!(
            hits.first().map(|h| h.document_id),
            Some(money),
            "{mode:?}: {hits:?}"
        );
    }
    let mut one = query("animals", SearchMode::Vector);
    one.k = 1;
    assert_eq!(f.kb.search(&one).await.expect("search").len(), 1);
}

async fn filters_restrict_by_metadata(f: &Fixture) {
    let (cats, dogs, _) = seed_animals(f).await;
    let mut q = query("cats dogs revenue", SearchMode::Hybrid);
    q.filter = Some(json!({"kind": "animal"}));
    let hits = f.kb.search(&q).await.expect("search");
    let ids: std::collections::HashSet<Id> = hits.iter().map(|h| h.document_id).collect();
    assert_eq!(ids, [cats, dogs].into_iter().collect(), "{hits:?}");
    for mode in [SearchMode::Vector, SearchMode::Keyword] {
        q.mode = mode;
        q.filter = Some(json!({"tags": ["pets"]}));
        let hits = f.kb.search(&q).await.expect("search");
        assert!(
            hits.iter().all(|h| h.document_id == cats),
            "{mode:?}: {hits:?}"
        );
        assert!(!hits.is_empty(), "{mode:?}");
    }
    q.filter = Some(json!(["not", "an", "object"]));
    let err = f.kb.search(&q).await.expect_err("malformed filter");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

async fn namespaces_are_isolated(f: &Fixture) {
    let a = ns("tenant-a");
    let b = ns("tenant-b");
    let secret =
        f.kb.ingest(doc("Secret", "The launch code is swordfish.").in_namespace(a.clone()))
            .await
            .expect("ingest");
    f.kb.ingest(doc("Public", "Nothing to see here.").in_namespace(b.clone()))
        .await
        .expect("ingest");
    let id = secret.document.id;
    assert_eq!(
        f.kb.get(&b, id).await.expect_err("other tenant").code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        f.kb.delete(&b, id).await.expect_err("other tenant").code(),
        ErrorCode::NotFound
    );
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let mut q = query("launch code swordfish", mode);
        q.namespace = b.clone();
        let hits = f.kb.search(&q).await.expect("search");
        assert!(
            hits.iter().all(|h| h.document_id != id),
            "{mode:?} leaked: {hits:?}"
        );
        q.namespace = a.clone();
        assert_eq!(f.kb.search(&q).await.expect("search")[0].document_id, id);
    }
    // A namespace that holds nothing yet is empty, not missing: every mode finds nothing and
    // its listing is an empty page (tenants' namespaces exist before their first document).
    let empty = ns("acme.nobody-here");
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let mut q = query("launch code swordfish", mode);
        q.namespace = empty.clone();
        assert!(
            f.kb.search(&q).await.expect("search").is_empty(),
            "{mode:?}"
        );
    }
    let page =
        f.kb.list(&empty, &PageRequest::default())
            .await
            .expect("list");
    assert!(page.items.is_empty() && page.next_cursor.is_none());
}

async fn listing_pages_with_cursors(f: &Fixture) {
    let space = ns("paging");
    let mut ids = Vec::new();
    for i in 0..7 {
        let d =
            f.kb.ingest(
                doc(&format!("Doc {i}"), &format!("Body number {i}.")).in_namespace(space.clone()),
            )
            .await
            .expect("ingest");
        ids.push(d.document.id);
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page =
            f.kb.list(&space, &PageRequest::new(Some(3), cursor).expect("page"))
                .await
                .expect("list");
        seen.extend(page.items.iter().map(|d| d.id));
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next.as_str().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let bad = PageRequest::new(Some(3), Some("not-a-cursor".into())).expect("page");
    assert_eq!(
        f.kb.list(&space, &bad).await.expect_err("cursor").code(),
        ErrorCode::InvalidCursor
    );
}

async fn soft_delete_restore_and_purge(f: &Fixture) {
    let (cats, _, _) = seed_animals(f).await;
    let space = ns("default");
    f.kb.delete(&space, cats).await.expect("delete");
    assert_eq!(
        f.kb.get(&space, cats).await.expect_err("deleted").code(),
        ErrorCode::NotFound
    );
    for mode in [SearchMode::Vector, SearchMode::Keyword, SearchMode::Hybrid] {
        let hits =
            f.kb.search(&query("cats sleep", mode))
                .await
                .expect("search");
        assert!(hits.iter().all(|h| h.document_id != cats), "{mode:?}");
    }
    let listed =
        f.kb.list(&space, &PageRequest::default())
            .await
            .expect("list");
    assert!(listed.items.iter().all(|d| d.id != cats));
    let with_deleted = f
        .store
        .list(&space, &PageRequest::default(), true)
        .await
        .expect("list");
    assert!(
        with_deleted
            .items
            .iter()
            .any(|d| d.id == cats && d.deleted_at.is_some())
    );
    assert_eq!(
        f.kb.delete(&space, cats).await.expect_err("twice").code(),
        ErrorCode::NotFound
    );

    let restored = f.kb.restore(&space, cats).await.expect("restore");
    assert!(restored.deleted_at.is_none());
    let hits =
        f.kb.search(&query("cats sleep", SearchMode::Hybrid))
            .await
            .expect("search");
    assert_eq!(hits[0].document_id, cats);

    f.kb.purge(&space, cats).await.expect("purge");
    assert_eq!(
        f.kb.restore(&space, cats).await.expect_err("purged").code(),
        ErrorCode::NotFound
    );
    let with_deleted = f
        .store
        .list(&space, &PageRequest::default(), true)
        .await
        .expect("list");
    assert!(with_deleted.items.iter().all(|d| d.id != cats));
    assert_eq!(
        f.kb.purge(&space, cats).await.expect_err("twice").code(),
        ErrorCode::NotFound
    );
}

async fn concurrent_ingests_of_one_document(f: &Fixture) {
    let space = ns("race");
    let same = || {
        doc("Race", "Everyone writes this at once.")
            .with_external_id("race")
            .in_namespace(space.clone())
    };
    let outcomes = futures::future::join_all((0..8).map(|_| f.kb.ingest(same()))).await;
    let outcomes: Vec<IngestOutcome> = outcomes
        .into_iter()
        .map(|o| o.expect("ingest").outcome)
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == IngestOutcome::Created)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|o| *o != IngestOutcome::Replaced),
        "{outcomes:?}"
    );

    // Different versions at once: one wins whole; sections never mix versions.
    let versions = (0..6).map(|i| {
        doc("Race", &format!("Version {i} text. ").repeat(40 * (i + 1)))
            .with_external_id("race")
            .in_namespace(space.clone())
    });
    for result in futures::future::join_all(versions.map(|d| f.kb.ingest(d))).await {
        result.expect("ingest");
    }
    let listed =
        f.kb.list(&space, &PageRequest::default())
            .await
            .expect("list");
    assert_eq!(listed.items.len(), 1);
    let document = &listed.items[0];
    let sections = f.kb.sections(&space, document.id).await.expect("sections");
    assert_eq!(sections.len() as u32, document.section_count);
    let version = sections[0]
        .text
        .split_whitespace()
        .nth(1)
        .expect("version")
        .to_owned();
    assert!(
        sections
            .iter()
            .all(|s| s.text.contains(&format!("Version {version}"))),
        "mixed versions"
    );
}

/// `ingest_many`: results come in the documents' order, a bad document fails alone in its
/// place, and two writes of one external id land in order (the later content wins).
async fn ingest_many_keeps_order_and_isolates_failures(f: &Fixture) {
    let space = ns("many");
    let mut documents: Vec<NewDocument> = (0..12)
        .map(|i| {
            doc(&format!("Doc {i}"), &format!("Body {i} about topic{i}."))
                .in_namespace(space.clone())
        })
        .collect();
    documents[5] = doc("Empty", "   ").in_namespace(space.clone());
    documents[10] = documents[10].clone().with_external_id("same");
    documents[11] = doc("Doc 11", "Later words about topic11.")
        .with_external_id("same")
        .in_namespace(space.clone());
    let results = f.kb.ingest_many(documents).await;
    assert_eq!(results.len(), 12);
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (5, Err(err)) => assert_eq!(err.code(), ErrorCode::InvalidInput),
            (5, Ok(done)) => panic!("an empty document was stored: {done:?}"),
            (_, Ok(done)) => assert_eq!(done.document.title, format!("Doc {i}")),
            (_, Err(err)) => panic!("document {i}: {err}"),
        }
    }
    let (first, last) = (results[10].as_ref(), results[11].as_ref());
    let (first, last) = (first.expect("10"), last.expect("11"));
    assert_eq!(last.outcome, IngestOutcome::Replaced);
    assert_eq!(last.document.id, first.document.id);
    let listed =
        f.kb.list(&space, &PageRequest::default())
            .await
            .expect("list");
    assert_eq!(
        listed.items.len(),
        10,
        "12 less the empty one and the replaced one"
    );
    let hits =
        f.kb.search(&SearchQuery {
            namespace: space.clone(),
            ..query("later words", SearchMode::Keyword)
        })
        .await
        .expect("search");
    assert_eq!(hits[0].title, "Doc 11");
}

async fn bad_input_is_refused_and_leaves_nothing(f: &Fixture) {
    let space = ns("bad-input");
    let err =
        f.kb.ingest(doc("Empty", "   ").in_namespace(space.clone()))
            .await
            .expect_err("empty");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    let huge = "x".repeat(64 * 1024 + 1);
    let err =
        f.kb.ingest(doc("Huge", &huge).in_namespace(space.clone()))
            .await
            .expect_err("huge");
    assert_eq!(err.code(), ErrorCode::DocumentTooLarge);
    let err =
        f.kb.ingest(
            doc("Meta", "text")
                .with_metadata(json!([1, 2]))
                .in_namespace(space.clone()),
        )
        .await
        .expect_err("metadata");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    // Metadata rides along with every search hit, so it is bounded (review finding H5): in
    // bytes (16 KiB as JSON) and in depth (16 levels).
    let mut nested = json!(0);
    for _ in 0..17 {
        nested = json!([nested]);
    }
    let too_big = json!({"m": vec![0; 9_000]});
    // U+0000 too: a coded 400 on every backend, not PostgreSQL's 500 (review finding L12).
    let nul = json!({"k": "a\u{0}b"});
    for (name, metadata) in [
        ("big", too_big),
        ("deep", json!({"d": nested})),
        ("nul", nul),
    ] {
        let err =
            f.kb.ingest(
                doc("Meta", "text")
                    .with_metadata(metadata)
                    .in_namespace(space.clone()),
            )
            .await
            .expect_err(name);
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{name}: {err}");
        assert!(err.to_string().contains("metadata"), "{err}");
    }
    let fits = json!({"m": vec![0; 7_000]});
    let ok =
        f.kb.ingest(
            doc("Fits", "text")
                .with_metadata(fits)
                .in_namespace(ns("meta-fits")),
        )
        .await;
    assert!(ok.is_ok(), "14 KB of metadata is within the limit: {ok:?}");
    let long_title = "t".repeat(1_001);
    let err =
        f.kb.ingest(doc(&long_title, "text").in_namespace(space.clone()))
            .await
            .expect_err("title");
    assert_eq!(err.code(), ErrorCode::InvalidInput);

    // A vector with NaN in the middle of a document: nothing of it is written.
    let mut vectors = HashEmbedder::new(DIMS)
        .embed(&["one".into(), "two".into()])
        .await
        .expect("embed");
    vectors[1][3] = f32::NAN;
    let sections = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            (
                Section {
                    ordinal: i as u32,
                    heading_path: vec![],
                    text: format!("part {i}"),
                    token_count: 2,
                },
                v,
            )
        })
        .collect();
    let prepared = PreparedDocument {
        document: doc("Broken", "part 0 part 1").in_namespace(space.clone()),
        content_hash: "h".into(),
        sections,
        storage_quota: Default::default(),
    };
    let err = f.store.put(prepared).await.expect_err("nan");
    assert_eq!(err.code(), ErrorCode::InvalidVector);
    let listed = f
        .store
        .list(&space, &PageRequest::default(), true)
        .await
        .expect("an empty namespace lists");
    assert!(listed.items.is_empty(), "nothing stored, deleted or not");

    let err = f
        .store
        .vector_search(&ns("default"), &[0.5; DIMS - 1], 3, None)
        .await
        .expect_err("dims");
    assert_eq!(err.code(), ErrorCode::DimensionMismatch);
    let err = KnowledgeBase::new(
        f.store.clone(),
        Arc::new(HashEmbedder::new(DIMS * 2)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect_err("embedder of another dimension");
    assert!(matches!(err, Error::DimensionMismatch { .. }), "{err}");
}

macro_rules! suite {
    ($backend:ident, $with:ident) => {
        mod $backend {
            use super::*;

            async fn run(case: for<'a> fn(&'a Fixture) -> futures::future::BoxFuture<'a, ()>) {
                let fixture = Fixture::$backend().await;
                case(&fixture).await;
                fixture.cleanup().await;
            }

            #[tokio::test]
            async fn ingest_is_idempotent_and_replaces() {
                run(|f| Box::pin(super::ingest_is_idempotent_and_replaces(f))).await;
            }
            #[tokio::test]
            async fn every_search_mode_finds_the_right_document() {
                run(|f| Box::pin(super::every_search_mode_finds_the_right_document(f))).await;
            }
            #[tokio::test]
            async fn filters_restrict_by_metadata() {
                run(|f| Box::pin(super::filters_restrict_by_metadata(f))).await;
            }
            #[tokio::test]
            async fn namespaces_are_isolated() {
                run(|f| Box::pin(super::namespaces_are_isolated(f))).await;
            }
            #[tokio::test]
            async fn a_small_namespace_is_found_among_many_matches_of_another() {
                run(|f| {
                    Box::pin(
                        super::crowded::a_small_namespace_is_found_among_many_matches_of_another(f),
                    )
                })
                .await;
            }
            #[tokio::test]
            async fn listing_pages_with_cursors() {
                run(|f| Box::pin(super::listing_pages_with_cursors(f))).await;
            }
            #[tokio::test]
            async fn soft_delete_restore_and_purge() {
                run(|f| Box::pin(super::soft_delete_restore_and_purge(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_ingests_of_one_document() {
                run(|f| Box::pin(super::concurrent_ingests_of_one_document(f))).await;
            }
            #[tokio::test]
            async fn ingest_many_keeps_order_and_isolates_failures() {
                run(|f| Box::pin(super::ingest_many_keeps_order_and_isolates_failures(f))).await;
            }
            #[tokio::test]
            async fn bad_input_is_refused_and_leaves_nothing() {
                run(|f| Box::pin(super::bad_input_is_refused_and_leaves_nothing(f))).await;
            }
            #[tokio::test]
            async fn storage_quotas_bound_sections_and_free_on_purge() {
                run(|f| Box::pin(super::quota::storage_quotas_bound_sections_and_free_on_purge(f)))
                    .await;
            }
            #[tokio::test]
            async fn storage_quotas_bound_bytes() {
                run(|f| Box::pin(super::quota::storage_quotas_bound_bytes(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_ingests_never_pass_the_quota() {
                run(|f| Box::pin(super::quota::concurrent_ingests_never_pass_the_quota(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_dropped_write_still_finishes() {
                run(|f| Box::pin(super::quota::a_dropped_write_still_finishes(f))).await;
            }
            #[tokio::test]
            async fn another_embedder_is_refused() {
                run(|f| Box::pin(super::embedder::another_embedder_is_refused(f))).await;
            }
            #[tokio::test]
            async fn vector_recall_on_clustered_data() {
                let fixture = Fixture::$with(384).await;
                super::recall::vector_recall_on_clustered_data(&fixture).await;
                fixture.cleanup().await;
            }
        }
    };
}

suite!(sqlite, sqlite_with);
suite!(sqlite_graph, sqlite_graph_with);
suite!(postgres, postgres_with);
suite!(memory, memory_with);

/// Re-embedding works on the rows of a SQL database, not on an open store.
mod reembedding {
    use sp_tests::TestDatabase;

    async fn on_each_backend(
        case: for<'a> fn(&'a sp_data::Database) -> futures::future::BoxFuture<'a, ()>,
    ) {
        for db in [
            TestDatabase::sqlite().await,
            TestDatabase::postgres("kb_reembed").await,
        ] {
            case(&db.database).await;
            db.cleanup().await;
        }
    }

    #[tokio::test]
    async fn reembedding_switches_the_model_and_keeps_every_section() {
        on_each_backend(|db| {
            Box::pin(super::reembed::reembedding_switches_the_model_and_keeps_every_section(db))
        })
        .await;
    }

    #[tokio::test]
    async fn a_failure_halfway_changes_nothing() {
        on_each_backend(|db| Box::pin(super::reembed::a_failure_halfway_changes_nothing(db))).await;
    }

    #[tokio::test]
    async fn an_open_embedded_store_is_not_reembedded_under_it() {
        super::reembed::an_open_embedded_store_is_not_reembedded_under_it().await;
    }
}
