//! Memory that learns, with the real model: a conversation that says where the user lives and
//! then that they moved ends with the new place current and the old one superseded — extracted
//! by schema-constrained decoding in the background worker. Structure and supersession are
//! asserted, not the model's wording.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

/// The context's whole fact history once `ready` holds for it (the worker runs in the
/// background), or the last one seen.
async fn facts_once(api: &Api, base: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut facts = Vec::new();
    for _ in 0..600 {
        let reply = api
            .call(
                Method::GET,
                &format!("{base}/facts?history=true"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        facts = reply.body["facts"].as_array().cloned().unwrap_or_default();
        if ready(&facts) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    facts
}

fn mentions(fact: &Value, place: &str) -> bool {
    fact["value"]
        .as_str()
        .is_some_and(|v| v.to_lowercase().contains(place))
}

#[tokio::test]
async fn a_move_supersedes_the_old_home() {
    let _gate = sp_tests::model_gate().await;
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let api = Api::start(Some(model), |_| {}).await;
    let ctx = api
        .call(
            Method::POST,
            "/v1/contexts",
            Some(ADMIN),
            Some(json!({"extract_facts": true})),
        )
        .await;
    assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
    let base = format!("/v1/contexts/{}", ctx.body["id"].as_str().expect("id"));
    let chat = |content: &'static str| {
        let (api, base) = (&api, &base);
        async move {
            let body = json!({"content": content, "max_tokens": 12, "temperature": 0});
            let turn = api
                .call(
                    Method::POST,
                    &format!("{base}/chat"),
                    Some(ADMIN),
                    Some(body),
                )
                .await;
            assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
        }
    };

    chat("I live in Oslo.").await;
    let first = facts_once(&api, &base, |facts| {
        facts.iter().any(|f| mentions(f, "oslo"))
    })
    .await;
    let oslo = first
        .iter()
        .find(|f| mentions(f, "oslo"))
        .unwrap_or_else(|| panic!("no Oslo fact was learned: {first:?}"))
        .clone();
    assert!(oslo["valid_to"].is_null(), "current: {oslo}");
    let messages = api
        .call(Method::GET, &format!("{base}/messages"), Some(ADMIN), None)
        .await;
    assert_eq!(
        oslo["source_message"], messages.body["messages"][0]["id"],
        "the user's message"
    );

    chat("I moved to Bergen.").await;
    let oslo_id = oslo["id"].clone();
    let all = facts_once(&api, &base, |facts| {
        facts
            .iter()
            .any(|f| f["id"] == oslo_id && !f["valid_to"].is_null())
    })
    .await;
    let old = all
        .iter()
        .find(|f| f["id"] == oslo_id)
        .unwrap_or_else(|| panic!("the Oslo fact is kept: {all:?}"));
    assert!(!old["valid_to"].is_null(), "Oslo was superseded: {all:?}");
    let successor = all
        .iter()
        .find(|f| f["id"] == old["superseded_by"])
        .unwrap_or_else(|| panic!("its successor is stored: {all:?}"));
    assert!(
        successor["valid_to"].is_null(),
        "the successor is current: {successor}"
    );
    assert!(mentions(successor, "bergen"), "{successor}");
    let current = api
        .call(Method::GET, &format!("{base}/facts"), Some(ADMIN), None)
        .await;
    let current = current.body["facts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        current.iter().any(|f| f["id"] == successor["id"]),
        "{current:?}"
    );
    assert!(!current.iter().any(|f| f["id"] == oslo_id), "{current:?}");

    // Each extraction is on the record, in the namespace's `memory` stream.
    let learned = api
        .call(
            Method::GET,
            "/v1/events?stream=memory&type=memory.learned",
            Some(ADMIN),
            None,
        )
        .await;
    let learned = learned.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        learned
            .iter()
            .any(|e| e["data"]["superseded"].as_u64() >= Some(1)),
        "{learned:?}"
    );
}
