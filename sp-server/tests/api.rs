//! The platform API over HTTP, in process, on the embedded default: the auth matrix, rate
//! limits, documents and search, contexts, keys, and bad input.

#[path = "support/api.rs"]
mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use support::{ADMIN, Api};

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

#[tokio::test]
async fn documents_and_search() {
    let api = Api::start(None, |_| {}).await;
    let token = api.key(&["documents:read", "documents:write"], None).await;
    let t = Some(token.as_str());
    let doc = json!({
        "title": "Tides", "content": "# Harbour\nThe harbour tide tables list high water times.",
        "namespace": "fleet", "external_id": "tides", "metadata": {"kind": "guide"}
    });
    let created = api
        .call(Method::POST, "/v1/documents", t, Some(doc.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["outcome"], "created");
    let id = created.body["document"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let again = api.call(Method::POST, "/v1/documents", t, Some(doc)).await;
    assert_eq!(
        (again.status, again.body["outcome"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    let other = json!({"title": "Bread", "content": "Knead the dough for ten minutes.", "namespace": "fleet"});
    assert_eq!(
        api.call(Method::POST, "/v1/documents", t, Some(other))
            .await
            .status,
        StatusCode::CREATED
    );

    for mode in ["vector", "keyword", "hybrid"] {
        let query =
            json!({"query": "harbour tide tables", "k": 1, "mode": mode, "namespace": "fleet"});
        let reply = api.call(Method::POST, "/v1/search", t, Some(query)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let hit = &reply.body["results"][0];
        assert_eq!(hit["title"], "Tides", "{mode}: {}", reply.text);
        assert_eq!(hit["document_id"], id.as_str());
        assert!(
            hit["text"]
                .as_str()
                .unwrap_or_default()
                .contains("tide tables")
        );
        assert!(hit["score"].as_f64().is_some());
    }
    let filtered = json!({"query": "dough", "namespace": "fleet", "filter": {"kind": "guide"}, "mode": "keyword"});
    let reply = api
        .call(Method::POST, "/v1/search", t, Some(filtered))
        .await;
    assert_eq!(
        reply.body["results"].as_array().map(Vec::len),
        Some(0),
        "{}",
        reply.text
    );

    let got = api
        .call(
            Method::GET,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(got.body["title"], "Tides");
    let listed = api
        .call(
            Method::GET,
            "/v1/documents?namespace=fleet&limit=1",
            t,
            None,
        )
        .await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    assert!(listed.body["next_cursor"].is_string());
    // Another namespace does not see it.
    let hidden = api
        .call(Method::GET, &format!("/v1/documents/{id}"), t, None)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let deleted = api
        .call(
            Method::DELETE,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api
        .call(
            Method::GET,
            &format!("/v1/documents/{id}?namespace=fleet"),
            t,
            None,
        )
        .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
}

#[tokio::test]
async fn contexts_messages_memory_and_fork() {
    let api = Api::start(None, |_| {}).await;
    let token = api.key(&["contexts"], None).await;
    let t = Some(token.as_str());
    let ctx = api
        .call(
            Method::POST,
            "/v1/contexts",
            t,
            Some(json!({"system_prompt": "Be brief.", "title": "trip"})),
        )
        .await;
    assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
    let id = ctx.body["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/contexts/{id}");
    let first = api
        .call(
            Method::POST,
            &format!("{base}/messages"),
            t,
            Some(json!({"role": "user", "content": "hello"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["seq"], 1);
    let call = json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Brest"}}]});
    assert_eq!(
        api.call(Method::POST, &format!("{base}/messages"), t, Some(call))
            .await
            .status,
        StatusCode::CREATED
    );
    let result = json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"});
    assert_eq!(
        api.call(Method::POST, &format!("{base}/messages"), t, Some(result))
            .await
            .status,
        StatusCode::CREATED
    );
    let orphan = json!({"role": "tool", "tool_call_id": "c9", "content": "?"});
    let reply = api
        .call(Method::POST, &format!("{base}/messages"), t, Some(orphan))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "SP-CTX-002")
    );
    let wizard = json!({"role": "wizard", "content": "x"});
    let reply = api
        .call(Method::POST, &format!("{base}/messages"), t, Some(wizard))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "SP-REQ-004")
    );

    let listed = api
        .call(
            Method::GET,
            &format!("{base}/messages?after=1&limit=10"),
            t,
            None,
        )
        .await;
    let seqs: Vec<u64> = listed.body["messages"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 3]);

    let memory = api
        .call(
            Method::PUT,
            &format!("{base}/memory/persona"),
            t,
            Some(json!({"content": "Likes sailing.", "limit_chars": 20})),
        )
        .await;
    assert_eq!(memory.status, StatusCode::OK, "{}", memory.text);
    let too_big = api
        .call(
            Method::PUT,
            &format!("{base}/memory/persona"),
            t,
            Some(json!({"content": "x".repeat(21), "limit_chars": 20})),
        )
        .await;
    assert_eq!(
        (too_big.status, too_big.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SP-CTX-003")
    );
    let blocks = api
        .call(Method::GET, &format!("{base}/memory"), t, None)
        .await;
    assert_eq!(blocks.body["blocks"][0]["content"], "Likes sailing.");

    let message_id = first.body["id"].as_str().expect("id");
    let fork = api
        .call(
            Method::POST,
            &format!("{base}/fork"),
            t,
            Some(json!({"message_id": message_id})),
        )
        .await;
    assert_eq!(fork.status, StatusCode::CREATED, "{}", fork.text);
    assert_eq!(fork.body["message_count"], 1);
    let unknown = api
        .call(
            Method::POST,
            &format!("{base}/fork"),
            t,
            Some(json!({"message_id": sp_core::Id::new().to_string()})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // Chat needs a model: a clear 503 here, and nothing stored.
    let chat = api
        .call(
            Method::POST,
            &format!("{base}/chat"),
            t,
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_eq!(
        chat.status,
        StatusCode::FORBIDDEN,
        "contexts alone may not run inference"
    );
    let both = api.key(&["contexts", "inference"], None).await;
    let chat = api
        .call(
            Method::POST,
            &format!("{base}/chat"),
            Some(&both),
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_eq!(
        (chat.status, chat.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "SP-GEN-002")
    );
    let ctx = api.call(Method::GET, &base, t, None).await;
    assert_eq!(ctx.body["message_count"], 3);
    assert_eq!(
        api.call(Method::DELETE, &base, t, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(Method::GET, &base, t, None).await.status,
        StatusCode::NOT_FOUND
    );
}

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
    api.call(Method::POST, "/v1/documents", None, Some(doc))
        .await;
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
    // Newest first: delete, anonymous 401, reader 403, the reader's creation, writer 201.
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
    assert_eq!(seen[0], ("DELETE".into(), "/v1/documents/{id}".into(), 204));
    assert_eq!(seen[1], ("POST".into(), "/v1/documents".into(), 401));
    assert_eq!(seen[2], ("POST".into(), "/v1/documents".into(), 403));
    assert_eq!(seen[3], ("POST".into(), "/v1/keys".into(), 201));
    assert_eq!(seen[4], ("POST".into(), "/v1/documents".into(), 201));
    assert_eq!(entries[1]["key_id"], "-");
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
    assert_eq!(mine.body["items"].as_array().map(Vec::len), Some(2));
    let denied = api
        .call(Method::GET, "/v1/audit", Some(&writer), None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}
