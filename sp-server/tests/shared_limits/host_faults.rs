//! What the namespaced hosts of `hosts.rs` survive, one fault at a time: Redis killed behind
//! the balancer, a model asked of a host without it, a host killed in the middle of a
//! workflow run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::hosts::{Hosts, call, key};
use super::process::Server;

/// Statuses of eight reads through the balancer with a new 3/min key, and how many each
/// host answered 200.
async fn spend_a_budget(balancer: &str) -> (Vec<u16>, std::collections::BTreeMap<String, usize>) {
    let (_, token) = key(
        balancer,
        json!({"name": "budget", "scopes": ["documents:read"], "rate_limit": "3/min"}),
    )
    .await;
    let (mut statuses, mut answered) = (Vec::new(), std::collections::BTreeMap::new());
    for _ in 0..8 {
        let reply = call(balancer, "GET", "/v1/documents", &token, "").await;
        statuses.push(reply.status);
        if reply.status == 200 {
            let host = reply.header("x-lb-server").unwrap_or("?").to_owned();
            *answered.entry(host).or_insert(0) += 1;
        }
    }
    (statuses, answered)
}

/// Redis killed: the limits keep working, each host on its own (degraded: N hosts allow up to
/// N × the limit); Redis back: shared again.
pub(super) async fn limits_outlive_redis(hosts: &Hosts, balancer: &str) {
    hosts.run_on_redis("kill");
    let (statuses, answered) = spend_a_budget(balancer).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "limited, never failed: {statuses:?}"
    );
    assert!(answered.values().all(|n| *n <= 3), "{answered:?}");
    assert!(
        answered.values().sum::<usize>() > 3,
        "each host limits on its own while Redis is gone: {answered:?}"
    );

    hosts.run_on_redis("start");
    let restarted = Instant::now();
    loop {
        let (statuses, answered) = spend_a_budget(balancer).await;
        if statuses == [200, 200, 200, 429, 429, 429, 429, 429] && answered.len() == 2 {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "budgets never shared again: {statuses:?} {answered:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "Redis restarted: budgets shared again across the hosts {:?} later",
        restarted.elapsed()
    );
}

/// A chat request sent to h3, which holds no chat model, is answered by h2, which does.
pub(super) async fn a_model_held_elsewhere_is_answered(two: &str, three: &str) {
    let (_, caller) = key(two, json!({"name": "chat", "scopes": ["inference"]})).await;
    let models = call(two, "GET", "/v1/models", &caller, "").await;
    assert_eq!(models.status, 200, "{}", models.body);
    let listed = models.json();
    let model = listed["data"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .find(|id| !id.contains("MiniLM"))
        .expect("h2's chat model")
        .to_owned();
    let body = json!({"model": model, "max_tokens": 4,
        "messages": [{"role": "user", "content": "Say hi."}]});
    // h3 learns of h2's model from its heartbeats.
    let started = Instant::now();
    let reply = loop {
        let reply = call(
            three,
            "POST",
            "/v1/chat/completions",
            &caller,
            &body.to_string(),
        )
        .await;
        if reply.status == 200 {
            break reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(reply.json()["model"], model.as_str(), "{}", reply.body);
    assert!(
        reply.header("x-sp-served-by").is_some(),
        "forwarded to h2: {:?}",
        reply.headers
    );
}

/// A tool service on the machine's bridge address: its `step` tool answers at once, except the
/// first call of step `slow`, which never answers (the host calling it dies first). Its URL and
/// the steps called, in order.
async fn step_service(net: &str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let steps = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let app = axum::Router::new().route(
        "/tools/step",
        axum::routing::post({
            let steps = steps.clone();
            move |axum::Json(args): axum::Json<Value>| {
                let steps = steps.clone();
                async move {
                    let step = args["step"].as_str().unwrap_or("?").to_owned();
                    let first_slow = {
                        let mut steps = steps.lock().expect("lock");
                        steps.push(step.clone());
                        step == "slow" && steps.iter().filter(|s| **s == "slow").count() == 1
                    };
                    if first_slow {
                        std::future::pending::<()>().await;
                    }
                    axum::Json(json!({"step": step}))
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(format!("{net}.1:0"))
        .await
        .expect("bind on the bridge");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, steps)
}

/// Starts a three-step workflow run on `host`, waits until its slow step is under way, kills
/// the host (its `Server`), and waits through `balancer` until another host has finished it.
pub(super) async fn a_run_outlives_its_host(net: &str, host: (Server, String), balancer: &str) {
    let (url, steps) = step_service(net).await;
    let (_, token) = key(
        &host.1,
        json!({"name": "runner", "scopes": ["registry", "events"]}),
    )
    .await;
    let service = json!({"name": "steps", "version": "1.0.0", "base_url": url,
        "tools": [{"name": "step", "input_schema": {"type": "object"}, "timeout_ms": 60000}]});
    assert_eq!(
        call(
            &host.1,
            "POST",
            "/v1/services",
            &token,
            &service.to_string()
        )
        .await
        .status,
        201
    );
    let definition = json!({"name": "three-steps", "steps": [
        {"id": "one", "kind": "tool", "tool": "step", "arguments": {"step": "one"}},
        {"id": "slow", "kind": "tool", "tool": "step",
         "arguments": {"step": "slow", "after": "{{steps.one.output.step}}"}},
        {"id": "three", "kind": "tool", "tool": "step",
         "arguments": {"step": "three", "after": "{{steps.slow.output.step}}"}}
    ]});
    assert_eq!(
        call(
            &host.1,
            "POST",
            "/v1/workflows",
            &token,
            &definition.to_string()
        )
        .await
        .status,
        201
    );
    let started = call(
        &host.1,
        "POST",
        "/v1/workflows/three-steps/runs",
        &token,
        "{}",
    )
    .await;
    assert_eq!(started.status, 202, "{}", started.body);
    let id = started.json()["id"].as_str().expect("run id").to_owned();
    let begun = Instant::now();
    while !steps.lock().expect("lock").iter().any(|s| s == "slow") {
        assert!(
            begun.elapsed() < Duration::from_secs(20),
            "the slow step never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(host); // SIGKILL: the host writes nothing more

    let killed = Instant::now();
    let path = format!("/v1/workflow-runs/{id}");
    let done = loop {
        let run = call(balancer, "GET", &path, &token, "").await;
        if run.status == 200 && run.json()["status"] != "running" {
            break run.json();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "not taken over: {}",
            run.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        steps.lock().expect("lock").clone(),
        ["one", "slow", "slow", "three"],
        "`one` ran once, `slow` again on another host, `three` once"
    );
    println!(
        "a run of a killed host finished on another {:?} after the kill",
        killed.elapsed()
    );
}
