//! `/v1/contexts/{id}/facts` without a model: facts added by hand supersede and merge, are
//! listed now, as of an instant and with their history, searched, corrected and forgotten;
//! bad input gets coded 4xx.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

async fn post(api: &Api, path: &str, body: Value) -> crate::support::Reply {
    api.call(Method::POST, path, Some(ADMIN), Some(body)).await
}

#[tokio::test]
async fn facts_are_kept_with_their_history_over_http() {
    let api = Api::start(None, |_| {}).await;
    let ctx = post(&api, "/v1/contexts", json!({"extract_facts": true})).await;
    assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
    assert_eq!(ctx.body["extract_facts"], true);
    let base = format!("/v1/contexts/{}/facts", ctx.body["id"].as_str().unwrap());

    let oslo = post(
        &api,
        &base,
        json!({"subject": "user", "attribute": "city", "value": "Oslo"}),
    )
    .await;
    assert_eq!(oslo.status, StatusCode::CREATED, "{}", oslo.text);
    assert_eq!(oslo.body["outcome"], "added");
    let between = sp_core::Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let bergen = post(
        &api,
        &base,
        json!({"subject": "I", "attribute": "City", "value": "Bergen", "confidence": 0.8}),
    )
    .await;
    assert_eq!(bergen.body["outcome"], "superseded", "{}", bergen.text);
    assert_eq!(bergen.body["previous"]["id"], oslo.body["fact"]["id"]);
    let bergen_id = bergen.body["fact"]["id"].as_str().unwrap().to_owned();

    let values = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["facts"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.text))
            .iter()
            .map(|f| f["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let now = api.call(Method::GET, &base, Some(ADMIN), None).await;
    assert_eq!(values(&now), ["Bergen"]);
    let then = format!("{base}?as_of={}", urlencode(&between.to_string()));
    let then = api.call(Method::GET, &then, Some(ADMIN), None).await;
    assert_eq!(values(&then), ["Oslo"], "{}", then.text);
    let all = format!("{base}?history=true");
    let all = api.call(Method::GET, &all, Some(ADMIN), None).await;
    assert_eq!(values(&all), ["Bergen", "Oslo"]);
    assert!(all.body["facts"][1]["valid_to"].is_string());

    let hits = format!("{base}/search?q=city");
    let hits = api.call(Method::GET, &hits, Some(ADMIN), None).await;
    assert_eq!(hits.status, StatusCode::OK, "{}", hits.text);
    assert_eq!(hits.body["hits"][0]["fact"]["id"], bergen_id.as_str());

    let one = format!("{base}/{bergen_id}");
    let fixed = api
        .call(
            Method::PATCH,
            &one,
            Some(ADMIN),
            Some(json!({"value": "Bergen, Norway"})),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
    assert_eq!(fixed.body["value"], "Bergen, Norway");
    let got = api.call(Method::GET, &one, Some(ADMIN), None).await;
    assert_eq!(got.body, fixed.body);
    let gone = api.call(Method::DELETE, &one, Some(ADMIN), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let got = api.call(Method::GET, &one, Some(ADMIN), None).await;
    assert_eq!(
        (got.status, got.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn bad_fact_requests_get_coded_refusals() {
    let api = Api::start(None, |_| {}).await;
    let ctx = post(&api, "/v1/contexts", json!({})).await;
    let base = format!("/v1/contexts/{}/facts", ctx.body["id"].as_str().unwrap());
    let refused = [
        (
            json!({"subject": "", "attribute": "city", "value": "Oslo"}),
            "SP-VAL-001",
        ),
        (
            json!({"subject": "user", "attribute": "city", "value": "Oslo", "confidence": 2}),
            "SP-VAL-001",
        ),
        (
            json!({"subject": "user", "attribute": "city", "value": "x".repeat(401)}),
            "SP-VAL-001",
        ),
        (
            json!({"subject": "user", "attribute": "city", "value": "Oslo", "valid_from": "2020-01-01T00:00:00Z"}),
            "SP-REQ-004",
        ),
        (json!({"subject": "user"}), "SP-REQ-004"),
    ];
    for (body, code) in refused {
        let reply = post(&api, &base, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.code(), code, "{body}: {}", reply.text);
    }
    for query in [
        "?as_of=yesterday",
        "?history=true&as_of=2026-01-01T00:00:00Z",
        "?limit=0",
        "?colour=red",
    ] {
        let reply = api
            .call(Method::GET, &format!("{base}{query}"), Some(ADMIN), None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.text
        );
    }
    for query in ["q=%20", "limit=3"] {
        let path = format!("{base}/search?{query}");
        let reply = api.call(Method::GET, &path, Some(ADMIN), None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "SP-VAL-001"),
            "{query}: {}",
            reply.text
        );
    }
    let stranger = format!("/v1/contexts/{}/facts", sp_core::Id::new());
    let reply = api.call(Method::GET, &stranger, Some(ADMIN), None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::NOT_FOUND, "SP-RES-001")
    );
    let reply = post(
        &api,
        &stranger,
        json!({"subject": "user", "attribute": "a", "value": "b"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    let nothing = api
        .call(
            Method::GET,
            &format!("{base}?history=true"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        nothing.body["facts"],
        json!([]),
        "nothing was stored by the refusals"
    );
}

#[tokio::test]
async fn without_a_model_a_turn_to_learn_from_is_retried_then_dead_lettered() {
    let api = Api::start(None, |_| {}).await;
    let ctx = post(&api, "/v1/contexts", json!({"extract_facts": true})).await;
    let base = format!("/v1/contexts/{}/messages", ctx.body["id"].as_str().unwrap());
    for (role, content) in [("user", "I live in Oslo."), ("assistant", "Noted.")] {
        let said = post(&api, &base, json!({"role": role, "content": content})).await;
        assert_eq!(said.status, StatusCode::CREATED, "{}", said.text);
    }
    // The background worker takes the turn at once; without a model each attempt fails.
    let mut letters = Value::Null;
    for _ in 0..200 {
        let reply = api
            .call(
                Method::GET,
                "/v1/dlq?group=memory-extract",
                Some(ADMIN),
                None,
            )
            .await;
        letters = reply.body["items"].clone();
        if letters.as_array().is_some_and(|items| !items.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let letter = &letters[0];
    assert_eq!(letter["event"]["type"], "memory.turn", "{letters}");
    assert_eq!(
        letter["attempts"], 5,
        "retried events.max_attempts times: {letter}"
    );
    assert!(
        letter["reason"]
            .as_str()
            .is_some_and(|r| r.contains("model")),
        "{letter}"
    );
}
