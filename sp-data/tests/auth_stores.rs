//! API keys, refresh tokens, the audit log and usage sums on every backend: embedded SQLite, the PostgreSQL
//! of the services script (a fresh schema per test) and the in-process stores.

use std::sync::Arc;

use sp_core::auth::{
    AuditEntry, AuditFilter, AuditStore, KeyStore, MemoryAuditStore, MemoryKeyStore,
    MemoryRefreshStore, NewApiKey, Quota, RefreshStore, Refusal, Rotation, Scope, create_key,
    issue_refresh, rotate_key, rotate_refresh, verify_key,
};
use sp_core::tenants::{MemoryTenantStore, NewTenant, StorageQuota, TenantQuotas, TenantStore};
use sp_core::{ErrorCode, Id, PageRequest, TenantId, Timestamp};
use sp_tests::TestDatabase;

#[path = "auth_stores/usage.rs"]
mod usage;

struct Stores {
    tenants: Arc<dyn TenantStore>,
    keys: Arc<dyn KeyStore>,
    audit: Arc<dyn AuditStore>,
    refresh: Arc<dyn RefreshStore>,
    usage: Arc<dyn sp_core::usage::UsageStore>,
    /// The database the stores are on (none for the in-process stores).
    db: Option<TestDatabase>,
}

fn on(db: TestDatabase) -> Stores {
    Stores {
        tenants: db.database.tenant_store(),
        keys: db.database.key_store(),
        audit: db.database.audit_store(),
        refresh: db.database.refresh_store(),
        usage: db.database.usage_store(),
        db: Some(db),
    }
}

async fn memory() -> Stores {
    Stores {
        tenants: Arc::new(MemoryTenantStore::default()),
        keys: Arc::new(MemoryKeyStore::default()),
        audit: Arc::new(MemoryAuditStore::default()),
        refresh: Arc::new(MemoryRefreshStore::default()),
        usage: Arc::new(sp_core::usage::MemoryUsageStore::default()),
        db: None,
    }
}

async fn sqlite() -> Stores {
    on(TestDatabase::sqlite().await)
}

async fn postgres() -> Stores {
    on(TestDatabase::postgres("auth_test").await)
}

async fn cleanup(stores: Stores) {
    if let Some(db) = stores.db {
        db.cleanup().await;
    }
}

fn acme() -> TenantId {
    TenantId::new("acme").expect("tenant")
}

/// The default tenant is there from the start; a created one is found and listed (with its
/// quotas); a taken id is a conflict and changes nothing; quotas are replaced and cleared.
async fn tenants_round_trip(stores: &Stores) {
    let store = stores.tenants.as_ref();
    let listed = store.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].id.is_default());
    let quotas = TenantQuotas {
        rate_limit: Some("600/min".parse().expect("quota")),
        token_limits: vec!["1000/min".parse().expect("quota")],
        storage: StorageQuota {
            max_sections: Some(10_000),
            max_bytes: None,
        },
    };
    let new = NewTenant {
        id: acme(),
        name: Some("Acme Corp".into()),
        quotas: quotas.clone(),
    };
    let tenant = new.clone().into_tenant().expect("tenant");
    store.insert(&tenant).await.expect("insert");
    let found = store.find(&acme()).await.expect("find").expect("there");
    assert_eq!(found.name, "Acme Corp");
    assert_eq!(found.created_at, tenant.created_at);
    assert_eq!(found.quotas, quotas);
    let more = TenantQuotas {
        rate_limit: None,
        token_limits: vec![
            "1000/min".parse().expect("quota"),
            "50000/day".parse().expect("quota"),
        ],
        storage: StorageQuota {
            max_sections: None,
            max_bytes: Some(1 << 40),
        },
    };
    assert_eq!(
        store.set_quotas(&acme(), &more).await.expect("set").quotas,
        more
    );
    let stored = store.find(&acme()).await.expect("find").expect("there");
    assert_eq!(stored.quotas, more);
    let cleared = store
        .set_quotas(&acme(), &TenantQuotas::default())
        .await
        .expect("clear");
    assert_eq!(cleared.quotas, TenantQuotas::default());
    let absent = TenantId::new("nobody").expect("id");
    let err = store.set_quotas(&absent, &more).await.expect_err("absent");
    assert_eq!(err.code(), ErrorCode::NotFound);
    let mut again = new.into_tenant().expect("tenant");
    again.name = "Impostor".into();
    let err = store.insert(&again).await.expect_err("taken");
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert_eq!(
        store
            .find(&acme())
            .await
            .expect("find")
            .expect("there")
            .name,
        "Acme Corp"
    );
    let ids: Vec<String> = store
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(ids, ["acme", "default"]);
    assert!(
        store
            .find(&TenantId::new("nobody").expect("id"))
            .await
            .expect("find")
            .is_none()
    );
}

