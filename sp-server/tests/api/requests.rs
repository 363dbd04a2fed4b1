//! `/v1/requests` (this process's request log and its per-minute sums, admin only) and
//! `/v1/auth/whoami` (what a credential is).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn whoami_describes_the_callers_own_credential() {
    let api = Api::start(None, |_| {}).await;
    let admin = api
        .call(Method::GET, "/v1/auth/whoami", Some(ADMIN), None)
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    assert_eq!(admin.body["key_id"], "admin");
    assert_eq!(admin.body["scopes"], serde_json::json!(["admin"]));
    let token = api.key(&["documents:read", "events"], None).await;
    let reader = api
        .call(Method::GET, "/v1/auth/whoami", Some(&token), None)
        .await;
    assert_eq!(reader.status, StatusCode::OK, "{}", reader.text);
    assert_eq!(reader.body["tenant"], "default");
    assert_eq!(
        reader.body["scopes"],
        serde_json::json!(["documents:read", "events"])
    );
    assert!(token.contains(reader.body["key_id"].as_str().expect("id")));
    let nobody = api.call(Method::GET, "/v1/auth/whoami", None, None).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_request_log_filters_this_process_requests_and_sums_them_per_minute() {
    let api = Api::start(None, |_| {}).await;
    let token = api.key(&["documents:read"], None).await;
    let probe = Request::get("/v1/documents")
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "probe-42")
        .body(Body::empty())
        .expect("request");
    assert_eq!(api.send(probe).await.status, StatusCode::OK);
    let missing_path = "/v1/documents/01a251c1-0000-7000-8000-000000000000";
    let missing = api
        .call(Method::GET, missing_path, Some(&token), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let missing_code = missing.code().to_owned();

    let found = api
        .call(
            Method::GET,
            "/v1/requests?request_id=probe-42",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let items = found.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", found.text);
    assert_eq!(items[0]["route"], "/v1/documents");
    assert_eq!(items[0]["status"], 200);
    assert!(token.contains(items[0]["key_id"].as_str().expect("key")));
    assert_eq!(items[0]["tenant"], "default");

    let failed = api
        .call(Method::GET, "/v1/requests?status=4", Some(ADMIN), None)
        .await;
    let failed = failed.body["items"].as_array().expect("items").clone();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|r| {
        r["status"]
            .as_u64()
            .is_some_and(|s| (400..500).contains(&s))
    }));
    assert!(
        failed.iter().any(|r| r["path"] == missing_path
            && r["route"] == "/v1/documents/{id}"
            && r["code"] == missing_code.as_str()),
        "{failed:?}"
    );
    let by_key = api
        .call(
            Method::GET,
            "/v1/requests?key_id=someone-else&limit=5",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(by_key.body["items"], serde_json::json!([]));

    let summary = api
        .call(Method::GET, "/v1/requests/summary", Some(ADMIN), None)
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let minute = summary.body["minutes"]
        .as_array()
        .and_then(|m| m.last())
        .expect("a minute");
    let documents = minute["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["route"] == "/v1/documents")
        .expect("the documents route");
    assert!(documents["requests"].as_u64() >= Some(1));
    assert!(documents["p95_ms"].as_f64() > Some(0.0));
    assert!(
        minute["errors"][&missing_code].as_u64() >= Some(1),
        "{minute}"
    );
    // Without a model nothing is generated or queued; the cache's lookups are counted.
    assert_eq!(minute["tokens_generated"], 0, "{minute}");
    assert_eq!(minute["queue_peak"], 0, "{minute}");
    assert!(minute["cache_hits"].is_u64() && minute["cache_misses"].is_u64());

    // Admin only; bad limits are refused.
    let refused = api
        .call(Method::GET, "/v1/requests", Some(&token), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = api
        .call(Method::GET, "/v1/requests?limit=0", Some(ADMIN), None)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );
    let unknown = api
        .call(Method::GET, "/v1/requests?colour=red", Some(ADMIN), None)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}
