//! `/v1/messages` without a model: what it refuses, and that every refusal — the route's,
//! the gateway's, the JSON extractor's — is in Anthropic's error shape with our code inside.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

fn question() -> Value {
    json!([{"role": "user", "content": "Hi"}])
}

async fn refused(api: &Api, body: Value) -> (StatusCode, Value) {
    let reply = api
        .call(Method::POST, "/v1/messages", Some(ADMIN), Some(body))
        .await;
    (reply.status, reply.body)
}

fn assert_anthropic_error(body: &Value, kind: &str, code: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn bad_requests_are_refused_in_anthropics_shape_with_our_codes() {
    let api = Api::start(None, |_| {}).await;
    let cases = [
        // Anthropic requires max_tokens; so do we.
        (json!({"model": "m", "messages": question()}), "max_tokens"),
        (
            json!({"model": "m", "max_tokens": 8, "messages": []}),
            "messages",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": [{"role": "system", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": question(),
                "thinking": {"type": "enabled", "budget_tokens": 1024}}),
            "thinking",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": question(),
                "tool_choice": {"type": "any"}}),
            "tool_choice",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": question(),
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": question(), "temperature": 1.5}),
            "temperature",
        ),
        (
            json!({"model": "m", "max_tokens": 8, "messages": question(),
                "output_config": {"effort": "high"}}),
            "output_config.effort",
        ),
    ];
    for (body, field) in cases {
        let (status, reply) = refused(&api, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_anthropic_error(&reply, "invalid_request_error", "SP-VAL-001");
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{field}: {reply}"
        );
    }
    // A well-formed request for a model the server does not have.
    let (status, reply) = refused(
        &api,
        json!({"model": "m", "max_tokens": 8, "messages": question()}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
    assert_anthropic_error(&reply, "not_found_error", "SP-LLM-007");
}

#[tokio::test]
async fn the_gateways_refusals_speak_anthropic_too() {
    let api = Api::start(None, |_| {}).await;
    // No credential (Anthropic's clients send `x-api-key`; a wrong one is 401).
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages/count_tokens")
        .header("x-api-key", "wrong")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"model": "m", "messages": question()}).to_string(),
        ))
        .expect("request");
    let reply = api.send(request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_anthropic_error(&reply.body, "authentication_error", "SP-AUTH-001");
    // A key without the inference scope.
    let key = api.key(&["events"], None).await;
    let reply = api
        .call(
            Method::POST,
            "/v1/messages",
            Some(&key),
            Some(json!({"model": "m", "max_tokens": 8, "messages": question()})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_anthropic_error(&reply.body, "permission_error", "SP-AUTH-002");
    // Not JSON.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let reply = api.send(request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.body["type"], "error", "{}", reply.text);
    // Other routes keep our envelope.
    let reply = api
        .call(Method::GET, "/v1/nothing", Some(ADMIN), None)
        .await;
    assert!(reply.body.get("type").is_none(), "{}", reply.text);
}
