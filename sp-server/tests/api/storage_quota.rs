//! A tenant's storage quota over HTTP: ingests past it are `403 SP-KB-004` and store
//! nothing, `GET /v1/tenants/{id}/storage` shows what its documents take, and purging or
//! raising the quota makes room.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn a_tenants_storage_quota_refuses_ingests_past_it() {
    let api = Api::start(None, |_| {}).await;
    let zero = json!({"id": "zero", "quotas": {"storage": {"max_sections": 0}}});
    let zero = api
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(zero))
        .await;
    assert_eq!(
        (zero.status, zero.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001"),
        "{}",
        zero.text
    );
    let tenant = json!({"id": "small", "quotas": {"storage": {"max_sections": 2}}});
    let made = api
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(tenant))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(made.body["quotas"]["storage"], json!({"max_sections": 2}));
    let key = json!({"name": "writer", "tenant": "small", "scopes": ["documents:read", "documents:write"]});
    let key = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(key))
        .await;
    let token = key.body["token"].as_str().expect("token").to_owned();
    let ingest = |title: &str| json!({"title": title, "content": format!("The {title} note.")});

    let mut ids = Vec::new();
    for title in ["first", "second"] {
        let made = api
            .call(
                Method::POST,
                "/v1/documents",
                Some(&token),
                Some(ingest(title)),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        ids.push(made.body["document"]["id"].as_str().expect("id").to_owned());
    }
    let over = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&token),
            Some(ingest("third")),
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::FORBIDDEN, "SP-KB-004"),
        "{}",
        over.text
    );
    let listed = api
        .call(Method::GET, "/v1/documents", Some(&token), None)
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(2));

    let storage = api
        .call(Method::GET, "/v1/tenants/small/storage", Some(ADMIN), None)
        .await;
    assert_eq!(storage.status, StatusCode::OK, "{}", storage.text);
    assert_eq!(storage.body["used"]["sections"], 2, "{}", storage.text);
    assert_eq!(storage.body["quota"]["max_sections"], 2);
    let full_bytes = storage.body["used"]["bytes"].as_u64().expect("bytes");
    assert!(full_bytes > 0, "{}", storage.text);
    // The tenant's own key is not an admin.
    let refused = api
        .call(Method::GET, "/v1/tenants/small/storage", Some(&token), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Purging frees room; the next ingest fits.
    let purge = format!("/v1/documents/{}?purge=true", ids[0]);
    let purged = api.call(Method::DELETE, &purge, Some(&token), None).await;
    assert!(purged.status.is_success(), "{}", purged.text);
    let storage = api
        .call(Method::GET, "/v1/tenants/small/storage", Some(ADMIN), None)
        .await;
    assert_eq!(storage.body["used"]["sections"], 1, "{}", storage.text);
    let fits = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&token),
            Some(ingest("third")),
        )
        .await;
    assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.text);

    // A byte quota below what is stored refuses growth but not shrinking or removal.
    let tight = json!({"storage": {"max_bytes": 10}});
    let set = api
        .call(
            Method::PUT,
            "/v1/tenants/small/quotas",
            Some(ADMIN),
            Some(tight),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let grows = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&token),
            Some(ingest("fourth")),
        )
        .await;
    assert_eq!(grows.code(), "SP-KB-004", "{}", grows.text);
    assert!(grows.text.contains("bytes"), "{}", grows.text);
    let cleared = api
        .call(
            Method::PUT,
            "/v1/tenants/small/quotas",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        cleared.body["quotas"]["storage"],
        json!({}),
        "{}",
        cleared.text
    );
    let grows = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&token),
            Some(ingest("fourth")),
        )
        .await;
    assert_eq!(grows.status, StatusCode::CREATED, "{}", grows.text);
}
