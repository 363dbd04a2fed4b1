//! Runs survive the end of their `sp` process. A workflow run: the process is killed
//! (SIGKILL) or stopped (SIGTERM) while a step is under way, a new one starts on the same
//! data, takes the run over — once the dead one's lease lapses, or at once when the stopped
//! one handed it back — and completes exactly the steps not yet done. An agent run
//! (`run_resume/agent.rs`): killed mid tool call, finished by the next process from its
//! recorded events. On the embedded store and on PostgreSQL.

#[path = "support/process.rs"]
mod process;
#[path = "support/tools.rs"]
mod tools;

#[path = "run_resume/agent.rs"]
mod agent;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process::{create_key, drain, sp, start};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The tool's calls (`step` of each), and whether the `slow` step's first call is held.
#[derive(Clone)]
struct Calls {
    steps: Arc<Mutex<Vec<String>>>,
    held: watch::Sender<bool>,
}

/// A loopback service with one tool, `step`: it answers `{"step", "call"}` at once, except
/// the first call for step `slow`, which never answers (the process calling it dies first).
async fn step_service(calls: Calls) -> String {
    let app = axum::Router::new().route(
        "/tools/step",
        axum::routing::post(move |axum::Json(args): axum::Json<Value>| {
            let calls = calls.clone();
            async move {
                let step = args["step"].as_str().unwrap_or("?").to_owned();
                let (count, slow_first) = {
                    let mut steps = calls.steps.lock().expect("lock");
                    steps.push(step.clone());
                    let count = steps.iter().filter(|s| **s == step).count();
                    (count, step == "slow" && count == 1)
                };
                if slow_first {
                    calls.held.send_replace(true);
                    std::future::pending::<()>().await;
                }
                axum::Json(json!({"step": step, "call": count}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

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
        ("x-request-id", "resume-test"),
    ];
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let reply = sp_tests::http(addr, method, path, &headers, body.as_bytes())
        .await
        .expect("request");
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, json)
}

/// How the first process ends.
#[derive(Clone, Copy, PartialEq)]
enum End {
    /// SIGKILL: nothing more is written; the run waits for its lease to lapse.
    Kill,
    /// SIGTERM: a planned stop that hands the run back.
    Term,
}

async fn stopped_mid_run_resumes_the_remaining_steps(end: End, configure: &dyn Fn(&mut Command)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sp_here = || {
        let mut cmd = sp(dir.path());
        configure(&mut cmd);
        // Killed: a short lease, so the next process takes the run over about a second
        // later. Stopped: a lease far longer than the test, so only the hand-back lets the
        // next process in within its deadline.
        let lease_ms = if end == End::Kill { "1000" } else { "600000" };
        cmd.env("SP_WORKFLOWS__LEASE_MS", lease_ms);
        cmd
    };
    let token = create_key(&mut sp_here(), "wf", "events,registry", &[]);

    let calls = Calls {
        steps: Arc::new(Mutex::new(Vec::new())),
        held: watch::channel(false).0,
    };
    let url = step_service(calls.clone()).await;
    let (first, addr, log) = start(&mut sp_here());
    let _log = drain(log);
    let service = json!({"name": "steps", "version": "1.0.0", "base_url": url,
        "tools": [{"name": "step", "input_schema": {"type": "object"}, "timeout_ms": 60000}]});
    let (status, body) = call(&addr, &token, "POST", "/v1/services", Some(service)).await;
    assert_eq!(status, 201, "{body}");
    let definition = json!({"name": "three-steps", "steps": [
        {"id": "one", "kind": "tool", "tool": "step", "arguments": {"step": "one"}},
        {"id": "slow", "kind": "tool", "tool": "step",
         "arguments": {"step": "slow", "after": "{{steps.one.output.step}}"}},
        {"id": "three", "kind": "tool", "tool": "step",
         "arguments": {"step": "three", "after": "{{steps.slow.output.step}}"}}
    ]});
    let (status, body) = call(&addr, &token, "POST", "/v1/workflows", Some(definition)).await;
    assert_eq!(status, 201, "{body}");
    let (status, run) = call(
        &addr,
        &token,
        "POST",
        "/v1/workflows/three-steps/runs",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let id = run["id"].as_str().expect("run id").to_owned();
    assert_eq!(run["correlation_id"], "resume-test");

    let mut held = calls.held.subscribe();
    tokio::time::timeout(Duration::from_secs(20), held.wait_for(|h| *h))
        .await
        .expect("the slow step starts within 20 s")
        .expect("watch");
    match end {
        End::Kill => drop(first), // SIGKILL, and reaped: no chance to write anything more
        End::Term => {
            let mut first = first;
            let pid = first.0.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status();
            assert!(sent.expect("kill runs").success());
            let exit = first.0.wait().expect("the first process exits");
            assert!(exit.success(), "a planned stop exits cleanly: {exit}");
        }
    }

    let (_second, addr, log) = start(&mut sp_here());
    let _log = drain(log);
    let path = format!("/v1/workflow-runs/{id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (status, run) = call(&addr, &token, "GET", &path, None).await;
        assert_eq!(status, 200, "{run}");
        if run["status"] != "running" {
            break run;
        }
        assert!(tokio::time::Instant::now() < deadline, "not resumed: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    let steps = calls.steps.lock().expect("lock").clone();
    assert_eq!(
        steps,
        ["one", "slow", "slow", "three"],
        "`one` ran once, `slow` again, `three` once"
    );
    let attempts: Vec<(String, u64)> = done["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or("").to_owned(),
                s["attempts"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [("one".into(), 1), ("slow".into(), 2), ("three".into(), 1)]
    );
    assert_eq!(
        done["output"],
        json!({"three": {"step": "three", "call": 1}})
    );

    let (status, events) = call(
        &addr,
        &token,
        "GET",
        "/v1/events?correlationid=resume-test&limit=100",
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let kinds: Vec<String> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap_or(""),
                e["data"]["step"].as_str().unwrap_or("")
            )
        })
        .collect();
    let resumed = kinds
        .iter()
        .position(|k| k == "workflow.run.resumed:")
        .expect("a resumed event");
    assert_eq!(
        kinds[resumed..]
            .iter()
            .filter(|k| k.starts_with("workflow.step.started"))
            .collect::<Vec<_>>(),
        ["workflow.step.started:slow", "workflow.step.started:three"],
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("workflow.run.succeeded:")
    );
}

#[tokio::test]
async fn a_killed_embedded_server_resumes_its_run() {
    stopped_mid_run_resumes_the_remaining_steps(End::Kill, &|_| {}).await;
}

#[tokio::test]
async fn a_stopped_embedded_server_hands_its_run_over() {
    stopped_mid_run_resumes_the_remaining_steps(End::Term, &|_| {}).await;
}

fn on_postgres(cmd: &mut Command, schema: &str) {
    cmd.env("DATABASE_URL", sp_tests::service_url("DATABASE_URL"))
        .env("SP_DATABASE__SCHEMA", schema);
}

#[tokio::test]
async fn a_killed_postgres_server_resumes_its_run() {
    let schema = format!("resume_{}", sp_core::Id::new().as_uuid().simple());
    stopped_mid_run_resumes_the_remaining_steps(End::Kill, &|cmd| on_postgres(cmd, &schema)).await;
}

#[tokio::test]
async fn a_stopped_postgres_server_hands_its_run_over() {
    let schema = format!("handover_{}", sp_core::Id::new().as_uuid().simple());
    stopped_mid_run_resumes_the_remaining_steps(End::Term, &|cmd| on_postgres(cmd, &schema)).await;
}
