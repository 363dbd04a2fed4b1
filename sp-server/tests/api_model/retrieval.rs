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
