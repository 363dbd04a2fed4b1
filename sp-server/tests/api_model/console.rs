//! The console (`/console/`) in a real browser: Debian's Chromium driven by Playwright
//! (`tests/python/console_browser.py`) against the server with the test model, a loopback
//! tool service and an agent run waiting for approval. Screenshots (1280 and 375 px) are kept
//! in `target/console-screenshots/`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};
use crate::tools::{TRIP_QUESTION, Tools, trip_agent};

/// Starts the trip agent with `city_country` needing approval; the run's id once it waits.
async fn waiting_run(api: &Api) -> String {
    let defined = api
        .call(
            Method::POST,
            "/v1/agents",
            Some(ADMIN),
            Some({
                let mut agent = trip_agent();
                agent["approval"] = json!({"city_country": "approve"});
                agent
            }),
        )
        .await;
    assert!(defined.status.is_success(), "{}", defined.text);
    let started = api
        .call(
            Method::POST,
            "/v1/agents/trip/runs",
            Some(ADMIN),
            Some(json!({"input": TRIP_QUESTION})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let id = started.body["id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let run = api
            .call(
                Method::GET,
                &format!("/v1/agent-runs/{id}"),
                Some(ADMIN),
                None,
            )
            .await;
        if run.body["status"] == "waiting_approval" {
            return id;
        }
        assert!(
            run.body["status"] == "running" && tokio::time::Instant::now() < deadline,
            "the run should wait for approval: {}",
            run.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_real_browser() {
    let _gate = sp_tests::model_gate().await;
    let api = Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |_| {}).await;
    let tools = Tools::start().await;
    let registered = api
        .call(
            Method::POST,
            "/v1/services",
            Some(ADMIN),
            Some(tools.registration()),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let run_id = waiting_run(&api).await;
    let reader = api
        .key(&["events", "inference", "documents:read"], None)
        .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sp_server::serve(listener, api.state.clone(), async {
        let _ = stopped.await;
    }));

    let out = sp_tests::repo_root().join("target/console-screenshots");
    let script = sp_tests::repo_root().join("tests/python/console_browser.py");
    let output = tokio::process::Command::new(sp_tests::service_url("SP_TEST_PYTHON"))
        .arg(&script)
        .args([&base, ADMIN, &reader, &run_id])
        .arg(sp_tests::service_url("SP_AXE_JS"))
        .arg(&out)
        .output()
        .await
        .expect("run the browser script");
    let _ = stop.send(());
    let _ = server.await;
    assert!(
        output.status.success(),
        "the browser script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    // A forged key: the sign-in again, with the API's error.
    assert_eq!(seen["forged_signed_in"], false, "{seen}");
    assert!(
        seen["forged_error"]
            .as_str()
            .is_some_and(|e| e.contains("SP-AUTH-001")),
        "{seen}"
    );
    // The key stays in the tab: session storage, no cookie.
    assert_eq!(seen["key_in_session_storage"], true);
    assert_eq!(seen["cookies"], 0);
    // The overview: every component, and the model.
    let overview = seen["overview"].as_str().expect("overview");
    for component in ["sqlite", "model", "healthy", "ready", "version 0."] {
        assert!(overview.contains(component), "{component} in: {overview}");
    }
    assert!(overview.contains("SmolLM2"), "{overview}");
    // The request made meanwhile, logged, leading to its events; the title stays text.
    assert_eq!(seen["probe_status"], 201, "{seen}");
    assert_eq!(seen["request_logged"], true);
    let events = seen["events_of_request"].as_str().expect("events page");
    assert!(events.contains("document.ingested"), "{events}");
    assert!(
        events.contains("<img src=x onerror="),
        "shown as text: {events}"
    );
    assert_eq!(seen["xss_ran"], false);
    assert_eq!(seen["xss_img_elements"], 0);
    // The live tail within a second.
    assert_eq!(seen["append_status"], 201, "{seen}");
    assert!(
        seen["tail_seconds"].as_f64().is_some_and(|s| s < 1.0),
        "{seen}"
    );
    // A key made in the page works elsewhere, and its revocation from the page holds.
    assert_eq!(seen["made_key_works"], 200, "{seen}");
    assert_eq!(seen["revoked_key"], 401, "{seen}");
    // The approval resumed the run: the approved tool was called.
    assert!(
        matches!(seen["run_status"].as_str(), Some("succeeded" | "failed")),
        "{seen}"
    );
    assert!(tools.called().contains(&"city_country".to_owned()));
    // Accessibility: no serious or critical axe-core violation on any page.
    for (page, violations) in seen["axe"].as_object().expect("axe results") {
        assert_eq!(
            violations.as_array().map(Vec::len),
            Some(0),
            "axe on {page}: {violations}"
        );
    }
    assert_eq!(seen["axe"].as_object().map(|a| a.len()), Some(8));
    // Usable at 375 px: nothing wider than the screen.
    assert_eq!(seen["overflow_375"], false);
    assert_eq!(seen["screenshots"].as_array().map(Vec::len), Some(15));
    // The whole bundle under 2 MB, with its strict policy.
    assert!(
        seen["bundle_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0 && b <= 2 * 1024 * 1024),
        "{seen}"
    );
    assert!(
        seen["csp"]
            .as_str()
            .is_some_and(|p| p.contains("script-src 'self'")),
        "{seen}"
    );
    // A key without `admin`: no admin link, the page says so, and the API refuses anyway.
    assert_eq!(seen["reader_sees_admin_link"], false);
    assert!(
        seen["reader_admin_page"]
            .as_str()
            .is_some_and(|t| t.contains("needs the admin scope")),
        "{seen}"
    );
    assert_eq!(seen["reader_keys_api"], 403);
    // The metrics page's hour: the agent run's tokens were counted (sampled as requests came).
    let summary = api
        .call(Method::GET, "/v1/requests/summary", Some(ADMIN), None)
        .await;
    let tokens: u64 = summary.body["minutes"]
        .as_array()
        .expect("minutes")
        .iter()
        .filter_map(|m| m["tokens_generated"].as_u64())
        .sum();
    assert!(tokens > 0, "{}", summary.text);
}
