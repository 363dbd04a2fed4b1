//! Workflows over HTTP: define (checked first), run, watch, cancel, list, delete; the scopes
//! a run needs; every refusal coded; the run's events under the request id.

use std::time::Duration;

use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::hub::echo_service;
use crate::support::{Api, Reply};

async fn until_ended(api: &Api, key: &str, id: &str) -> Reply {
    let path = format!("/v1/workflow-runs/{id}");
    for _ in 0..200 {
        let run = api.call(Method::GET, &path, Some(key), None).await;
        assert_eq!(run.status, StatusCode::OK, "{}", run.text);
        if run.body["status"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not end within 10 s");
}

#[tokio::test]
async fn define_run_watch_and_cancel_over_http() {
    let api = Api::start(None, |config| config.hub.max_attempts = 1).await;
    let key = api.key(&["events", "registry"], None).await;
    let events_only = api.key(&["events"], None).await;
    let service = json!({"name": "echo", "version": "1.0.0", "base_url": echo_service().await,
        "tools": [{"name": "echo", "input_schema": {"type": "object"}},
                  {"name": "down", "input_schema": {"type": "object"}},
                  {"name": "hang", "input_schema": {"type": "object"}, "timeout_ms": 60000}]});
    let registered = api
        .call(Method::POST, "/v1/services", Some(&key), Some(service))
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );

    // Refused before anything is stored.
    let refusals = [
        (
            json!({"name": "w", "steps": [
            {"id": "a", "kind": "tool", "tool": "echo", "needs": ["b"]},
            {"id": "b", "kind": "tool", "tool": "echo", "needs": ["a"]}]}),
            "SP-WF-001",
        ),
        (
            json!({"name": "w", "steps": [
            {"id": "a", "kind": "tool", "tool": "echo", "arguments": {"x": "{{steps.z.output}}"}}]}),
            "SP-WF-002",
        ),
        (
            json!({"name": "w", "steps": [{"id": "a", "kind": "tool", "tool": "nowhere"}]}),
            "SP-WF-003",
        ),
        (
            json!({"name": "w", "steps": [{"id": "a", "kind": "teleport"}]}),
            "SP-REQ-004",
        ),
        (json!({"name": "w", "steps": []}), "SP-VAL-001"),
    ];
    for (definition, code) in refusals {
        let refused = api
            .call(Method::POST, "/v1/workflows", Some(&key), Some(definition))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, code),
            "{}",
            refused.text
        );
    }
    let listed = api
        .call(Method::GET, "/v1/workflows", Some(&key), None)
        .await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.text);

    let definition = json!({"name": "greet", "description": "echo, then decide", "steps": [
        {"id": "hello", "kind": "tool", "tool": "echo", "arguments": {"name": "{{input.name}}"}},
        {"id": "is_ada", "kind": "condition", "value": "{{steps.hello.output.echo.name}}", "equals": "Ada"},
        {"id": "alert", "kind": "tool", "tool": "down", "when": "is_ada", "retries": 1}
    ]});
    let forbidden = api
        .call(
            Method::POST,
            "/v1/workflows",
            Some(&events_only),
            Some(definition.clone()),
        )
        .await;
    assert_eq!(
        (forbidden.status, forbidden.code()),
        (StatusCode::FORBIDDEN, "SP-AUTH-002")
    );
    let defined = api
        .call(
            Method::POST,
            "/v1/workflows",
            Some(&key),
            Some(definition.clone()),
        )
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    assert_eq!(defined.body["version"], 1);
    let again = api
        .call(Method::POST, "/v1/workflows", Some(&key), Some(definition))
        .await;
    assert_eq!(
        (again.status, again.body["version"].clone()),
        (StatusCode::OK, json!(2))
    );

    // A run that succeeds: Grace is not Ada, so `alert` is skipped.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/workflows/greet/runs")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("x-request-id", "greet-grace")
        .body(axum::body::Body::from(
            json!({"input": {"name": "Grace"}}).to_string(),
        ))
        .expect("request");
    let started = api.send(request).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    assert_eq!(started.body["correlation_id"], "greet-grace");
    let id = started.body["id"].as_str().expect("id").to_owned();
    let done = until_ended(&api, &key, &id).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    assert_eq!(done.body["version"], 2);
    let statuses: Vec<&str> = done.body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["succeeded", "succeeded", "skipped"]);
    assert_eq!(
        done.body["steps"][0]["output"]["echo"],
        json!({"name": "Grace"})
    );
    assert_eq!(
        done.body["steps"][0]["output"]["request_id"], "greet-grace",
        "tool calls carry the run's correlation id"
    );
    let events = api
        .call(
            Method::GET,
            "/v1/events?correlationid=greet-grace",
            Some(&key),
            None,
        )
        .await;
    let types: Vec<&str> = events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(types.first(), Some(&"workflow.run.started"), "{types:?}");
    assert_eq!(types.last(), Some(&"workflow.run.succeeded"), "{types:?}");
    assert!(types.contains(&"workflow.step.skipped"), "{types:?}");

    // A run that fails: Ada triggers `alert`, whose service is down (tried twice).
    let failed = api
        .call(
            Method::POST,
            "/v1/workflows/greet/runs",
            Some(&key),
            Some(json!({"input": {"name": "Ada"}})),
        )
        .await;
    let failed_id = failed.body["id"].as_str().expect("id").to_owned();
    let failed = until_ended(&api, &key, &failed_id).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.text);
    assert_eq!(failed.body["error"]["step"], "alert");
    assert_eq!(failed.body["error"]["code"], "SP-HUB-006");
    assert_eq!(failed.body["steps"][2]["attempts"], 2);

    let listed = api
        .call(
            Method::GET,
            "/v1/workflow-runs?workflow=greet&limit=1",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["id"],
        failed_id.as_str(),
        "newest first"
    );
    assert!(listed.body["next_cursor"].is_string());

    // Bad runs.
    let not_object = api
        .call(
            Method::POST,
            "/v1/workflows/greet/runs",
            Some(&key),
            Some(json!({"input": [1]})),
        )
        .await;
    assert_eq!(
        (not_object.status, not_object.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );
    let unknown = api
        .call(
            Method::POST,
            "/v1/workflows/nope/runs",
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
    let bad_id = api
        .call(Method::GET, "/v1/workflow-runs/zzz", Some(&key), None)
        .await;
    assert_eq!(
        (bad_id.status, bad_id.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );
    let ended = api
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{id}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        (ended.status, ended.code()),
        (StatusCode::CONFLICT, "SP-RES-002")
    );

    // Cancel a run whose step hangs.
    let hanging = json!({"name": "hang", "steps": [
        {"id": "wait", "kind": "tool", "tool": "hang"},
        {"id": "after", "kind": "tool", "tool": "echo", "needs": ["wait"]}]});
    let defined = api
        .call(Method::POST, "/v1/workflows", Some(&key), Some(hanging))
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    let started = api
        .call(Method::POST, "/v1/workflows/hang/runs", Some(&key), None)
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let hang_id = started.body["id"].as_str().expect("id").to_owned();
    let cancelled = api
        .call(
            Method::POST,
            &format!("/v1/workflow-runs/{hang_id}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    let steps: Vec<&Value> = cancelled.body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .collect();
    assert!(
        steps.iter().all(|s| s["status"] == "cancelled"),
        "{}",
        cancelled.text
    );

    // Forgetting a workflow keeps its runs.
    let gone = api
        .call(Method::DELETE, "/v1/workflows/greet", Some(&key), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let missing = api
        .call(Method::GET, "/v1/workflows/greet", Some(&key), None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
    let kept = api
        .call(
            Method::GET,
            &format!("/v1/workflow-runs/{id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK);
}

/// A step's output is read with the scope its action needs (review finding M5): an `events`
/// key sees a search run's status but not the document text its search step found.
#[tokio::test]
async fn run_outputs_are_withheld_from_readers_without_the_steps_scope() {
    let api = Api::start(None, |_| {}).await;
    let starter = api
        .key(&["events", "documents:read", "documents:write"], None)
        .await;
    let events_only = api.key(&["events"], None).await;
    let doc = json!({"title": "Secret", "content": "The vault code is 4711."});
    let ingested = api
        .call(Method::POST, "/v1/documents", Some(&starter), Some(doc))
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.text);
    let definition = json!({"name": "find", "steps": [
        {"id": "find", "kind": "search", "query": "vault code", "k": 1}]});
    let defined = api
        .call(
            Method::POST,
            "/v1/workflows",
            Some(&starter),
            Some(definition),
        )
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    let started = api
        .call(
            Method::POST,
            "/v1/workflows/find/runs",
            Some(&starter),
            Some(json!({})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let id = started.body["id"].as_str().expect("id").to_owned();
    let own = until_ended(&api, &starter, &id).await;
    assert_eq!(own.body["status"], "succeeded", "{}", own.text);
    assert!(
        own.text.contains("4711"),
        "the starter reads its hits: {}",
        own.text
    );

    let path = format!("/v1/workflow-runs/{id}");
    let theirs = api.call(Method::GET, &path, Some(&events_only), None).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_eq!(theirs.body["status"], "succeeded");
    assert_eq!(
        theirs.body["steps"][0]["output"],
        Value::Null,
        "{}",
        theirs.text
    );
    assert_eq!(
        theirs.body["output"]["find"],
        Value::Null,
        "{}",
        theirs.text
    );
    let listed = api
        .call(Method::GET, "/v1/workflow-runs", Some(&events_only), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    for text in [&theirs.text, &listed.text] {
        assert!(!text.contains("4711"), "withheld: {text}");
    }
}
