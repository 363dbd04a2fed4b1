//! The services record their own platform events, so a change made through the Rust API (no
//! HTTP handler involved) is in the log like one made over HTTP — on both databases.

use serde_json::json;
use sp_core::auth::NewApiKey;
use sp_core::context::NewContext;
use sp_core::events::{EventQuery, Origin};
use sp_core::knowledge::NewDocument;
use sp_core::{Config, PageRequest};
use sp_platform::Platform;

async fn events_of(platform: &Platform, stream: &str) -> Vec<(String, serde_json::Value)> {
    // Keys and tenants are the operator's business, recorded in its own namespace.
    let namespace = if stream == "keys" {
        sp_core::Namespace::operator()
    } else {
        sp_core::Namespace::default()
    };
    let query = EventQuery {
        namespace,
        stream: Some(stream.into()),
        ..Default::default()
    };
    let page = platform
        .events
        .query(&query, &PageRequest::default())
        .await
        .expect("query");
    page.items
        .into_iter()
        .map(|e| (e.event_type, e.data))
        .collect()
}

async fn services_record_their_changes(config: Config) {
    let platform = Platform::builder(config)
        .background_tasks(false)
        .build()
        .await
        .expect("platform");
    let origin = Origin::default().by("key-7").correlated("req-1");
    let doc = NewDocument::new("Otters", "Sea otters hold hands while they sleep.");
    let created = platform
        .knowledge
        .ingest_as(doc.clone().with_external_id("otters"), &origin)
        .await
        .expect("ingest");
    // The same document again changes nothing, and records nothing.
    platform
        .knowledge
        .ingest(doc.with_external_id("otters"))
        .await
        .expect("re-ingest");
    let changed = NewDocument::new("Otters", "Otters also use stones as tools.");
    platform
        .knowledge
        .ingest(changed.with_external_id("otters"))
        .await
        .expect("replace");
    let id = created.document.id;
    platform
        .knowledge
        .delete(&created.document.namespace, id)
        .await
        .expect("delete");
    let documents = events_of(&platform, "documents").await;
    let kinds: Vec<&str> = documents.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["document.ingested", "document.replaced", "document.deleted"]
    );
    assert_eq!(documents[0].1["by"], json!("key-7"));
    assert_eq!(documents[0].1["id"], json!(id));
    assert!(documents[1].1.get("by").is_none(), "no origin, no actor");

    let page = platform
        .events
        .query(
            &EventQuery {
                correlationid: Some("req-1".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .expect("by correlation");
    assert_eq!(page.items.len(), 1, "only the ingest was part of req-1");

    let context = platform
        .contexts
        .create(NewContext::default())
        .await
        .expect("context");
    let contexts = events_of(&platform, "contexts").await;
    assert_eq!(contexts.len(), 1);
    assert_eq!(contexts[0].0, "context.created");
    assert_eq!(contexts[0].1["id"], json!(context.id));

    let new: NewApiKey =
        serde_json::from_value(json!({"name": "ci", "scopes": ["documents:read"]})).expect("key");
    let key = platform
        .key_admin
        .create(new, &origin)
        .await
        .expect("create key");
    platform
        .key_admin
        .revoke(&key.key.id, &Origin::default())
        .await
        .expect("revoke");
    let keys = events_of(&platform, "keys").await;
    let kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["key.created", "key.revoked"]);
    assert_eq!(keys[0].1["by"], json!("key-7"));
    assert!(
        !keys[0].1.to_string().contains(&key.token),
        "an event never carries the secret"
    );
}

#[tokio::test]
async fn services_record_their_changes_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    services_record_their_changes(config).await;
}

#[tokio::test]
async fn services_record_their_changes_on_postgres() {
    let mut config = Config::default();
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    config.database.schema = format!("platform_test_{}", sp_core::Id::new().as_uuid().simple());
    let schema = config.database.schema.clone();
    services_record_their_changes(config.clone()).await;
    let pool = sqlx::PgPool::connect(&sp_tests::service_url("DATABASE_URL"))
        .await
        .expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop schema");
}
