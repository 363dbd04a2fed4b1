//! The hub over HTTP: register, discover, heartbeat and invoke a tool of a real loopback
//! service; coded refusals for bad arguments and an open breaker.

use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

/// A loopback service whose `echo` tool returns its arguments and the request id and
/// `traceparent` it got,
/// whose `down` tool always fails and whose `hang` tool never answers.
pub(crate) async fn echo_service() -> String {
    let app = axum::Router::new()
        .route(
            "/tools/echo",
            axum::routing::post(
                |headers: axum::http::HeaderMap, axum::Json(args): axum::Json<Value>| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    axum::Json(json!({"echo": args, "request_id": header("x-request-id"),
                        "traceparent": header("traceparent")}))
                },
            ),
        )
        .route(
            "/tools/down",
            axum::routing::post(|| async { StatusCode::BAD_GATEWAY }),
        )
        .route(
            "/tools/hang",
            axum::routing::post(std::future::pending::<StatusCode>),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn register_discover_and_invoke_over_http() {
    let api = Api::start(None, |config| {
        config.hub.breaker_failures = 2;
        config.hub.breaker_open_secs = 30;
        config.hub.max_attempts = 1;
    })
    .await;
    let key = api.key(&["registry"], None).await;
    let url = echo_service().await;
    let definition = json!({
        "name": "echo", "version": "1.2.0", "base_url": url, "tags": ["demo"],
        "tools": [
            {"name": "echo", "input_schema": {"type": "object", "required": ["text"],
                "properties": {"text": {"type": "string"}}}},
            {"name": "down", "input_schema": {"type": "object"}}
        ]
    });
    let created = api
        .call(
            Method::POST,
            "/v1/services",
            Some(&key),
            Some(definition.clone()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let replaced = api
        .call(Method::POST, "/v1/services", Some(&key), Some(definition))
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);

    let found = api
        .call(
            Method::GET,
            "/v1/services?tag=demo&version=%5E1",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(found.body["services"][0]["version"], "1.2.0");
    let none = api
        .call(Method::GET, "/v1/services?version=%5E2", Some(&key), None)
        .await;
    assert_eq!(none.body["services"], json!([]));
    let tools = api
        .call(Method::GET, "/v1/tools?tool=echo", Some(&key), None)
        .await;
    assert_eq!(
        tools.body["tools"][0]["tool"]["name"], "echo",
        "{}",
        tools.text
    );

    let beat = api
        .call(
            Method::POST,
            "/v1/services/echo/versions/1.2.0/instances",
            Some(&key),
            Some(json!({"url": "http://127.0.0.1:9", "ttl_secs": 30})),
        )
        .await;
    assert_eq!(beat.status, StatusCode::OK, "{}", beat.text);
    let one = api
        .call(
            Method::GET,
            "/v1/services/echo/versions/1.2.0",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(one.body["instances"].as_array().map(Vec::len), Some(2));
    let instance = beat.body["id"].as_str().expect("id");
    let removed = api
        .call(
            Method::DELETE,
            &format!("/v1/services/echo/versions/1.2.0/instances/{instance}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/tools/echo/invoke")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("x-request-id", "hub-test-7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(axum::body::Body::from(
            json!({"arguments": {"text": "hi"}}).to_string(),
        ))
        .expect("request");
    let invoked = api.send(request).await;
    assert_eq!(invoked.status, StatusCode::OK, "{}", invoked.text);
    assert_eq!(invoked.body["output"]["echo"], json!({"text": "hi"}));
    assert_eq!(
        invoked.body["output"]["request_id"], "hub-test-7",
        "the request id travels to the service"
    );
    // The caller's trace goes on to the service, with the gateway as the parent hop.
    let sent = invoked.body["output"]["traceparent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!(
        parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the same trace: {sent}"
    );
    assert_ne!(parts[2], "00f067aa0ba902b7", "a hop of its own: {sent}");
    assert_eq!((parts[0], parts[3]), ("00", "01"), "{sent}");
    // Without one (or with a malformed one), the call starts a trace of its own.
    let untraced = Request::builder()
        .method(Method::POST)
        .uri("/v1/tools/echo/invoke")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("traceparent", "00-not-a-trace-01")
        .body(axum::body::Body::from(
            json!({"arguments": {"text": "again"}}).to_string(),
        ))
        .expect("request");
    let fresh = api.send(untraced).await;
    let fresh_parent = fresh.body["output"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    assert!(
        sp_core::trace::TraceContext::parse(fresh_parent).is_some(),
        "{}",
        fresh.text
    );
    assert!(!fresh_parent.contains("4bf92f3577b34da6a3ce929d0e0e4736"));

    let bad = api
        .call(
            Method::POST,
            "/v1/tools/echo/invoke",
            Some(&key),
            Some(json!({"arguments": {"text": 5}})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "SP-HUB-001")
    );
    assert!(bad.text.contains("/text"), "{}", bad.text);
    let unknown = api
        .call(
            Method::POST,
            "/v1/tools/nope/invoke",
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "SP-HUB-002")
    );

    for _ in 0..2 {
        let failed = api
            .call(
                Method::POST,
                "/v1/tools/down/invoke",
                Some(&key),
                Some(json!({})),
            )
            .await;
        assert_eq!(
            (failed.status, failed.code()),
            (StatusCode::BAD_GATEWAY, "SP-HUB-006")
        );
        assert!(failed.text.contains("502"), "{}", failed.text);
    }
    let open = api
        .call(
            Method::POST,
            "/v1/tools/down/invoke",
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (open.status, open.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "SP-HUB-004")
    );
    assert!(
        open.headers.contains_key("retry-after"),
        "{:?}",
        open.headers
    );

    // Every call is on the record: successes and failures, with the request id.
    let record = api
        .call(Method::GET, "/v1/events?stream=tools", Some(ADMIN), None)
        .await;
    let items = record.body["items"].as_array().expect("items");
    assert_eq!(items[0]["type"], "tool.invoked", "{}", record.text);
    assert_eq!(items[0]["correlationid"], "hub-test-7");
    assert!(
        items
            .iter()
            .any(|e| e["type"] == "tool.failed" && e["data"]["code"] == "SP-HUB-004"),
        "{}",
        record.text
    );

    let admin_only = api
        .call(
            Method::GET,
            "/v1/services",
            Some(&api.key(&["inference"], None).await),
            None,
        )
        .await;
    assert_eq!(admin_only.status, StatusCode::FORBIDDEN);
    let gone = api
        .call(
            Method::DELETE,
            "/v1/services/echo/versions/1.2.0",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
}
