//! An agent run killed (SIGKILL) while a tool call is under way: the next `sp` process takes
//! it over from its recorded events — the recorded model output is not generated again, the
//! call in flight is repeated under the same `Idempotency-Key`, no call with a recorded
//! result is sent again — and it ends as an uninterrupted run of the same agent does.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::process::{create_key, drain, sp, start};
use crate::tools::{TRIP_QUESTION, Tools, trip_agent};

async fn call(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let reply = sp_tests::http(addr, method, path, &headers, body.as_bytes())
        .await
        .expect("request");
    (
        reply.status,
        serde_json::from_str(&reply.body).unwrap_or(Value::Null),
    )
}

async fn settled(addr: &str, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (status, run) = call(addr, token, "GET", &format!("/v1/agent-runs/{id}"), None).await;
        assert_eq!(status, 200, "{run}");
        if run["status"] != "running" {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not finished: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_run(addr: &str, token: &str) -> String {
    let (status, run) = call(
        addr,
        token,
        "POST",
        "/v1/agents/trip/runs",
        Some(json!({"input": TRIP_QUESTION})),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    run["id"].as_str().expect("id").to_owned()
}

async fn killed_mid_call_finishes_as_an_uninterrupted_run(configure: &dyn Fn(&mut Command)) {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sp_here = || {
        let mut cmd = sp(dir.path());
        configure(&mut cmd);
        cmd.env("SP_MODEL__PATH", sp_tests::service_url("SP_TEST_MODEL"))
            .env("SP_WORKFLOWS__LEASE_MS", "1000");
        cmd
    };
    let token = create_key(&mut sp_here(), "agents", "events,inference,registry", &[]);
    let tools = Tools::start().await;
    // The first tool call of all (the killed run's first) is held unanswered.
    *tools.hold_prefix.lock().expect("lock") = Some(String::new());

    let (first, addr, log) = start(&mut sp_here());
    let _log = drain(log);
    let (status, body) = call(
        &addr,
        &token,
        "POST",
        "/v1/services",
        Some(tools.registration()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(&addr, &token, "POST", "/v1/agents", Some(trip_agent())).await;
    assert_eq!(status, 201, "{body}");
    let killed = start_run(&addr, &token).await;
    let mut held = tools.held.subscribe();
    tokio::time::timeout(Duration::from_secs(60), held.wait_for(|h| *h))
        .await
        .expect("the first tool call starts within 60 s")
        .expect("watch");
    drop(first); // SIGKILL, and reaped

    let (_second, addr, log) = start(&mut sp_here());
    let _log = drain(log);
    let resumed = settled(&addr, &token, &killed).await;
    let fresh = start_run(&addr, &token).await;
    let uninterrupted = settled(&addr, &token, &fresh).await;
    assert_eq!(resumed["status"], "succeeded", "{resumed}");
    assert_eq!(
        resumed["output"], uninterrupted["output"],
        "greedy: the same answer"
    );
    assert_eq!(resumed["steps"], uninterrupted["steps"]);

    let (_, events) = call(
        &addr,
        &token,
        "GET",
        &format!("/v1/agent-runs/{killed}/events?limit=1000"),
        None,
    )
    .await;
    let kinds: Vec<String> = events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap_or(""),
                e["call_id"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "started:",
            "model_output:",
            "tool_call_started:call_1_1",
            "tool_result:call_1_1",
            "model_output:",
            "tool_call_started:call_2_1",
            "tool_result:call_2_1",
            "model_output:",
            "finished:"
        ],
        "one output per step, each call started once"
    );
    let keys: Vec<String> = tools
        .received()
        .iter()
        .filter_map(|c| c.idempotency_key.clone())
        .filter(|key| key.starts_with(&killed))
        .collect();
    assert_eq!(
        keys,
        [
            format!("{killed}:call_1_1"),
            format!("{killed}:call_1_1"),
            format!("{killed}:call_2_1")
        ],
        "only the call in flight was sent again, under its key"
    );
}

#[tokio::test]
async fn a_killed_embedded_server_finishes_its_agent_run() {
    killed_mid_call_finishes_as_an_uninterrupted_run(&|_| {}).await;
}

#[tokio::test]
async fn a_killed_postgres_server_finishes_its_agent_run() {
    let schema = format!("agent_resume_{}", sp_core::Id::new().as_uuid().simple());
    killed_mid_call_finishes_as_an_uninterrupted_run(&|cmd| {
        cmd.env("DATABASE_URL", sp_tests::service_url("DATABASE_URL"))
            .env("SP_DATABASE__SCHEMA", &schema);
    })
    .await;
}
