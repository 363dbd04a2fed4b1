//! Bad input, metrics, the audit log.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn bad_input_gets_the_envelope_never_a_500() {
    let api = Api::start(None, |_| {}).await;
    api.seed().await;
    let token = api
        .key(
            &["documents:read", "documents:write", "contexts", "inference"],
            None,
        )
        .await;
    let t = Some(token.as_str());
    let cases: Vec<(Method, &str, Option<serde_json::Value>, &str, StatusCode)> = vec![
        (
            Method::POST,
            "/v1/search",
            Some(json!({"query": "x", "k": 0})),
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/search",
            Some(json!({"query": "x", "k": 10000})),
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/search",
            Some(json!({"query": "x", "mode": "psychic"})),
            "SP-REQ-004",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/search",
            Some(json!({"query": 5})),
            "SP-REQ-004",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/documents",
            Some(json!({"title": "t", "content": "c", "colour": "red"})),
            "SP-REQ-004",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/documents",
            Some(json!({"title": "", "content": "c"})),
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/documents",
            Some(json!({"title": "t", "content": "c", "namespace": "Bad Name"})),
            "SP-REQ-004",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/v1/documents/not-a-uuid",
            None,
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/v1/documents?limit=0",
            None,
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/v1/documents?cursor=forged",
            None,
            "SP-VAL-002",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/v1/documents?color=red",
            None,
            "SP-REQ-006",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/contexts",
            Some(json!({"metadata": [1, 2]})),
            "SP-VAL-001",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/v1/chat/completions",
            Some(json!({"messages": []})),
            "SP-GEN-002",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ];
    for (method, path, body, code, status) in cases {
        let reply = api.call(method.clone(), path, t, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{method} {path} {body:?}: {}",
            reply.text
        );
    }
    let malformed = Request::post("/v1/search")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"query\": "))
        .expect("request");
    assert_eq!(api.send(malformed).await.code(), "SP-REQ-004");
    let not_json = Request::post("/v1/search")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(Body::from("query"))
        .expect("request");
    let reply = api.send(not_json).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "SP-REQ-005")
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let api = Api::start(None, |_| {}).await;
    api.seed().await;
    let token = api.key(&["documents:read"], Some("1/min")).await;
    let id = sp_core::Id::new();
    // Two different ids, one route label.
    for path in [
        format!("/v1/documents/{id}"),
        format!("/v1/documents/{}", sp_core::Id::new()),
    ] {
        api.call(Method::GET, &path, Some(ADMIN), None).await;
    }
    api.call(Method::GET, "/v1/documents", Some(&token), None)
        .await;
    let limited = api
        .call(Method::GET, "/v1/documents", Some(&token), None)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let reply = api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = &reply.text;
    assert!(
        text.contains(
            r#"sp_http_requests_total{method="GET",route="/v1/documents/{id}",status="404"}"#
        ),
        "{text}"
    );
    assert!(
        !text.contains(&id.to_string()),
        "raw paths never become labels"
    );
    assert!(text.contains("sp_http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"status="429""#));
    assert!(text.contains("sp_rate_limited_total"));
    assert!(text.contains(r#"sp_db_pool_connections{db="sqlite",state="idle"}"#));
    assert!(text.contains(r#"sp_cache_misses_total{backend="memory"}"#));
}

#[tokio::test]
async fn mutating_requests_are_audited_and_admins_can_read_them() {
    let api = Api::start(None, |_| {}).await;
    let writer = api.key(&["documents:write"], None).await;
    let writer_id = writer.split('_').nth(1).expect("id").to_owned();
    let doc = json!({"title": "Audited", "content": "Every change leaves a trace."});
    let created = api
        .call(
            Method::POST,
            "/v1/documents",
            Some(&writer),
            Some(doc.clone()),
        )
        .await;
    let request_id = created.headers["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let id = created.body["document"]["id"]
        .as_str()
        .expect("doc id")
        .to_owned();
    let reader = api.key(&["documents:read"], None).await;
    api.call(
        Method::POST,
        "/v1/documents",
        Some(&reader),
        Some(doc.clone()),
    )
    .await;
    // No credential: counted, never written (review finding H1), however long its path.
    let anonymous = api
        .call(Method::POST, "/v1/documents", None, Some(doc))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let long = format!("/v1/documents/{}", "A".repeat(60_000));
    let anonymous = api.call(Method::DELETE, &long, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // A caller's long path is kept to 256 bytes.
    let unknown = api.call(Method::DELETE, &long, Some(&writer), None).await;
    assert!(unknown.status.is_client_error(), "{}", unknown.text);
    api.call(
        Method::DELETE,
        &format!("/v1/documents/{id}"),
        Some(&writer),
        None,
    )
    .await;
    api.call(Method::GET, "/v1/documents", Some(&reader), None)
        .await;

    let log = api
        .call(Method::GET, "/v1/audit?limit=50", Some(ADMIN), None)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let entries = log.body["items"].as_array().expect("items").clone();
    // Newest first: delete, the long path, reader 403, the reader's creation, writer 201,
    // the writer's creation.
    let seen: Vec<(String, String, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["route"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[0], ("DELETE".into(), "/v1/documents/{id}".into(), 204));
    assert_eq!(seen[1].0, "DELETE");
    let kept = entries[1]["path"].as_str().expect("path");
    assert!(
        kept.len() <= 256 + '…'.len_utf8() && kept.ends_with('…'),
        "{kept}"
    );
    assert_eq!(entries[1]["key_id"], writer_id.as_str());
    assert_eq!(seen[2], ("POST".into(), "/v1/documents".into(), 403));
    assert_eq!(seen[3], ("POST".into(), "/v1/keys".into(), 201));
    assert_eq!(seen[4], ("POST".into(), "/v1/documents".into(), 201));
    assert!(
        entries.iter().all(|e| e["key_id"] != "-"),
        "no anonymous rows"
    );
    assert_eq!(entries[3]["key_id"], "admin");
    assert_eq!(entries[4]["key_id"], writer_id.as_str());
    assert_eq!(entries[4]["request_id"], request_id.as_str());
    assert!(
        entries.iter().all(|e| e["method"] != "GET"),
        "reads are not audited"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["route"] == "/v1/keys" && e["key_id"] == "admin")
    );
    let mine = api
        .call(
            Method::GET,
            &format!("/v1/audit?key_id={writer_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(mine.body["items"].as_array().map(Vec::len), Some(3));
    let metrics = api.call(Method::GET, "/metrics", None, None).await;
    let refused = metrics
        .text
        .lines()
        .find(|l| l.starts_with("sp_auth_refused_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<f64>().ok());
    assert!(
        refused >= Some(2.0),
        "the two anonymous requests are counted: {refused:?}"
    );
    let denied = api
        .call(Method::GET, "/v1/audit", Some(&writer), None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}