async fn keys_round_trip(stores: &Stores) {
    let tenant = NewTenant {
        id: acme(),
        name: None,
        quotas: TenantQuotas::default(),
    };
    stores
        .tenants
        .insert(&tenant.into_tenant().expect("tenant"))
        .await
        .expect("tenant");
    let store = stores.keys.as_ref();
    let new = NewApiKey {
        tenant: sp_core::TenantId::new("acme").expect("tenant"),
        models: Some(vec!["smollm2".into()]),
        tools: Some(vec!["peek".into()]),
        rate_limit: Some("60/min".parse::<Quota>().expect("quota")),
        ..NewApiKey::new("ci", vec![Scope::DocumentsWrite, Scope::Inference])
    };
    let created = create_key(store, new).await.expect("create");
    let verified = verify_key(store, &created.token)
        .await
        .expect("lookup")
        .expect("valid");
    assert_eq!(verified, created.key);
    assert_eq!(
        verified.scopes,
        vec![Scope::Inference, Scope::DocumentsWrite]
    );
    let listed = store.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    let revoked = store.revoke(&created.key.id).await.expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        verify_key(store, &created.token).await.expect("lookup"),
        Err(Refusal::Revoked)
    );
    assert!(store.revoke("000000000000").await.is_err());
}

/// A rotated key answers to its new secret and, during the grace period, its old one; a
/// second rotation or a zero grace ends the old one; revoked keys do not rotate.
async fn rotation_keeps_the_old_secret_for_its_grace(stores: &Stores) {
    let store = stores.keys.as_ref();
    let created = create_key(store, NewApiKey::new("rot", vec![Scope::Events]))
        .await
        .expect("create");
    let valid =
        |token: String| async move { verify_key(store, &token).await.expect("lookup").is_ok() };
    let hour = std::time::Duration::from_secs(3600);
    let first = rotate_key(store, &created.key.id, hour)
        .await
        .expect("rotate");
    assert_eq!(first.key.id, created.key.id);
    assert!(first.key.rotated_at.is_some() && first.key.previous_expires_at.is_some());
    assert_eq!(first.key.scopes, created.key.scopes);
    assert!(valid(first.token.clone()).await, "the new secret");
    assert!(
        valid(created.token.clone()).await,
        "the old one, within its grace"
    );
    let second = rotate_key(store, &created.key.id, std::time::Duration::ZERO)
        .await
        .expect("rotate again");
    assert!(valid(second.token.clone()).await);
    assert!(
        !valid(first.token).await,
        "zero grace ends the replaced secret at once"
    );
    assert!(
        !valid(created.token).await,
        "only the last replaced secret is kept"
    );
    let too_long = rotate_key(store, &created.key.id, hour * 24 * 31).await;
    assert_eq!(
        too_long.expect_err("31 days").code(),
        ErrorCode::InvalidInput
    );
    let unknown = rotate_key(store, "000000000000", hour).await;
    assert_eq!(unknown.expect_err("unknown").code(), ErrorCode::NotFound);
    store.revoke(&created.key.id).await.expect("revoke");
    let revoked = rotate_key(store, &created.key.id, hour).await;
    assert_eq!(revoked.expect_err("revoked").code(), ErrorCode::Conflict);
    assert!(!valid(second.token).await, "revoked");
}

async fn audit_is_append_only_and_paged(stores: &Stores) {
    let log = stores.audit.as_ref();
    for i in 0..5u16 {
        let entry = AuditEntry {
            id: Id::new(),
            at: Timestamp::now(),
            key_id: if i % 2 == 0 {
                "even".into()
            } else {
                "odd".into()
            },
            tenant: if i % 2 == 0 {
                acme()
            } else {
                TenantId::default()
            },
            method: "POST".into(),
            route: "/v1/documents".into(),
            path: "/v1/documents".into(),
            status: 200 + i,
            request_id: format!("req-{i}"),
            duration_ms: u32::from(i),
        };
        log.record(&entry).await.expect("record");
    }
    let first = log
        .list(
            &AuditFilter::default(),
            &PageRequest::new(Some(3), None).expect("page"),
        )
        .await
        .expect("list");
    assert_eq!(
        first.items.iter().map(|e| e.status).collect::<Vec<_>>(),
        [204, 203, 202]
    );
    let cursor = first.next_cursor.expect("more").as_str().to_owned();
    let rest = log
        .list(
            &AuditFilter::default(),
            &PageRequest::new(Some(3), Some(cursor)).expect("page"),
        )
        .await
        .expect("list");
    assert_eq!(
        rest.items.iter().map(|e| e.status).collect::<Vec<_>>(),
        [201, 200]
    );
    let even = AuditFilter {
        key_id: Some("even".into()),
        tenant: None,
    };
    let even = log
        .list(&even, &PageRequest::default())
        .await
        .expect("list");
    assert_eq!(even.items.len(), 3);
    assert_eq!(even.items[0].request_id, "req-4");
    assert!(even.items.iter().all(|e| e.tenant == acme()));
    let default_tenant = AuditFilter {
        key_id: None,
        tenant: Some(TenantId::default()),
    };
    let odd = log
        .list(&default_tenant, &PageRequest::default())
        .await
        .expect("list");
    let statuses: Vec<u16> = odd.items.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [203, 201]);
}

