//! The review's H2 (SSRF): the hub reaches public addresses only unless the operator allows
//! more. Addresses in URLs are refused when registered and again when called; names are
//! refused when they resolve inward; redirects are not followed.

#![allow(clippy::unwrap_used)]

use axum::http::{StatusCode, header};
use axum::routing::post;
use serde_json::json;
use sp_core::ErrorCode;
use sp_core::hub::{
    EgressPolicy, Hub, HubConfig, MemoryRegistryStore, Protocol, ToolRequest, Transport,
};

/// A loopback service: `/secret` answers JSON, `/hop` redirects to `/secret`.
async fn inside() -> String {
    let app = axum::Router::new()
        .route(
            "/secret",
            post(|| async { axum::Json(json!({"secret": "internal"})) })
                .get(|| async { axum::Json(json!({"secret": "internal"})) }),
        )
        .route(
            "/hop",
            post(|| async { (StatusCode::SEE_OTHER, [(header::LOCATION, "/secret")]) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn request(url: String) -> ToolRequest {
    ToolRequest {
        protocol: Protocol::Http,
        url,
        tool: "peek".into(),
        arguments: json!({}),
        request_id: None,
        idempotency_key: None,
        traceparent: None,
    }
}

#[tokio::test]
async fn inward_destinations_are_refused_by_default() {
    let url = inside().await;
    let strict = sp_data::HttpTransport::with_policy(1 << 20, EgressPolicy::default()).unwrap();
    // An address in the URL: refused before anything is sent.
    let err = strict
        .call(request(format!("{url}/secret")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
    // A name that resolves to loopback: refused when it resolves.
    let port = url.rsplit(':').next().unwrap();
    let by_name = format!("http://localhost:{port}/secret");
    let err = strict.call(request(by_name.clone())).await.unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    for probe in [format!("{url}/secret"), by_name.clone()] {
        assert!(
            strict.probe(Protocol::Http, &probe).await.is_err(),
            "{probe}"
        );
    }
    assert!(strict.mcp_tools(&format!("{url}/mcp")).await.is_err());
    // Allowed explicitly, the same call goes through.
    let open = sp_data::HttpTransport::with_policy(1 << 20, EgressPolicy::with_loopback()).unwrap();
    let answer = open.call(request(by_name)).await.unwrap();
    assert_eq!(
        (answer.status, &answer.body["secret"]),
        (200, &json!("internal"))
    );
}

#[tokio::test]
async fn redirects_are_answers_not_directions() {
    let url = inside().await;
    let open = sp_data::HttpTransport::with_policy(1 << 20, EgressPolicy::with_loopback()).unwrap();
    let answer = open.call(request(format!("{url}/hop"))).await.unwrap();
    assert_eq!(answer.status, 303, "not followed: {:?}", answer.body);
    assert!(answer.body.get("secret").is_none());
}

#[tokio::test]
async fn registrations_naming_inward_addresses_are_refused() {
    let hub = Hub::new(
        std::sync::Arc::new(MemoryRegistryStore::default()),
        std::sync::Arc::new(sp_data::HttpTransport::new().unwrap()),
        HubConfig::default(),
    );
    let tools = json!([{"name": "peek", "input_schema": {"type": "object"}}]);
    for base in [
        "http://127.0.0.1:9999",
        "http://localhost:8080",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5:9200",
        "http://[::1]:80",
        "http://192.168.1.1:8000",
    ] {
        let new = serde_json::from_value(json!({
            "name": "internal", "version": "1.0.0", "base_url": base, "tools": tools,
        }))
        .unwrap();
        let err = hub.register(new).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{base}: {err}");
        assert!(err.to_string().contains("hub.allowed_networks"), "{err}");
    }
    let public = serde_json::from_value(json!({
        "name": "public", "version": "1.0.0", "base_url": "https://tools.example.com", "tools": tools,
    }))
    .unwrap();
    hub.register(public).await.unwrap();
    let beat = sp_core::hub::NewInstance {
        url: "http://127.0.0.1:1".into(),
        ttl_secs: 30,
    };
    let err = hub
        .heartbeat(&Default::default(), "public", "1.0.0", &beat)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    let import = serde_json::from_value(json!({
        "name": "mcp", "version": "1.0.0", "url": "http://127.0.0.1:1/mcp",
    }))
    .unwrap();
    let err = hub.import_mcp(import).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
}
