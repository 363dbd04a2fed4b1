//! `/v1/responses` with tools the server runs (our extension) and the real model: the hub's
//! tools are called by an agent run, listed as `mcp_call` items before the answer, the run is
//! named and recorded, the chain goes on from the answer; in the background the response is
//! polled to its end, or cancelled with its run.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;
use crate::tools::{TRIP_QUESTION, Tools};

async fn setup() -> (Api, String, Tools) {
    let api = Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |_| {}).await;
    let token = api.key(&["events", "inference", "registry"], None).await;
    let tools = Tools::start().await;
    let reply = api
        .call(
            Method::POST,
            "/v1/services",
            Some(&token),
            Some(tools.registration()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (api, token, tools)
}

/// The trip agent's task as a response: each geography tool at most once, a call first.
fn trip_request() -> Value {
    json!({"input": TRIP_QUESTION, "max_output_tokens": 64, "tool_choice": "required",
        "instructions": "You plan trips. Use the tools, then answer in one sentence.",
        "tools": [{"type": "hub", "name": "city_country", "max_calls": 1},
                  {"type": "hub", "name": "weather", "max_calls": 1}]})
}

fn item_types(body: &Value) -> Vec<&str> {
    body["output"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["type"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn hub_tools_run_server_side_as_a_recorded_agent_run() {
    let _gate = sp_tests::model_gate().await;
    let (api, token, tools) = setup().await;
    let t = Some(token.as_str());
    let reply = api
        .call(Method::POST, "/v1/responses", t, Some(trip_request()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.body;
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(item_types(&body), ["mcp_call", "mcp_call", "message"]);
    let calls: Vec<(&Value, &Value)> = body["output"]
        .as_array()
        .map(|items| &items[..2])
        .unwrap_or_default()
        .iter()
        .map(|c| (&c["name"], &c["server_label"]))
        .collect();
    assert_eq!(
        calls,
        [
            (&json!("city_country"), &json!("geo")),
            (&json!("weather"), &json!("geo"))
        ]
    );
    let first: Value =
        serde_json::from_str(body["output"][0]["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(first["country"], "France");
    assert_eq!(tools.called(), ["city_country", "weather"]);
    assert!(body["usage"]["input_tokens"].as_u64().unwrap_or(0) > 0);

    // The run behind it is recorded under the one-off definition's name.
    let run_id = body["agent_run_id"].as_str().expect("agent_run_id");
    let run = api
        .call(Method::GET, &format!("/v1/agent-runs/{run_id}"), t, None)
        .await;
    assert_eq!(
        (&run.body["status"], &run.body["agent"], &run.body["steps"]),
        (&json!("succeeded"), &json!("responses"), &json!(3)),
        "{}",
        run.text
    );
    let answer = &body["output"][2]["content"][0]["text"];
    assert_eq!(&run.body["output"], answer);

    // Stored with its calls, and the chain goes on from the answer (no tools this time).
    let id = body["id"].as_str().expect("id");
    let stored = api
        .call(Method::GET, &format!("/v1/responses/{id}"), t, None)
        .await;
    assert_eq!(
        item_types(&stored.body),
        ["mcp_call", "mcp_call", "message"]
    );
    let next = api
        .call(
            Method::POST,
            "/v1/responses",
            t,
            Some(json!({"input": "Thanks!", "previous_response_id": id, "max_output_tokens": 8})),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text);
    assert!(
        next.body["usage"]["input_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "the chain's prompt is the run's conversation: {}",
        next.text
    );
}

#[tokio::test]
async fn a_background_response_with_hub_tools_is_polled_or_cancelled_with_its_run() {
    let _gate = sp_tests::model_gate().await;
    let (api, token, tools) = setup().await;
    let t = Some(token.as_str());
    let mut request = trip_request();
    request["background"] = json!(true);
    let queued = api
        .call(Method::POST, "/v1/responses", t, Some(request.clone()))
        .await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text);
    assert_eq!(queued.body["status"], "queued");
    let id = queued.body["id"].as_str().expect("id").to_owned();
    let polled = poll(&api, t, &id).await;
    assert_eq!(polled["status"], "completed", "{polled}");
    assert_eq!(item_types(&polled), ["mcp_call", "mcp_call", "message"]);
    assert_eq!(polled["agent_run_id"], queued.body["agent_run_id"]);

    // Held in its first tool call, then cancelled: the run is cancelled too, nothing kept.
    *tools.hold_prefix.lock().expect("lock") = Some(String::new());
    let queued = api
        .call(Method::POST, "/v1/responses", t, Some(request))
        .await;
    let id = queued.body["id"].as_str().expect("id").to_owned();
    let mut held = tools.held.subscribe();
    let run_id = queued.body["agent_run_id"].as_str().expect("agent_run_id");
    if tokio::time::timeout(Duration::from_secs(180), held.wait_for(|held| *held))
        .await
        .is_err()
    {
        // Say why: the response and its run as they stand.
        let response = api
            .call(Method::GET, &format!("/v1/responses/{id}"), t, None)
            .await;
        let run = api
            .call(Method::GET, &format!("/v1/agent-runs/{run_id}"), t, None)
            .await;
        panic!(
            "the first call was not held: response {}, run {}",
            response.text, run.text
        );
    }
    let cancelled = api
        .call(Method::POST, &format!("/v1/responses/{id}/cancel"), t, None)
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let run = api
            .call(Method::GET, &format!("/v1/agent-runs/{run_id}"), t, None)
            .await;
        if run.body["status"] == "cancelled" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", run.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn poll(api: &Api, t: Option<&str>, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let reply = api
            .call(Method::GET, &format!("/v1/responses/{id}"), t, None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        if !matches!(
            reply.body["status"].as_str(),
            Some("queued" | "in_progress")
        ) {
            return reply.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", reply.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
