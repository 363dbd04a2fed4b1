//! MCP over the gateway: `/v1/mcp` speaks JSON-RPC behind the `registry` scope, and
//! `/v1/mcp/imports` registers an MCP server's tools.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, Reply};

async fn rpc(api: &Api, key: &str, namespace: &str, message: Value) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/mcp?namespace={namespace}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(Body::from(message.to_string()))
        .expect("request");
    api.send(request).await
}

async fn echo_service() -> String {
    let app = axum::Router::new().route(
        "/tools/echo",
        axum::routing::post(|axum::Json(args): axum::Json<Value>| async move {
            axum::Json(json!({"echo": args}))
        }),
    );
    serve(app).await
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn registry_tools_over_mcp_and_mcp_imports() {
    let api = Api::start(None, |_| {}).await;
    let key = api.key(&["registry"], None).await;
    let reader = api.key(&["documents:read"], None).await;
    let url = echo_service().await;
    let definition = json!({
        "namespace": "tools", "name": "echo", "version": "1.0.0", "base_url": url,
        "tools": [{"name": "echo", "idempotent": true, "input_schema": {"type": "object",
            "required": ["text"], "properties": {"text": {"type": "string"}}}}]
    });
    let created = api
        .call(Method::POST, "/v1/services", Some(&key), Some(definition))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let hello = rpc(&api, &key, "tools", init.clone()).await;
    assert_eq!(hello.status, StatusCode::OK, "{}", hello.text);
    assert_eq!(hello.body["result"]["serverInfo"]["name"], "story-portal");
    let refused = rpc(&api, &reader, "tools", init).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "SP-AUTH-002")
    );

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let listed = rpc(&api, &key, "tools", list.clone()).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["result"]["tools"][0]["name"], "echo");
    assert_eq!(
        listed.body["result"]["tools"][0]["inputSchema"]["required"],
        json!(["text"])
    );
    let elsewhere = rpc(&api, &key, "default", list).await;
    assert_eq!(
        elsewhere.body["result"]["tools"],
        json!([]),
        "namespaces stay apart"
    );

    let call = |arguments: Value| {
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "echo", "arguments": arguments}})
    };
    let answered = rpc(&api, &key, "tools", call(json!({"text": "hi"}))).await;
    assert_eq!(
        answered.body["result"]["structuredContent"],
        json!({"echo": {"text": "hi"}}),
        "{}",
        answered.text
    );
    let bad = rpc(&api, &key, "tools", call(json!({"text": 1}))).await;
    assert_eq!(bad.body["error"]["code"], -32602, "{}", bad.text);
    assert_eq!(bad.body["error"]["data"]["code"], "SP-HUB-001");

    // An MCP server on loopback (the hub's own tools, served without the gateway) imported
    // over HTTP, then called through /v1/tools like any service.
    let hub = api.state.platform().await.expect("services").hub.clone();
    let ns = sp_core::knowledge::Namespace::new("tools").expect("namespace");
    let endpoint = sp_data::mcp_endpoint(hub, ns, None);
    let mcp_url = format!(
        "{}/mcp",
        serve(axum::Router::new().nest_service("/mcp", endpoint)).await
    );
    let import = json!({"name": "mirror", "version": "1.0.0", "url": mcp_url});
    let imported = api
        .call(Method::POST, "/v1/mcp/imports", Some(&key), Some(import))
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    assert_eq!(imported.body["protocol"], "mcp");
    assert_eq!(imported.body["tools"][0]["name"], "echo");
    let invoked = api
        .call(
            Method::POST,
            "/v1/tools/echo/invoke",
            Some(&key),
            Some(json!({"arguments": {"text": "through mcp"}})),
        )
        .await;
    assert_eq!(invoked.status, StatusCode::OK, "{}", invoked.text);
    assert_eq!(
        (&invoked.body["service"], &invoked.body["output"]),
        (&json!("mirror"), &json!({"echo": {"text": "through mcp"}}))
    );
    let unreachable = api
        .call(
            Method::POST,
            "/v1/mcp/imports",
            Some(&key),
            Some(json!({"name": "ghost", "version": "1.0.0", "url": "http://127.0.0.1:9/mcp"})),
        )
        .await;
    assert_eq!(
        (unreachable.status, unreachable.code()),
        (StatusCode::BAD_GATEWAY, "SP-HUB-006")
    );

    // `/health` counts the registered services (the failed import added none).
    let health = api.call(Method::GET, "/health", None, None).await;
    let hub = &health.body["hub"];
    assert_eq!(hub["services"], 2, "{}", health.text);
    let states: u64 = ["healthy", "degraded", "unhealthy", "unknown"]
        .iter()
        .map(|s| hub[s].as_u64().expect("count"))
        .sum();
    assert_eq!(states, 2);
}
