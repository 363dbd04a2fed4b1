//! `/v1/rerank` scored by MiniLM (the embedding model as a bi-encoder: no cross-encoder GGUF
//! can be had here), and its refusals.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;

const MINILM_ID: &str = "all-MiniLM-L6-v2.f16";

async fn with_minilm() -> Api {
    let embedder = sp_tests::service_url("SP_TEST_EMBEDDER");
    Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |config| {
        config.model.embedding_path = Some(embedder.into());
    })
    .await
}

fn indices(reply: &Value) -> Vec<u64> {
    reply["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["index"].as_u64().expect("index"))
        .collect()
}

#[tokio::test]
async fn the_paraphrased_document_comes_first_and_scores_descend() {
    let _gate = sp_tests::model_gate().await;
    let api = with_minilm().await;
    let token = api.key(&["inference"], None).await;
    let t = Some(token.as_str());
    let documents = json!([
        "Quarterly revenue grew by eight percent.",
        {"text": "The cat sat on the mat."},
        "The harbour took in supplies and the wind held.",
        "Replace the spark plugs every thirty thousand miles.",
    ]);
    let reply = api
        .call(
            Method::POST,
            "/v1/rerank",
            t,
            Some(
                json!({"query": "feline resting on a rug", "documents": documents,
                "top_n": 2, "return_documents": true}),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["model"], MINILM_ID, "{}", reply.text);
    assert_eq!(indices(&reply.body).len(), 2, "{}", reply.text);
    assert_eq!(indices(&reply.body)[0], 1, "{}", reply.text);
    assert_eq!(
        reply.body["results"][0]["document"]["text"],
        "The cat sat on the mat."
    );
    let scores: Vec<f64> = reply.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["relevance_score"].as_f64().expect("score"))
        .collect();
    assert!(scores[0] > scores[1], "{}", reply.text);
    assert!(
        reply.body["usage"]["total_tokens"].as_u64().unwrap_or(0) > 10,
        "{}",
        reply.text
    );

    // All documents when top_n is absent, and no text unless asked for.
    let all = api
        .call(
            Method::POST,
            "/v1/rerank",
            t,
            Some(json!({"model": MINILM_ID, "query": "engine maintenance",
                "documents": documents})),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let mut order = indices(&all.body);
    assert_eq!(order[0], 3, "{}", all.text);
    order.sort_unstable();
    assert_eq!(order, [0, 1, 2, 3]);
    assert!(all.body["results"][0].get("document").is_none());
}

#[tokio::test]
async fn bad_rerank_requests_are_refused_with_codes() {
    let _gate = sp_tests::model_gate().await;
    let api = with_minilm().await;
    let token = api.key(&["inference"], None).await;
    let t = Some(token.as_str());
    let long = "word ".repeat(600);
    let chat_path = sp_tests::service_url("SP_TEST_MODEL");
    let chat_model = std::path::Path::new(&chat_path)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .expect("the chat model's file name");
    for (body, status, code) in [
        (
            json!({"query": "q", "documents": ["a"], "rank_fields": ["text"]}),
            StatusCode::BAD_REQUEST,
            "SP-REQ-004",
        ),
        (
            json!({"query": "q", "documents": []}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
        (
            json!({"query": "q", "documents": ["a", ""]}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
        (
            json!({"query": " ", "documents": ["a"]}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
        (
            json!({"query": "q", "documents": ["a"], "top_n": 0}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
        (
            json!({"query": "q", "documents": ["a", long]}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
        (
            json!({"model": "no-such-model", "query": "q", "documents": ["a"]}),
            StatusCode::NOT_FOUND,
            "SP-LLM-007",
        ),
        (
            json!({"model": chat_model, "query": "q", "documents": ["a"]}),
            StatusCode::BAD_REQUEST,
            "SP-VAL-001",
        ),
    ] {
        let reply = api
            .call(Method::POST, "/v1/rerank", t, Some(body.clone()))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body}: {}",
            reply.text
        );
    }
    let long_reply = api
        .call(
            Method::POST,
            "/v1/rerank",
            t,
            Some(json!({"query": "q", "documents": ["a", long]})),
        )
        .await;
    assert!(
        long_reply.text.contains("documents[1]"),
        "{}",
        long_reply.text
    );

    let reader = api.key(&["documents:read"], None).await;
    let refused = api
        .call(
            Method::POST,
            "/v1/rerank",
            Some(reader.as_str()),
            Some(json!({"query": "q", "documents": ["a"]})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
}
