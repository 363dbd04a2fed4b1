//! A cross-encoder in the catalogue (`kind = "rerank"`, found by its rank pooling in the
//! models directory): `/v1/rerank` and the search's rerank stage score with it — the same
//! scores llama-server gives for the same GGUF — and it embeds nothing. The model is MiniLM
//! written as a cross-encoder with a fixed head (`scripts/models.sh minilm-rerank`): no real
//! cross-encoder can be had here, so its scores are checked for agreement, not relevance.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use sp_core::catalogue::{ModelEntry, ModelKind};

use crate::support::{ADMIN, Api};

fn reference() -> Value {
    serde_json::from_str(include_str!(
        "../../../sp-llm/tests/fixtures/cross-encoder-reference.json"
    ))
    .expect("reference json")
}

/// Scores by document index from a rerank reply.
fn scores(reply: &Value) -> HashMap<u64, f64> {
    reply["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let score = r["relevance_score"].as_f64().expect("score");
            (r["index"].as_u64().expect("index"), score)
        })
        .collect()
}

fn assert_reference_scores(got: &HashMap<u64, f64>, reference: &Value) {
    for (i, want) in reference["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .enumerate()
    {
        let want = want.as_f64().expect("a number");
        let got = got
            .get(&(i as u64))
            .copied()
            .expect("every document scored");
        assert!(
            (got - want).abs() < 5e-4,
            "document {i}: {got} against llama-server's {want}"
        );
    }
}

#[tokio::test]
async fn a_cross_encoder_scores_rerank_and_search_as_llama_server_does() {
    let _gate = sp_tests::model_gate().await;
    let models = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        sp_tests::service_url("SP_TEST_CROSS_ENCODER"),
        models.path().join("judge.gguf"),
    )
    .expect("copy the cross-encoder");
    let embedder = sp_tests::service_url("SP_TEST_EMBEDDER");
    let models_dir = models.path().to_path_buf();
    let api = Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |config| {
        config.model.embedding_path = Some(embedder.into());
        config.model.models_dir = Some(models_dir);
    })
    .await;
    let card = api
        .call(Method::GET, "/v1/models/judge", Some(ADMIN), None)
        .await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.text);
    assert_eq!(card.body["kind"], "rerank", "{}", card.text);

    let token = api
        .key(&["inference", "documents:read", "documents:write"], None)
        .await;
    let t = Some(token.as_str());
    let reference = reference();
    // Without "model", /v1/rerank uses the catalogue's rerank model.
    let body = json!({"query": reference["query"], "documents": reference["documents"]});
    let reply = api.call(Method::POST, "/v1/rerank", t, Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["model"], "judge", "{}", reply.text);
    assert_reference_scores(&scores(&reply.body), &reference);
    // A cross-encoder reads the query with every document: its tokens are charged each time.
    let query_tokens = 6; // "feline resting on a rug" in MiniLM's vocabulary
    assert!(
        reply.body["usage"]["prompt_tokens"].as_u64().unwrap_or(0) >= 4 * query_tokens,
        "{}",
        reply.text
    );
    // It makes no embeddings.
    let embed = json!({"input": "a cat", "model": "judge"});
    let refused = api
        .call(Method::POST, "/v1/embeddings", t, Some(embed))
        .await;
    assert_eq!(refused.code(), "SP-VAL-001", "{}", refused.text);

    // The search's rerank stage: retrieved by MiniLM, rescored by the cross-encoder.
    for document in reference["documents"].as_array().expect("documents") {
        let title = document
            .as_str()
            .expect("text")
            .split(' ')
            .nth(1)
            .unwrap_or("doc");
        let made = api
            .call(
                Method::POST,
                "/v1/documents",
                t,
                Some(json!({"title": title, "content": document})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    }
    let search = json!({"query": reference["query"], "k": 4, "mode": "vector",
        "rerank": {"model": "judge", "top_n": 4}});
    let found = api.call(Method::POST, "/v1/search", t, Some(search)).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let texts: Vec<&str> = reference["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d.as_str().expect("text"))
        .collect();
    let by_index: HashMap<u64, f64> = found.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|hit| {
            let text = hit["text"].as_str().expect("section text");
            let index = texts.iter().position(|t| *t == text).expect("a known text");
            (index as u64, hit["score"].as_f64().expect("score"))
        })
        .collect();
    assert_reference_scores(&by_index, &reference);
}

#[tokio::test]
async fn a_rerank_entry_whose_gguf_embeds_fails_its_own_requests() {
    let _gate = sp_tests::model_gate().await;
    let embedder = sp_tests::service_url("SP_TEST_EMBEDDER");
    let api = Api::start(None, |config| {
        config.models = vec![ModelEntry {
            kind: ModelKind::Rerank,
            ..ModelEntry::new("not-a-judge", &embedder)
        }];
        config.model.embedding_path = Some(embedder.clone().into());
    })
    .await;
    let token = api.key(&["inference"], None).await;
    let body = json!({"model": "not-a-judge", "query": "a cat", "documents": ["a kitten"]});
    let wrong = api
        .call(Method::POST, "/v1/rerank", Some(token.as_str()), Some(body))
        .await;
    assert_eq!(wrong.code(), "SP-LLM-003", "{}", wrong.text);
    assert!(wrong.text.contains("cross-encoder"), "{}", wrong.text);
    // The embedding model still scores.
    let body =
        json!({"model": "all-MiniLM-L6-v2.f16", "query": "a cat", "documents": ["a kitten"]});
    let scored = api
        .call(Method::POST, "/v1/rerank", Some(token.as_str()), Some(body))
        .await;
    assert_eq!(scored.status, StatusCode::OK, "{}", scored.text);
}
