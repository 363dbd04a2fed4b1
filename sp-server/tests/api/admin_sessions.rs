//! The review's H3: sessions opened with the bootstrap admin key end when the key is changed
//! or removed — refresh tokens and access tokens alike — and a renewal is audited.

use axum::http::{Method, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::support::{ADMIN, Api};

const SECRET: &str = "test-hs256-secret-0123456789abcdef0123";
const NEW_ADMIN: &str = "rotated-admin-key-0123456789abcdef";

/// A server on `data_dir` with the JWT secret and `admin_key`.
async fn on(data_dir: &std::path::Path, admin_key: Option<&str>) -> Api {
    Api::start(None, |c| {
        c.auth.jwt.hs256_secret = Some(SECRET.into());
        c.data_dir = data_dir.to_path_buf();
        c.auth.admin_key = admin_key.map(Into::into);
    })
    .await
}

/// A session opened with the bootstrap key: its access and refresh tokens.
async fn open_session(api: &Api) -> (String, String) {
    let opened = api
        .call(Method::POST, "/v1/auth/token", Some(ADMIN), None)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
    let token = |name: &str| opened.body[name].as_str().expect("token").to_owned();
    (token("access_token"), token("refresh_token"))
}

#[tokio::test]
async fn admin_sessions_end_when_the_admin_key_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = on(dir.path(), Some(ADMIN)).await;
    let (access, refresh) = open_session(&before).await;
    let (_, kept_refresh) = open_session(&before).await;

    // Same key: the session renews, and the renewal is in the audit log as the admin's.
    let renewed = before
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": kept_refresh})),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    let log = before
        .call(Method::GET, "/v1/audit?limit=10", Some(ADMIN), None)
        .await;
    let entries = log.body["items"].as_array().expect("items");
    assert!(
        entries.iter().any(|e| e["route"] == "/v1/auth/refresh"
            && e["key_id"] == "admin"
            && e["status"] == 200),
        "{}",
        log.text
    );

    // The key rotated: neither the access token nor the refresh token opens anything.
    let after = on(dir.path(), Some(NEW_ADMIN)).await;
    let keys = after
        .call(Method::GET, "/v1/keys", Some(&access), None)
        .await;
    assert_eq!(keys.status, StatusCode::UNAUTHORIZED, "{}", keys.text);
    let refused = after
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    // The new key opens sessions of its own.
    let mine = after
        .call(Method::GET, "/v1/keys", Some(NEW_ADMIN), None)
        .await;
    assert_eq!(mine.status, StatusCode::OK);

    // No admin key at all: the old access token is refused too.
    let none = on(dir.path(), None).await;
    let keys = none
        .call(Method::GET, "/v1/keys", Some(&access), None)
        .await;
    assert_eq!(keys.status, StatusCode::UNAUTHORIZED);

    // A token that says only `sub: admin` (signed with the secret, as before the fix) is
    // not trusted.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": "admin", "scopes": ["admin"], "iss": "story-portal",
                "aud": "story-portal", "iat": now, "nbf": now, "exp": now + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode");
    let keys = before
        .call(Method::GET, "/v1/keys", Some(&forged), None)
        .await;
    assert_eq!(keys.status, StatusCode::UNAUTHORIZED, "{}", keys.text);
}
