//! The official `mcp` Python SDK, unmodified, against a running server's `/v1/mcp`: the
//! registry's tools listed with their schemas, called through the hub, errors as MCP has them.

use sp_core::Config;

const ADMIN: &str = "e2e-admin-key-0123456789abcdef";

/// A loopback service with an `echo` tool and a `down` tool that always fails.
async fn tool_service() -> String {
    let app = axum::Router::new()
        .route(
            "/tools/echo",
            axum::routing::post(
                |axum::Json(args): axum::Json<serde_json::Value>| async move {
                    axum::Json(serde_json::json!({"echo": args}))
                },
            ),
        )
        .route(
            "/tools/down",
            axum::routing::post(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_mcp_python_sdk_uses_the_registry() {
    let python = sp_tests::service_url("SP_TEST_PYTHON");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.admin_key = Some(ADMIN.into());
    config.hub.max_attempts = 1;
    // The test's services listen on loopback, which the hub refuses unless told (H2).
    config.hub.allowed_networks = vec!["127.0.0.0/8".into()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let state = sp_server::AppState::open(config).await.expect("state");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sp_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let auth = format!("Bearer {ADMIN}");
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let created = sp_tests::http(
        &addr,
        "POST",
        "/v1/keys",
        &json_headers,
        br#"{"name":"mcp","scopes":["registry"]}"#,
    )
    .await
    .expect("create key");
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.json()["token"].as_str().expect("token").to_owned();
    let service = serde_json::json!({
        "name": "echo", "version": "1.0.0", "base_url": tool_service().await,
        "tools": [
            {"name": "echo", "input_schema": {"type": "object", "required": ["text"],
                "properties": {"text": {"type": "string"}}}},
            {"name": "down", "input_schema": {"type": "object"}}
        ]
    });
    let registered = sp_tests::http(
        &addr,
        "POST",
        "/v1/services",
        &json_headers,
        service.to_string().as_bytes(),
    )
    .await
    .expect("register");
    assert_eq!(registered.status, 201, "{}", registered.body);

    let script = sp_tests::repo_root().join("tests/python/mcp_client.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .args([&format!("http://{addr}/v1/mcp"), &token])
        .output()
        .await
        .expect("run python");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    assert_eq!(seen["server"], "story-portal", "{seen}");
    assert_eq!(seen["tools"]["echo"], service["tools"][0]["input_schema"]);
    assert!(seen["tools"]["down"].is_object(), "{seen}");
    assert_eq!(
        seen["structured"],
        serde_json::json!({"echo": {"text": "from python"}})
    );
    assert_eq!(seen["is_error"], false);
    assert_eq!(seen["failed_is_error"], true, "{seen}");
    assert_eq!(seen["failed"]["code"], "SP-HUB-006");
    assert_eq!(seen["bad"]["code"], -32602, "{seen}");
    assert_eq!(seen["bad"]["data"]["code"], "SP-HUB-001");

    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
