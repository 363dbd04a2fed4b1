//! Agent runs with the real model (SmolLM2, grammar-enforced tool calls) and a loopback tool
//! service: the loop, its limits, approvals, replay and fork, streaming, bad definitions.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;
use crate::tools::{TRIP_QUESTION, Tools, trip_agent};

async fn api() -> Api {
    Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |config| {
        // The broken tool's breaker opens after two failed calls.
        config.hub.breaker_failures = 2;
        config.hub.max_attempts = 1;
    })
    .await
}

struct Setup {
    api: Api,
    token: String,
    tools: Tools,
}

async fn setup() -> Setup {
    let api = api().await;
    let token = api
        .key(&["events", "inference", "registry", "contexts"], None)
        .await;
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
    Setup { api, token, tools }
}

impl Setup {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> crate::support::Reply {
        self.api.call(method, path, Some(&self.token), body).await
    }

    async fn define(&self, agent: Value) {
        let reply = self.call(Method::POST, "/v1/agents", Some(agent)).await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }

    /// Starts a run of `agent` and waits until it is no longer `running`.
    async fn run(&self, agent: &str, input: &str) -> Value {
        let started = self
            .call(
                Method::POST,
                &format!("/v1/agents/{agent}/runs"),
                Some(json!({"input": input})),
            )
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
        self.settled(started.body["id"].as_str().expect("id")).await
    }

    async fn settled(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let run = self
                .call(Method::GET, &format!("/v1/agent-runs/{id}"), None)
                .await;
            if run.body["status"] != "running" {
                return run.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still running: {}",
                run.text
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, id: &Value) -> Vec<Value> {
        let id = id.as_str().expect("id");
        let reply = self
            .call(
                Method::GET,
                &format!("/v1/agent-runs/{id}/events?limit=1000"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body.as_array().expect("events").clone()
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn a_two_tool_task_runs_in_order_replays_and_forks() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    s.define(trip_agent()).await;
    let done = s.run("trip", TRIP_QUESTION).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps"], 3);
    assert_eq!(s.tools.called(), ["city_country", "weather"]);
    let events = s.events(&done["id"]).await;
    assert_eq!(
        types(&events),
        [
            "started",
            "model_output",
            "tool_call_started",
            "tool_result",
            "model_output",
            "tool_call_started",
            "tool_result",
            "model_output",
            "finished"
        ]
    );
    assert_eq!(
        events[3]["output"],
        json!({"city": "Lyon", "country": "France"})
    );
    assert_eq!(events[6]["output"]["celsius"], 21);
    // The service saw each call under the key the run recorded for it.
    let keys: Vec<Value> = events
        .iter()
        .filter(|e| e["type"] == "tool_call_started")
        .map(|e| e["idempotency_key"].clone())
        .collect();
    let seen: Vec<Value> = s
        .tools
        .received()
        .iter()
        .map(|c| json!(c.idempotency_key))
        .collect();
    assert_eq!(keys, seen);

    let id = done["id"].as_str().expect("id");
    let replay = s
        .call(Method::POST, &format!("/v1/agent-runs/{id}/replay"), None)
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(
        (&replay.body["steps"], &replay.body["matches"]),
        (&json!(3), &json!(true))
    );
    assert_eq!(replay.body["output"], done["output"]);
    assert_eq!(s.tools.called().len(), 2, "replay calls no tool");

    let fork = s
        .call(
            Method::POST,
            &format!("/v1/agent-runs/{id}/fork"),
            Some(json!({"step": 2})),
        )
        .await;
    assert_eq!(fork.status, StatusCode::ACCEPTED, "{}", fork.text);
    let forked = s.settled(fork.body["id"].as_str().expect("id")).await;
    assert_eq!(
        forked["output"], done["output"],
        "greedy: the same answer again"
    );
    assert_eq!(
        s.tools.called(),
        ["city_country", "weather", "weather"],
        "steps 2.. ran again"
    );
    let events = s.events(&forked["id"]).await;
    assert_eq!(events[1]["type"], "forked");
}

#[tokio::test]
async fn limits_end_runs_with_their_codes() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    // max_steps: the first step must call a tool, and there is no second.
    s.define(
        json!({"name": "one-step", "tools": [{"tool": "city_country"}],
        "tool_choice": "required", "max_steps": 1, "max_tokens": 32}),
    )
    .await;
    let done = s.run("one-step", TRIP_QUESTION).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "SP-AGT-002", "{done}");
    assert_eq!(done["steps"], 1);

    // A budget smaller than the first prompt: the run ends before the model is asked.
    s.define(
        json!({"name": "thrifty", "tools": [{"tool": "weather"}], "token_budget": 100,
        "max_tokens": 64}),
    )
    .await;
    let done = s.run("thrifty", TRIP_QUESTION).await;
    assert_eq!(done["error"]["code"], "SP-AGT-003", "{done}");
    assert_eq!(
        (&done["steps"], &done["usage"]["prompt_tokens"]),
        (&json!(0), &json!(0))
    );

    // A failing tool: the model is told each failure; once the breaker opens the run ends.
    s.define(json!({"name": "doomed", "tools": [{"tool": "broken"}],
        "tool_choice": "required", "max_steps": 6, "max_tokens": 32}))
        .await;
    let done = s.run("doomed", TRIP_QUESTION).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "SP-HUB-004", "{done}");
    let events = s.events(&done["id"]).await;
    let results: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "tool_result")
        .map(|e| e["error"]["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        results.last(),
        Some(&"SP-HUB-004"),
        "the model was told: {results:?}"
    );
    assert!(
        results[..results.len() - 1]
            .iter()
            .all(|c| *c == "SP-HUB-006"),
        "{results:?}"
    );
}

#[tokio::test]
async fn approvals_pause_runs_and_rejections_reach_the_model() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    let mut agent = trip_agent();
    agent["approval"] = json!({"city_country": "approve"});
    s.define(agent).await;

