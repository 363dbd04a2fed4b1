//! The official `openai` Python package against a running server, unmodified: models, chat,
//! streamed chat, embeddings, completions, and its exceptions for our errors.

use sp_core::Config;

const ADMIN: &str = "e2e-admin-key-0123456789abcdef";

#[tokio::test]
async fn the_openai_python_package_works_against_sp() {
    let _gate = sp_tests::model_gate().await;
    let python = sp_tests::service_url("SP_TEST_PYTHON");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.admin_key = Some(ADMIN.into());
    config.model.path = Some(sp_tests::service_url("SP_TEST_MODEL").into());
    config.model.slots = 2;
    config.model.context_per_slot = 1024;
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
    let created = sp_tests::http(
        &addr,
        "POST",
        "/v1/keys",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        br#"{"name":"python","scopes":["inference"]}"#,
    )
    .await
    .expect("create key");
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.json()["token"].as_str().expect("token").to_owned();

    let script = sp_tests::repo_root().join("tests/python/openai_client.py");
    let base = format!("http://{addr}/v1");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .args([&base, &token])
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
    assert!(
        seen["model"].as_str().is_some_and(|m| !m.is_empty()),
        "{seen}"
    );
    let chat = seen["chat"].as_str().expect("chat text");
    assert!(!chat.is_empty());
    assert_eq!(
        seen["stream"].as_str(),
        Some(chat),
        "greedy stream = greedy whole: {seen}"
    );
    assert!(
        seen["stream_usage"].as_u64().is_some_and(|n| n > 0),
        "{seen}"
    );
    assert!(matches!(
        seen["chat_finish"].as_str(),
        Some("stop" | "length")
    ));
    assert!(seen["chat_usage"].as_u64().is_some_and(|n| n > 0));
    let dims = seen["embeddings"].as_array().expect("embeddings");
    assert_eq!(dims.len(), 2);
    assert!(dims[0].as_u64().is_some_and(|d| d > 0));
    assert!(seen["completion"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(seen["bad_request"], "SP-VAL-001", "{seen}");
    // Tools: a forced call of the declared tool, its result, then an answer; the streamed
    // call, assembled by the client's helper, equals the whole one.
    assert_eq!(seen["tool_finish"], "tool_calls", "{seen}");
    assert_eq!(seen["tool_name"], "get_weather");
    assert!(seen["tool_arguments"]["city"].is_string(), "{seen}");
    assert!(
        seen["tool_answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{seen}"
    );
    assert!(seen["tool_answer_calls"].is_null(), "{seen}");
    assert_eq!(seen["streamed_tool"], seen["whole_tool"], "{seen}");
    // The `parse` helper got an instance of the pydantic model.
    let parsed = &seen["parsed"];
    assert!(
        parsed["name"].is_string() && parsed["country"].is_string(),
        "{seen}"
    );
    assert!(parsed["population_millions"].is_i64(), "{seen}");
    assert_eq!(seen["choices"], 3);
    assert_eq!(seen["logprobs_ok"], true, "{seen}");
    assert_eq!(seen["unauthorized"], 401);

    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
