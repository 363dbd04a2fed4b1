//! Storage quotas and writes that outlive their callers, on every backend: what a tenant's
//! documents take is counted in the write's own transaction and refused past its quota
//! (`SP-KB-004`, nothing stored); a write whose caller leaves still finishes whole
//! (review finding M7).

use std::sync::Arc;
use std::task::Poll;

use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeConfig, Namespace, NewDocument, SearchMode, SearchQuery,
    SimpleTokenizer,
};
use sp_core::tenants::{
    MemoryTenantStore, NewTenant, StorageQuota, StorageUse, TenantQuotas, TenantStore,
};
use sp_core::{Error, ErrorCode, PageRequest, TenantId};

use super::fixture::Fixture;

fn acme() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

/// The fixture's store behind a knowledge base that applies `storage` to tenant `acme`.
async fn with_quota(f: &Fixture, storage: StorageQuota) -> KnowledgeBase {
    let tenants = Arc::new(MemoryTenantStore::default());
    let quotas = TenantQuotas {
        storage,
        ..TenantQuotas::default()
    };
    let new = NewTenant {
        id: acme(),
        name: None,
        quotas,
    };
    tenants
        .insert(&new.into_tenant().expect("tenant"))
        .await
        .expect("insert");
    KnowledgeBase::new(
        f.store.clone(),
        Arc::new(HashEmbedder::new(f.store.dimensions())),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("kb")
    .with_tenants(tenants)
}

fn note(space: &Namespace, i: usize) -> NewDocument {
    NewDocument::new(format!("Note {i}"), format!("Short note number {i}."))
        .with_external_id(format!("note-{i}"))
        .in_namespace(space.clone())
}

async fn documents_in(kb: &KnowledgeBase, space: &Namespace) -> usize {
    kb.list(space, &PageRequest::new(Some(100), None).expect("page"))
        .await
        .expect("list")
        .items
        .len()
}

fn is_quota_refusal(err: &Error) -> bool {
    err.code() == ErrorCode::StorageQuotaExceeded
}

pub async fn storage_quotas_bound_sections_and_free_on_purge(f: &Fixture) {
    let quota = StorageQuota {
        max_sections: Some(3),
        max_bytes: None,
    };
    let kb = with_quota(f, quota).await;
    let docs = Namespace::new("acme.docs").expect("ns");
    let more = Namespace::new("acme.more").expect("ns");
    let mut ids = Vec::new();
    for i in 0..3 {
        let space = if i % 2 == 0 { &docs } else { &more };
        ids.push(kb.ingest(note(space, i)).await.expect("fits").document);
    }
    let full = kb.storage_used(&acme()).await.expect("used");
    assert_eq!(full.sections, 3, "one section each, across namespaces");

    // One more section, in either namespace of the tenant, is refused and leaves nothing.
    let err = kb.ingest(note(&docs, 3)).await.expect_err("over quota");
    assert!(is_quota_refusal(&err), "{err}");
    assert!(err.to_string().contains("acme"), "{err}");
    assert_eq!(documents_in(&kb, &docs).await, 2);
    assert_eq!(kb.storage_used(&acme()).await.expect("used"), full);
    let hits = kb
        .search(&SearchQuery {
            mode: SearchMode::Keyword,
            namespace: docs.clone(),
            ..SearchQuery::new("number 3")
        })
        .await
        .expect("search");
    assert!(hits.iter().all(|h| h.title != "Note 3"), "{hits:?}");

    // Other tenants are not held back by acme's quota.
    let elsewhere = Namespace::new("docs").expect("ns");
    kb.ingest(note(&elsewhere, 9))
        .await
        .expect("default tenant");
    assert_eq!(kb.storage_used(&acme()).await.expect("used"), full);

    // A soft-deleted document still counts; a purged one is freed.
    kb.delete(&docs, ids[0].id).await.expect("delete");
    let err = kb.ingest(note(&docs, 3)).await.expect_err("deleted counts");
    assert!(is_quota_refusal(&err), "{err}");
    kb.purge(&docs, ids[0].id).await.expect("purge");
    let freed = kb.storage_used(&acme()).await.expect("used");
    assert_eq!(freed.sections, 2);
    assert!(freed.bytes < full.bytes, "{freed:?} {full:?}");
    kb.ingest(note(&docs, 3)).await.expect("fits again");

    // Replacing a document by one of the same size fits at the quota.
    let replaced = kb
        .ingest(
            NewDocument::new("Note 1", "Replaced note text.")
                .with_external_id("note-1")
                .in_namespace(more.clone()),
        )
        .await
        .expect("a replacement of the same size fits");
    assert_eq!(replaced.document.id, ids[1].id);
    assert_eq!(
        kb.storage_used(&acme()).await.expect("used").sections,
        3,
        "a replacement counts once"
    );
}

pub async fn storage_quotas_bound_bytes(f: &Fixture) {
    let quota = StorageQuota {
        max_sections: None,
        max_bytes: Some(200),
    };
    let kb = with_quota(f, quota).await;
    let docs = Namespace::new("acme.docs").expect("ns");
    let first = NewDocument::new("A", "x".repeat(150)).in_namespace(docs.clone());
    kb.ingest(first).await.expect("fits");
    let used = kb.storage_used(&acme()).await.expect("used");
    assert_eq!(used.bytes, 1 + 150 + 2, "title + content + `{{}}`");
    let second = NewDocument::new("B", "y".repeat(60)).in_namespace(docs.clone());
    let err = kb.ingest(second).await.expect_err("over the bytes");
    assert!(is_quota_refusal(&err), "{err}");
    assert!(err.to_string().contains("bytes"), "{err}");
    assert_eq!(kb.storage_used(&acme()).await.expect("used"), used);
}

/// Twenty ingests at once on a quota of five sections: exactly five are stored.
pub async fn concurrent_ingests_never_pass_the_quota(f: &Fixture) {
    let quota = StorageQuota {
        max_sections: Some(5),
        max_bytes: None,
    };
    let kb = with_quota(f, quota).await;
    let docs = Namespace::new("acme.docs").expect("ns");
    let outcomes = futures::future::join_all((0..20).map(|i| {
        let kb = kb.clone();
        let doc = note(&docs, i);
        tokio::spawn(async move { kb.ingest(doc).await })
    }))
    .await;
    let mut stored = 0;
    for outcome in outcomes {
        match outcome.expect("task") {
            Ok(_) => stored += 1,
            Err(err) => assert!(is_quota_refusal(&err), "{err}"),
        }
    }
    assert_eq!(stored, 5);
    assert_eq!(documents_in(&kb, &docs).await, 5);
    let used: StorageUse = kb.storage_used(&acme()).await.expect("used");
    assert_eq!(used.sections, 5);
}

/// A delete polled once and dropped (its client hung up) still finishes: the document is
/// gone from reads and from search alike.
pub async fn a_dropped_write_still_finishes(f: &Fixture) {
    let space = Namespace::new("dropped").expect("ns");
    for round in 0..5 {
        let doc = NewDocument::new("Doomed", format!("Doomed words of round {round}."))
            .in_namespace(space.clone());
        let id = f.kb.ingest(doc).await.expect("ingest").document.id;
        let mut delete = Box::pin(f.store.delete(&space, id));
        let first = futures::poll!(delete.as_mut());
        drop(delete);
        if let Poll::Ready(done) = first {
            done.expect("delete");
        }
        // The write goes on without its caller: within a moment the document is gone from
        // reads and from search alike (its in-memory update lands just after the commit).
        let mut state = (true, true);
        for _ in 0..100 {
            let readable = f.kb.get(&space, id).await.is_ok();
            let hits =
                f.kb.search(&SearchQuery {
                    // Vector search: the embedded store reads a document's deleted flag from
                    // memory there.
                    mode: SearchMode::Vector,
                    namespace: space.clone(),
                    ..SearchQuery::new("doomed words")
                })
                .await
                .expect("search");
            state = (readable, hits.iter().any(|h| h.document_id == id));
            if state == (false, false) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            state,
            (false, false),
            "round {round}: (readable, searchable) a second after a dropped delete"
        );
    }
}