    let waiting = s.run("trip", TRIP_QUESTION).await;
    assert_eq!(waiting["status"], "waiting_approval", "{waiting}");
    let events = s.events(&waiting["id"]).await;
    let asked = events.last().expect("events");
    assert_eq!(asked["type"], "approval_requested");
    let call_id = asked["call_id"].as_str().expect("call id").to_owned();
    let id = waiting["id"].as_str().expect("id");
    let wrong = s
        .call(
            Method::POST,
            &format!("/v1/agent-runs/{id}/approve"),
            Some(json!({"call_id": "call_9_9"})),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::CONFLICT, "SP-RES-002")
    );
    let rejected = s
        .call(
            Method::POST,
            &format!("/v1/agent-runs/{id}/reject"),
            Some(json!({"call_id": call_id, "reason": "no lookups of Lyon today"})),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    let done = s.settled(id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(
        !s.tools.called().contains(&"city_country".to_owned()),
        "a rejected call is not made"
    );
    let events = s.events(&done["id"]).await;
    let answer = events
        .iter()
        .find(|e| e["type"] == "tool_result" && e["call_id"] == call_id.as_str())
        .expect("the rejection's result");
    assert!(
        answer["output"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no lookups of Lyon today")
    );

    let second = s.run("trip", TRIP_QUESTION).await;
    let id = second["id"].as_str().expect("id");
    let events = s.events(&second["id"]).await;
    let call_id = events.last().expect("events")["call_id"].clone();
    let approved = s
        .call(
            Method::POST,
            &format!("/v1/agent-runs/{id}/approve"),
            Some(json!({"call_id": call_id})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let done = s.settled(id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(
        s.tools.called().contains(&"city_country".to_owned()),
        "an approved call is made"
    );
}

#[tokio::test]
async fn a_streamed_run_sends_each_event_then_done() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    s.define(trip_agent()).await;
    let reply = s
        .call(
            Method::POST,
            "/v1/agents/trip/runs",
            Some(json!({"input": TRIP_QUESTION, "stream": true})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let data: Vec<&str> = reply
        .text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let all: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("event JSON"))
        .collect();
    let (deltas, events): (Vec<Value>, Vec<Value>) =
        all.into_iter().partition(|e| e["type"] == "delta");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let finished = events.last().expect("events");
    assert_eq!(finished["type"], "finished");
    // The last step offers no tool (each had its call): its answer streams as it is made.
    let last: Vec<&Value> = deltas.iter().filter(|d| d["step"] == 3).collect();
    assert!(last.len() > 1, "token by token: {deltas:?}");
    let answer: String = last
        .iter()
        .map(|d| d["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(json!(answer), finished["output"]);
}

#[tokio::test]
async fn bad_definitions_and_scopes_are_refused_with_codes() {
    // It loads the model too: one model test at a time (the catalogue's tests measure the
    // process's memory).
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    let cases = [
        (
            json!({"name": "x", "tools": [{"tool": "teleport"}]}),
            "SP-AGT-001",
        ),
        (
            json!({"name": "x", "tools": [{"builtin": "teleport"}]}),
            "SP-AGT-001",
        ),
        (json!({"name": "x", "max_steps": 0}), "SP-VAL-001"),
        (
            json!({"name": "x", "tools": [{"tool": "weather"}],
            "tool_choice": {"function": "city_country"}}),
            "SP-VAL-001",
        ),
        (
            json!({"name": "x", "max_calls": {"weather": 0}}),
            "SP-VAL-001",
        ),
        (json!({"name": "x", "temperature": 0.2}), "SP-REQ-004"),
    ];
    for (agent, code) in cases {
        let reply = s
            .call(Method::POST, "/v1/agents", Some(agent.clone()))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, code),
            "{agent}: {}",
            reply.text
        );
    }
    let listed = s.call(Method::GET, "/v1/agents", None).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
    let events_only = s.api.key(&["events"], None).await;
    let reply = s
        .api
        .call(
            Method::POST,
            "/v1/agents",
            Some(&events_only),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    let empty = s
        .call(
            Method::POST,
            "/v1/agents/x/runs",
            Some(json!({"input": "hi"})),
        )
        .await;
    assert_eq!(
        (empty.status, empty.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
}

#[tokio::test]
async fn a_workflow_step_runs_an_agent() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    s.define(trip_agent()).await;
    let key = s
        .api
        .key(
            &[
                "events",
                "inference",
                "registry",
                "contexts",
                "documents:read",
            ],
            None,
        )
        .await;
    let flow = json!({"name": "plan-trip", "steps": [
        {"id": "plan", "kind": "agent", "agent": "trip", "input": "{{input.question}}"}]});
    let defined = s
        .api
        .call(Method::POST, "/v1/workflows", Some(&key), Some(flow))
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    let missing = json!({"name": "nobody", "steps": [
        {"id": "plan", "kind": "agent", "agent": "ghost", "input": "hi"}]});
    let refused = s
        .api
        .call(Method::POST, "/v1/workflows", Some(&key), Some(missing))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "SP-WF-002")
    );
    // Two agent steps that each wait for the other's answer.
    let cycle = json!({"name": "loop", "steps": [
        {"id": "a", "kind": "agent", "agent": "trip", "input": "{{steps.b.output}}"},
        {"id": "b", "kind": "agent", "agent": "trip", "input": "{{steps.a.output}}"}]});
    let refused = s
        .api
        .call(Method::POST, "/v1/workflows", Some(&key), Some(cycle))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.code(), "SP-WF-001", "{}", refused.text);
    let started = s
        .api
        .call(
            Method::POST,
            "/v1/workflows/plan-trip/runs",
            Some(&key),
            Some(json!({"input": {"question": TRIP_QUESTION}})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let id = started.body["id"].as_str().expect("id");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let run = loop {
        let run = s
            .api
            .call(
                Method::GET,
                &format!("/v1/workflow-runs/{id}"),
                Some(&key),
                None,
            )
            .await;
        if run.body["status"] != "running" {
            break run.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", run.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    let step = &run["steps"][0]["output"];
    assert_eq!(step["status"], "succeeded", "{run}");
    assert_eq!(step["steps"], 3);
    let agent_run = s
        .call(
            Method::GET,
            &format!(
                "/v1/agent-runs/{}",
                step["run_id"].as_str().expect("run id")
            ),
            None,
        )
        .await;
    assert_eq!(agent_run.body["output"], step["output"]);
    assert_eq!(
        agent_run.body["correlation_id"], run["correlation_id"],
        "one correlation id"
    );
}

#[tokio::test]
async fn a_run_is_charged_to_the_key_that_started_it() {
    let _gate = sp_tests::model_gate().await;
    let s = setup().await;
    s.define(trip_agent()).await;
    // A budget one model call fits (64 tokens reserved) and spends: the second is refused.
    let body = json!({"name": "thrifty", "scopes": ["events", "inference", "registry"],
        "token_limit": "150/h"});
    let made = s
        .api
        .call(
            Method::POST,
            "/v1/keys",
            Some(crate::support::ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let (key_id, token) = (
        made.body["key"]["id"].as_str().expect("key id").to_owned(),
        made.body["token"].as_str().expect("token").to_owned(),
    );
    let started = s
        .api
        .call(
            Method::POST,
            "/v1/agents/trip/runs",
            Some(&token),
            Some(json!({"input": TRIP_QUESTION})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let done = s.settled(started.body["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        done["error"]["code"], "SP-AUTH-003",
        "the key's budget ran out: {done}"
    );
    assert_eq!(
        done["steps"], 1,
        "the first call was made, the second refused"
    );
    s.api
        .state
        .platform()
        .await
        .expect("platform")
        .usage
        .flush()
        .await
        .expect("flush");
    let usage = s
        .api
        .call(
            Method::GET,
            &format!("/v1/usage?key_id={key_id}"),
            Some(crate::support::ADMIN),
            None,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let prompt = usage.body["items"][0]["prompt_tokens"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        json!(prompt),
        done["usage"]["prompt_tokens"],
        "{}",
        usage.text
    );
    // A fork is charged to the key that forks it (here one without a token limit): it gets
    // past the call the thrifty key could not pay for.
    let forked = s
        .api
        .call(
            Method::POST,
            &format!("/v1/agent-runs/{}/fork", done["id"].as_str().expect("id")),
            Some(crate::support::ADMIN),
            Some(json!({"step": 1})),
        )
        .await;
    assert_eq!(forked.status, StatusCode::ACCEPTED, "{}", forked.text);
    let fork = s.settled(forked.body["id"].as_str().expect("id")).await;
    assert_ne!(fork["error"]["code"], "SP-AUTH-003", "{fork}");
    assert!(fork["steps"].as_u64().unwrap_or(0) >= 2, "{fork}");
}
