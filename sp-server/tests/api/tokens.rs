//! Access tokens (JWT, HS256 and RS256) and refresh tokens with rotation and reuse detection.

use axum::http::{Method, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::support::{ADMIN, Api};

const SECRET: &str = "test-hs256-secret-0123456789abcdef0123";

async fn hs256() -> Api {
    Api::start(None, |c| c.auth.jwt.hs256_secret = Some(SECRET.into())).await
}

fn forge(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

#[tokio::test]
async fn access_tokens_work_and_bad_ones_get_401() {
    let api = hs256().await;
    api.seed().await;
    let key = api.key(&["documents:read"], None).await;
    let tokens = api
        .call(Method::POST, "/v1/auth/token", Some(&key), None)
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 900);
    let access = tokens.body["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let listed = api
        .call(Method::GET, "/v1/documents", Some(&access), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    // The token carries the key's scopes and no more.
    let write = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&access),
            Some(json!({"title": "t", "content": "c"})),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let wider = api
        .call(
            Method::POST,
            "/v1/auth/token",
            Some(&key),
            Some(json!({"scopes": ["documents:write"]})),
        )
        .await;
    assert_eq!(wider.status, StatusCode::FORBIDDEN);

    let id = key.split('_').nth(1).expect("id");
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |exp: u64, nbf: u64, aud: &str| {
        json!({"sub": id, "scopes": ["documents:read"], "iss": "story-portal", "aud": aud,
               "iat": now, "nbf": nbf, "exp": exp})
    };
    for (what, token) in [
        (
            "expired",
            forge(claims(now - 120, now - 1000, "story-portal"), SECRET),
        ),
        (
            "not yet valid",
            forge(claims(now + 900, now + 600, "story-portal"), SECRET),
        ),
        (
            "foreign audience",
            forge(claims(now + 900, now, "elsewhere"), SECRET),
        ),
        (
            "forged",
            forge(
                claims(now + 900, now, "story-portal"),
                "another-secret-of-32-bytes-or-more!!",
            ),
        ),
    ] {
        let reply = api
            .call(Method::GET, "/v1/documents", Some(&token), None)
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, "SP-AUTH-001"),
            "{what}"
        );
    }
    // A well-formed token of a revoked key stops working with the key.
    let revoked = api
        .call(Method::DELETE, &format!("/v1/keys/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let after = api
        .call(Method::GET, "/v1/documents", Some(&access), None)
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_rotates_and_a_reuse_revokes_the_session() {
    let api = hs256().await;
    let key = api.key(&["inference"], None).await;
    let first = api
        .call(Method::POST, "/v1/auth/token", Some(&key), None)
        .await;
    let refresh = first.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let rotated = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let next = rotated.body["refresh_token"]
        .as_str()
        .expect("next")
        .to_owned();
    assert_ne!(next, refresh);
    let access = rotated.body["access_token"].as_str().expect("access");
    assert_eq!(
        api.call(Method::GET, "/v1/models", Some(access), None)
            .await
            .status,
        StatusCode::OK
    );

    // The first token again: reuse. The whole session goes, the rotated token too.
    let reused = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert!(reused.text.contains("reuse detected"), "{}", reused.text);
    let after = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": next})),
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // The bootstrap admin key can open a session too.
    let admin = api
        .call(Method::POST, "/v1/auth/token", Some(ADMIN), None)
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    let admin_refresh = admin.body["refresh_token"].as_str().expect("refresh");
    let again = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": admin_refresh})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let keys = api
        .call(
            Method::GET,
            "/v1/keys",
            again.body["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(keys.status, StatusCode::OK);
    let garbage = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": "spr_nope_x"})),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rs256_tokens_verify_and_algorithm_confusion_fails() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let public = fixtures.join("jwt-rs256-public.pem");
    let api = Api::start(None, |c| {
        c.auth.jwt.rs256_private_key = Some(fixtures.join("jwt-rs256-private.pem"));
        c.auth.jwt.rs256_public_key = Some(public.clone());
    })
    .await;
    let key = api.key(&["inference"], None).await;
    let tokens = api
        .call(Method::POST, "/v1/auth/token", Some(&key), None)
        .await;
    let access = tokens.body["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_eq!(
        api.call(Method::GET, "/v1/models", Some(&access), None)
            .await
            .status,
        StatusCode::OK
    );
    // HS256 signed with the public key's bytes: the classic confusion attack.
    let pem = std::fs::read(&public).expect("pem");
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({"sub": key.split('_').nth(1), "scopes": ["inference"], "iss": "story-portal",
                        "aud": "story-portal", "iat": now, "nbf": now, "exp": now + 600});
    let confused =
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(&pem))
            .expect("encode");
    let reply = api
        .call(Method::GET, "/v1/models", Some(&confused), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_signing_key_tokens_are_off() {
    let api = Api::start(None, |_| {}).await;
    let key = api.key(&["inference"], None).await;
    let reply = api
        .call(Method::POST, "/v1/auth/token", Some(&key), None)
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "SP-REQ-006")
    );
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let api = hs256().await;
    let key = api.key(&["inference"], None).await;
    let signed_in = api
        .call(Method::POST, "/v1/auth/token", Some(&key), None)
        .await;
    let refresh = signed_in.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let body = json!({"refresh_token": refresh});
    let out = api
        .call(Method::POST, "/v1/auth/logout", None, Some(body.clone()))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let renewed = api
        .call(Method::POST, "/v1/auth/refresh", None, Some(body.clone()))
        .await;
    assert_eq!(
        (renewed.status, renewed.code()),
        (StatusCode::UNAUTHORIZED, "SP-AUTH-001"),
        "{}",
        renewed.text
    );
    let forged = json!({"refresh_token": format!("{refresh}x")});
    let refused = api
        .call(Method::POST, "/v1/auth/logout", None, Some(forged))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
}
