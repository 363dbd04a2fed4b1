//! `/v1/responses` without a model: what it refuses, with coded 4xx in OpenAI's envelope
//! (tools the server runs included).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, Api};

#[tokio::test]
async fn bad_requests_get_coded_refusals() {
    let api = Api::start(None, |_| {}).await;
    let cases = [
        (json!({"input": ""}), "input"),
        (json!({"input": []}), "input"),
        (
            json!({"input": "hi", "background": true, "store": false}),
            "background",
        ),
        (
            json!({"input": "hi", "background": true, "stream": true}),
            "background",
        ),
        (json!({"input": "hi", "truncation": "auto"}), "truncation"),
        (
            json!({"input": "hi", "reasoning": {"effort": "low"}}),
            "reasoning",
        ),
        (
            json!({"input": [{"type": "reasoning", "summary": []}]}),
            "input[0].type",
        ),
        (
            json!({"input": [{"role": "tool", "content": "x"}]}),
            "input[0].role",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}),
            "input[0].content[0].type",
        ),
        (
            json!({"input": "hi", "tools": [{"type": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"input": "hi", "text": {"format": {"type": "xml"}}}),
            "text.format.type",
        ),
        // Tools the server runs: read strictly, and what their agent run cannot honour is
        // refused rather than ignored.
        (
            json!({"input": "hi", "tools": [{"type": "hub", "name": "a", "tag": "b"}]}),
            "tools[0]",
        ),
        (
            json!({"input": "hi", "tools": [{"type": "function", "name": "f"}, {"type": "builtin", "name": "fact_search"}]}),
            "tools",
        ),
        (
            json!({"input": "hi", "stream": true, "tools": [{"type": "builtin", "name": "fact_search"}]}),
            "stream",
        ),
        (
            json!({"input": "hi", "temperature": 0.2, "tools": [{"type": "builtin", "name": "fact_search"}]}),
            "temperature",
        ),
        (
            json!({"input": "hi", "tool_choice": "sometimes", "tools": [{"type": "builtin", "name": "fact_search"}]}),
            "tool_choice",
        ),
        (
            json!({"input": "hi", "text": {"verbosity": "low"}}),
            "text.verbosity",
        ),
    ];
    for (body, field) in cases {
        let reply = api
            .call(
                Method::POST,
                "/v1/responses",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.code(), "SP-VAL-001", "{body}: {}", reply.text);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{field}: {}",
            reply.text
        );
    }
    for previous in [
        "resp_nothing",
        "resp_0000000000000000000000000000000000000000000000zz",
    ] {
        let reply = api
            .call(
                Method::POST,
                "/v1/responses",
                Some(ADMIN),
                Some(json!({"input": "hi", "previous_response_id": previous})),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "SP-RES-001"),
            "{}",
            reply.text
        );
    }
    for (method, path) in [
        (Method::GET, "/v1/responses/resp_nothing"),
        (Method::POST, "/v1/responses/resp_nothing/cancel"),
    ] {
        let reply = api.call(method, path, Some(ADMIN), None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "SP-RES-001"),
            "{path}: {}",
            reply.text
        );
    }
}