/// Retention removes exactly the entries answered before the cut-off (which falls in a day
/// with no entry, so PostgreSQL's day partitions agree with the row-by-row stores).
async fn audit_retention_prunes_old_entries(stores: &Stores) {
    let log = stores.audit.as_ref();
    let now = Timestamp::now().unix_micros();
    let day = 86_400_000_000i64;
    for (age_days, request_id) in [
        (100, "old"),
        (91, "older-than-90"),
        (89, "recent"),
        (0, "now"),
    ] {
        let entry = AuditEntry {
            id: Id::new(),
            at: Timestamp::from_unix_micros(now - age_days * day).expect("time"),
            key_id: "k".into(),
            tenant: TenantId::default(),
            method: "DELETE".into(),
            route: "/v1/documents/{id}".into(),
            path: "/v1/documents/x".into(),
            status: 204,
            request_id: request_id.into(),
            duration_ms: 1,
        };
        log.record(&entry).await.expect("record");
    }
    let cutoff = Timestamp::from_unix_micros(now - 90 * day).expect("time");
    assert_eq!(log.prune(cutoff).await.expect("prune"), 2);
    assert_eq!(log.prune(cutoff).await.expect("prune again"), 0);
    let left = log
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("list");
    let mut kept: Vec<&str> = left.items.iter().map(|e| e.request_id.as_str()).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["now", "recent"]);
}

async fn refresh_rotation_and_reuse(stores: &Stores) {
    let store = stores.refresh.as_ref();
    let ttl = std::time::Duration::from_secs(600);
    let (first, token) = issue_refresh(store, "k1", None, &[Scope::Inference], ttl)
        .await
        .expect("issue");
    // Renewed under a longer lifetime than it was issued with: the session still ends when
    // its first token would have.
    let longer = std::time::Duration::from_secs(3600);
    let Rotation::Rotated {
        record,
        token: next,
    } = rotate_refresh(store, &token, longer).await.expect("rotate")
    else {
        panic!("a fresh token rotates");
    };
    assert_eq!(record.family, first.family);
    assert_eq!(record.scopes, vec![Scope::Inference]);
    let slack = 1_000; // µs of clock between the two computations
    assert!(
        record.expires_at.unix_micros() <= first.expires_at.unix_micros() + slack,
        "{:?} after {:?}",
        record.expires_at,
        first.expires_at
    );
    assert!(matches!(
        rotate_refresh(store, &token, ttl).await.expect("reuse"),
        Rotation::ReuseDetected
    ));
    assert!(matches!(
        rotate_refresh(store, &next, ttl).await.expect("revoked"),
        Rotation::Invalid
    ));
    assert!(matches!(
        rotate_refresh(store, "spr_x_y", ttl)
            .await
            .expect("unknown"),
        Rotation::Invalid
    ));

    // Expired records are deleted (review finding L7); live ones stay.
    let (short, _) = issue_refresh(store, "k2", None, &[], std::time::Duration::from_millis(1))
        .await
        .expect("issue");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let gone = store.prune(sp_core::Timestamp::now()).await.expect("prune");
    assert_eq!(gone, 1, "only the expired one");
    assert!(store.find(&short.id).await.expect("find").is_none());
    assert!(
        store.find(&record.id).await.expect("find").is_some(),
        "a live one stays"
    );
}

#[tokio::test]
async fn sqlite_refresh() {
    let stores = sqlite().await;
    refresh_rotation_and_reuse(&stores).await;
}

#[tokio::test]
async fn postgres_refresh() {
    let stores = postgres().await;
    refresh_rotation_and_reuse(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn sqlite_keys_round_trip() {
    let stores = sqlite().await;
    keys_round_trip(&stores).await;
}

#[tokio::test]
async fn postgres_keys_round_trip() {
    let stores = postgres().await;
    keys_round_trip(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn sqlite_audit() {
    let stores = sqlite().await;
    audit_is_append_only_and_paged(&stores).await;
}

#[tokio::test]
async fn sqlite_audit_retention() {
    audit_retention_prunes_old_entries(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_audit_retention() {
    let stores = postgres().await;
    audit_retention_prunes_old_entries(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_audit_retention() {
    audit_retention_prunes_old_entries(&memory().await).await;
}

#[tokio::test]
async fn postgres_audit() {
    let stores = postgres().await;
    audit_is_append_only_and_paged(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_refresh() {
    refresh_rotation_and_reuse(&memory().await).await;
}

#[tokio::test]
async fn memory_keys_round_trip() {
    keys_round_trip(&memory().await).await;
}

#[tokio::test]
async fn memory_audit() {
    audit_is_append_only_and_paged(&memory().await).await;
}

#[tokio::test]
async fn sqlite_tenants() {
    tenants_round_trip(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_tenants() {
    let stores = postgres().await;
    tenants_round_trip(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_tenants() {
    tenants_round_trip(&memory().await).await;
}

#[tokio::test]
async fn sqlite_key_rotation() {
    rotation_keeps_the_old_secret_for_its_grace(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_key_rotation() {
    let stores = postgres().await;
    rotation_keeps_the_old_secret_for_its_grace(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_key_rotation() {
    rotation_keeps_the_old_secret_for_its_grace(&memory().await).await;
}
