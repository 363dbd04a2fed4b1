//! `POST /v1/keys/{id}/rotate`: a new secret for the same key; the old one works for the
//! grace period, then is refused; audited.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn a_rotated_key_keeps_its_old_secret_for_the_grace_period_then_refuses_it() {
    let api = Api::start(None, |_| {}).await;
    let old = api.key(&["documents:read"], None).await;
    let id = old.split('_').nth(1).expect("id").to_owned();
    let works = |token: String| {
        let api = &api;
        async move {
            api.call(Method::GET, "/v1/documents", Some(&token), None)
                .await
                .status
        }
    };
    assert_eq!(works(old.clone()).await, StatusCode::OK);

    let path = format!("/v1/keys/{id}/rotate");
    let rotated = api.call(Method::POST, &path, Some(ADMIN), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    assert_eq!(rotated.body["key"]["id"], id.as_str());
    assert!(
        rotated.body["key"]["previous_expires_at"].is_string(),
        "{}",
        rotated.text
    );
    assert!(
        !rotated.text.contains("hash"),
        "no hash leaves: {}",
        rotated.text
    );
    let new = rotated.body["token"].as_str().expect("token").to_owned();
    assert_ne!(new, old);
    assert_eq!(works(new.clone()).await, StatusCode::OK, "the new secret");
    assert_eq!(
        works(old.clone()).await,
        StatusCode::OK,
        "the old one, a day's grace"
    );

    let now = api
        .call(
            Method::POST,
            &path,
            Some(ADMIN),
            Some(json!({"grace_secs": 0})),
        )
        .await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.text);
    let newest = now.body["token"].as_str().expect("token").to_owned();
    assert_eq!(works(newest).await, StatusCode::OK);
    assert_eq!(
        works(new).await,
        StatusCode::UNAUTHORIZED,
        "no grace: refused at once"
    );
    assert_eq!(works(old).await, StatusCode::UNAUTHORIZED);

    let long = api
        .call(
            Method::POST,
            &path,
            Some(ADMIN),
            Some(json!({"grace_secs": 99_999_999})),
        )
        .await;
    assert_eq!(
        (long.status, long.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );
    let unknown = api
        .call(
            Method::POST,
            "/v1/keys/000000000000/rotate",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let revoke = api
        .call(Method::DELETE, &format!("/v1/keys/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    let revoked = api.call(Method::POST, &path, Some(ADMIN), None).await;
    assert_eq!(
        (revoked.status, revoked.code()),
        (StatusCode::CONFLICT, "SP-RES-002")
    );

    let log = api
        .call(
            Method::GET,
            "/v1/audit?key_id=admin&limit=50",
            Some(ADMIN),
            None,
        )
        .await;
    let rotations = log.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["route"] == "/v1/keys/{id}/rotate" && e["status"] == 200)
        .count();
    assert_eq!(rotations, 2, "{}", log.text);
}
