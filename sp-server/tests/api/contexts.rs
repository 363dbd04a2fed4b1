//! Contexts, messages, memory, fork.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn contexts_messages_memory_and_fork() {
    let api = Api::start(None, |_| {}).await;
    let token = api.key(&["contexts"], None).await;
    let t = Some(token.as_str());
    let ctx = api
        .call(
            Method::POST,
            "/v1/contexts",
            t,
            Some(json!({"system_prompt": "Be brief.", "title": "trip"})),
        )
        .await;
    assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
    let id = ctx.body["id"].as_str().expect("id").to_owned();
    let base = format!("/v1/contexts/{id}");
    let first = api
        .call(
            Method::POST,
            &format!("{base}/messages"),
            t,
            Some(json!({"role": "user", "content": "hello"})),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["seq"], 1);
    let call = json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Brest"}}]});
    assert_eq!(
        api.call(Method::POST, &format!("{base}/messages"), t, Some(call))
            .await
            .status,
        StatusCode::CREATED
    );
    let result = json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"});
    assert_eq!(
        api.call(Method::POST, &format!("{base}/messages"), t, Some(result))
            .await
            .status,
        StatusCode::CREATED
    );
    let orphan = json!({"role": "tool", "tool_call_id": "c9", "content": "?"});
    let reply = api
        .call(Method::POST, &format!("{base}/messages"), t, Some(orphan))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "SP-CTX-002")
    );
    let wizard = json!({"role": "wizard", "content": "x"});
    let reply = api
        .call(Method::POST, &format!("{base}/messages"), t, Some(wizard))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "SP-REQ-004")
    );

    let listed = api
        .call(
            Method::GET,
            &format!("{base}/messages?after=1&limit=10"),
            t,
            None,
        )
        .await;
    let seqs: Vec<u64> = listed.body["messages"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 3]);

    let memory = api
        .call(
            Method::PUT,
            &format!("{base}/memory/persona"),
            t,
            Some(json!({"content": "Likes sailing.", "limit_chars": 20})),
        )
        .await;
    assert_eq!(memory.status, StatusCode::OK, "{}", memory.text);
    let too_big = api
        .call(
            Method::PUT,
            &format!("{base}/memory/persona"),
            t,
            Some(json!({"content": "x".repeat(21), "limit_chars": 20})),
        )
        .await;
    assert_eq!(
        (too_big.status, too_big.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "SP-CTX-003")
    );
    let blocks = api
        .call(Method::GET, &format!("{base}/memory"), t, None)
        .await;
    assert_eq!(blocks.body["blocks"][0]["content"], "Likes sailing.");

    let message_id = first.body["id"].as_str().expect("id");
    let fork = api
        .call(
            Method::POST,
            &format!("{base}/fork"),
            t,
            Some(json!({"message_id": message_id})),
        )
        .await;
    assert_eq!(fork.status, StatusCode::CREATED, "{}", fork.text);
    assert_eq!(fork.body["message_count"], 1);
    let unknown = api
        .call(
            Method::POST,
            &format!("{base}/fork"),
            t,
            Some(json!({"message_id": sp_core::Id::new().to_string()})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // Chat needs a model: a clear 503 here, and nothing stored.
    let chat = api
        .call(
            Method::POST,
            &format!("{base}/chat"),
            t,
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_eq!(
        chat.status,
        StatusCode::FORBIDDEN,
        "contexts alone may not run inference"
    );
    let both = api.key(&["contexts", "inference"], None).await;
    let chat = api
        .call(
            Method::POST,
            &format!("{base}/chat"),
            Some(&both),
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_eq!(
        (chat.status, chat.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "SP-GEN-002")
    );
    let ctx = api.call(Method::GET, &base, t, None).await;
    assert_eq!(ctx.body["message_count"], 3);
    assert_eq!(
        api.call(Method::DELETE, &base, t, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(Method::GET, &base, t, None).await.status,
        StatusCode::NOT_FOUND
    );
}
