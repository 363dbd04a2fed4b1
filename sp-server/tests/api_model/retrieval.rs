//! Context chat retrieves documents into the prompt only for a caller that may read them
//! (review finding M5: `contexts` + `inference` used to be enough to have the model repeat
//! any document of the namespace).

use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn retrieval_needs_documents_read() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let writer = api.key(&["documents:write"], None).await;
    let doc = json!({"title": "Vault", "content": "The vault code of the harbour office is 4711."});
    let ingested = api
        .call(Method::POST, "/v1/documents", Some(&writer), Some(doc))
        .await;
    assert_eq!(ingested.status, StatusCode::CREATED, "{}", ingested.text);

    let mut passages = Vec::new();
    for scopes in [
        vec!["contexts", "inference"],
        vec!["contexts", "inference", "documents:read"],
    ] {
        let token = api.key(&scopes, None).await;
        let t = Some(token.as_str());
        let ctx = api
            .call(Method::POST, "/v1/contexts", t, Some(json!({})))
            .await;
        assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
        let id = ctx.body["id"].as_str().expect("id").to_owned();
        let turn =
            json!({"content": "What is the vault code of the harbour office?", "max_tokens": 4});
        let reply = api
            .call(
                Method::POST,
                &format!("/v1/contexts/{id}/chat"),
                t,
                Some(turn),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        passages.push(reply.body["passages"].as_u64().expect("passages"));
    }
    assert_eq!(passages[0], 0, "no documents:read, nothing retrieved");
    assert!(
        passages[1] > 0,
        "with documents:read the passage is retrieved: {passages:?}"
    );
}

/// A streamed context turn: `prompt`, `delta`s whose text makes the reply, `done` with the
/// stored reply, then `[DONE]`; the reply is in the context afterwards, once.
#[tokio::test]
async fn a_streamed_context_turn_stores_what_it_sent() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let token = api.key(&["contexts", "inference"], None).await;
    let t = Some(token.as_str());
    let ctx = api
        .call(Method::POST, "/v1/contexts", t, Some(json!({})))
        .await;
    let id = ctx.body["id"].as_str().expect("id").to_owned();
    let turn = json!({"content": "Say hello.", "max_tokens": 6, "stream": true});
    let reply = api
        .call(
            Method::POST,
            &format!("/v1/contexts/{id}/chat"),
            t,
            Some(turn),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let events: Vec<&str> = reply
        .text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{}", reply.text);
    let parsed: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("json event"))
        .collect();
    assert_eq!(parsed[0]["type"], "prompt", "{}", reply.text);
    assert!(parsed[0]["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    let done = parsed.last().expect("done");
    assert_eq!(done["type"], "done", "{}", reply.text);
    let streamed: String = parsed
        .iter()
        .filter(|e| e["type"] == "delta")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(
        done["reply"]["content"],
        streamed.as_str(),
        "{}",
        reply.text
    );
    assert!(
        done["usage"]["completion_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    let messages = api
        .call(Method::GET, &format!("/v1/contexts/{id}/messages"), t, None)
        .await;
    let stored = messages.body["messages"].as_array().expect("messages");
    let roles: Vec<&str> = stored.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant"], "{}", messages.text);
    assert_eq!(stored[1]["content"], streamed.as_str());
}
