//! Model calls the platform makes on a caller's behalf are charged like the caller's own
//! (review finding M1): a context's compaction with the turn that needed it, a workflow's
//! model steps to the run's tenant — its token quotas and its usage.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::usage::{row, tenant_key};
use crate::support::{ADMIN, Api};

async fn usage_of(api: &Api, query: &str) -> Value {
    let report = api
        .call(
            Method::GET,
            &format!("/v1/usage?{query}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    report.body
}

fn tokens(usage: &Value) -> u64 {
    usage["prompt_tokens"].as_u64().expect("prompt")
        + usage["completion_tokens"].as_u64().expect("completion")
}

#[tokio::test]
async fn a_compaction_is_charged_with_the_turn_that_needed_it() {
    let _gate = sp_tests::model_gate().await;
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let api = Api::start(Some(model), |config| config.model.context_per_slot = 512).await;
    let scopes = json!({"scopes": ["contexts", "inference"]});
    let (key_id, token) = tenant_key(&api, "compactor", scopes).await;
    let t = Some(token.as_str());
    let ctx = api
        .call(Method::POST, "/v1/contexts", t, Some(json!({})))
        .await;
    assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
    let id = ctx.body["id"].as_str().expect("id").to_owned();
    let turn = "The expedition reached the northern camp on day three, counted forty crates of \
                supplies, repaired the radio mast and sent word that the weather held.";
    for n in 0..16 {
        let role = if n % 2 == 0 { "user" } else { "assistant" };
        let message = json!({"role": role, "content": format!("{n}: {turn}")});
        let added = api
            .call(
                Method::POST,
                &format!("/v1/contexts/{id}/messages"),
                t,
                Some(message),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    }
    let reply = api
        .call(
            Method::POST,
            &format!("/v1/contexts/{id}/chat"),
            t,
            Some(json!({"content": "How many crates?", "max_tokens": 8})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.body["summary_through"].is_u64(),
        "compacted: {}",
        reply.text
    );
    // Compaction is never silent: what it folded is reported.
    assert!(
        reply.body["summarised_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{}",
        reply.text
    );
    let compaction = &reply.body["compaction_usage"];
    assert!(
        compaction["completion_tokens"].as_u64().expect("n") > 0,
        "{compaction}"
    );

    let report = usage_of(&api, "tenant=compactor&group_by=key").await;
    let charged = row(&report, &key_id);
    assert_eq!(charged["requests"], 1, "one turn: {report}");
    assert_eq!(
        tokens(charged),
        tokens(&reply.body["usage"]) + tokens(compaction),
        "the reply and its compaction: {report}"
    );
}

/// Starts `workflow` of `token` and waits for its run to end; the run.
async fn run_to_end(api: &Api, token: &str, workflow: &str) -> Value {
    let started = api
        .call(
            Method::POST,
            &format!("/v1/workflows/{workflow}/runs"),
            Some(token),
            Some(json!({"input": {}})),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let path = format!(
        "/v1/workflow-runs/{}",
        started.body["id"].as_str().expect("id")
    );
    let mut run = started.body;
    for _ in 0..1200 {
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        run = api.call(Method::GET, &path, Some(token), None).await.body;
    }
    panic!("the run did not end: {run}");
}

#[tokio::test]
async fn workflow_model_steps_are_charged_to_their_tenant() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let tenant = json!({"id": "flows", "quotas": {"token_limits": ["60/h"]}});
    let made = api
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(tenant))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let scopes = json!({"scopes": ["inference", "events"]});
    let (_, token) = tenant_key(&api, "flows", scopes).await;
    let definition = json!({"name": "say", "steps": [
        {"id": "answer", "kind": "model", "max_tokens": 8, "retries": 0,
         "prompt": "Write one long sentence about the sea, the wind and the harbour at night."}
    ]});
    let defined = api
        .call(
            Method::POST,
            "/v1/workflows",
            Some(&token),
            Some(definition),
        )
        .await;
    assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);

    let first = run_to_end(&api, &token, "say").await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let used = &first["steps"][0]["output"]["usage"];
    let report = usage_of(&api, "tenant=flows&group_by=key").await;
    let charged = row(&report, "workflows");
    assert_eq!(charged["requests"], 1, "{report}");
    assert_eq!(tokens(charged), tokens(used), "{report}");

    // Runs until the tenant's quota is spent: then a model step is refused with a code.
    let mut spent = tokens(used);
    let refused = loop {
        let run = run_to_end(&api, &token, "say").await;
        if run["status"] != "succeeded" {
            break run;
        }
        spent += tokens(&run["steps"][0]["output"]["usage"]);
        assert!(
            spent < 60 + 2 * tokens(used),
            "the quota holds: {spent} spent"
        );
    };
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["error"]["code"], "SP-AUTH-003", "{refused}");
    let report = usage_of(&api, "tenant=flows&group_by=key").await;
    assert!(
        row(&report, "workflows")["errors"]
            .as_u64()
            .expect("errors")
            >= 1,
        "{report}"
    );
}
