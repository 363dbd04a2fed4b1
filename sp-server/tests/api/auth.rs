//! Credentials, scopes and rate limits.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn the_auth_matrix() {
    let api = Api::start(None, |_| {}).await;
    api.seed().await;
    let reader = api.key(&["documents:read"], None).await;
    // No credential, a forged one, a malformed one: 401, one message for all.
    for token in [None, Some("sp_000000000000_00"), Some("nonsense")] {
        let reply = api.call(Method::GET, "/v1/documents", token, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.code(), "SP-AUTH-001");
        assert_eq!(reply.body["error"]["type"], "authentication_error");
    }
    // Right key, both header forms.
    assert_eq!(
        api.call(Method::GET, "/v1/documents", Some(&reader), None)
            .await
            .status,
        StatusCode::OK
    );
    let by_header = Request::get("/v1/documents")
        .header("x-api-key", &reader)
        .body(Body::empty())
        .expect("request");
    assert_eq!(api.send(by_header).await.status, StatusCode::OK);
    // Wrong scope: 403 naming the scope.
    let write = json!({"title": "t", "content": "c"});
    let reply = api
        .call(Method::POST, "/v1/documents", Some(&reader), Some(write))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "SP-AUTH-002");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("documents:write")
    );
    let reply = api.call(Method::GET, "/v1/keys", Some(&reader), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Revoked: refused on the very next request.
    let id = reader.split('_').nth(1).expect("id").to_owned();
    let reply = api
        .call(Method::DELETE, &format!("/v1/keys/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["revoked_at"].is_string());
    let reply = api
        .call(Method::GET, "/v1/documents", Some(&reader), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Expired: refused.
    let past =
        json!({"name": "old", "scopes": ["documents:read"], "expires_at": "2020-01-01T00:00:00Z"});
    let reply = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(past))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "a key cannot be created expired: {}",
        reply.text
    );
    // Health stays open.
    assert_eq!(
        api.call(Method::GET, "/health/live", None, None)
            .await
            .status,
        StatusCode::OK
    );
    // The key list never shows a token or its hash.
    let reply = api.call(Method::GET, "/v1/keys", Some(ADMIN), None).await;
    assert!(!reply.text.contains(&reader[16..]));
    assert!(!reply.text.contains("hash"));
}

#[tokio::test]
async fn a_burst_over_the_key_limit_gets_429_with_retry_after() {
    let api = Api::start(None, |_| {}).await;
    api.seed().await;
    let token = api.key(&["documents:read"], Some("3/min")).await;
    for remaining in [2, 1, 0] {
        let reply = api
            .call(Method::GET, "/v1/documents", Some(&token), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["ratelimit-limit"], "3");
        assert_eq!(
            reply.headers["ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let reply = api
        .call(Method::GET, "/v1/documents", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.code(), "SP-AUTH-003");
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry), "{retry}");
    // Another key has its own budget.
    let other = api.key(&["documents:read"], Some("3/min")).await;
    assert_eq!(
        api.call(Method::GET, "/v1/documents", Some(&other), None)
            .await
            .status,
        StatusCode::OK
    );
}
