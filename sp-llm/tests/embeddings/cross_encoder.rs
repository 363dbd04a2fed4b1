//! Cross-encoders (rank pooling): query–document pairs scored by the model's head. No real
//! cross-encoder can be had here, so the test model is MiniLM written as one
//! (`scripts/minilm_gguf.py --cross-encoder`: its BERT pooler and a fixed head); its scores
//! mean nothing about relevance, but they must be llama-server's for the same GGUF
//! (`fixtures/cross-encoder-reference.json`) to 5e-4 — the two run different llama.cpp
//! releases over f16 weights; the documents' scores lie 0.015 apart or more — whatever the
//! batch.

use sp_core::{Embedder as _, ErrorCode};
use sp_llm::{EmbeddingModel, EngineConfig};

fn cross_encoder() -> EmbeddingModel {
    let path = sp_tests::service_url("SP_TEST_CROSS_ENCODER");
    EmbeddingModel::load(EngineConfig::new(path).with_threads(2)).expect("cross-encoder loads")
}

#[tokio::test]
async fn pairs_score_as_llama_server_scores_them_alone_or_batched() {
    let _gate = sp_tests::model_gate().await;
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/cross-encoder-reference.json"))
            .expect("reference json");
    let query = reference["query"].as_str().expect("query");
    let documents: Vec<String> = reference["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d.as_str().expect("text").to_owned())
        .collect();
    let model = cross_encoder();
    assert!(model.is_cross_encoder());
    let scores = model.score_pairs(query, &documents).await.expect("scores");
    assert_eq!(scores.len(), documents.len());
    for (i, want) in reference["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .enumerate()
    {
        let want = want.as_f64().expect("a number") as f32;
        assert!(
            (scores[i] - want).abs() < 5e-4,
            "document {i}: {} against llama-server's {want}",
            scores[i]
        );
    }
    // Alone, a pair gets the score it got among the others (to float rounding: the batch's
    // size changes the kernels' summation order over the f16 weights).
    for (i, document) in documents.iter().enumerate() {
        let alone = model
            .score_pairs(query, std::slice::from_ref(document))
            .await
            .expect("score");
        assert!(
            (alone[0] - scores[i]).abs() < 5e-4,
            "document {i} alone: {}",
            alone[0]
        );
    }
}

#[tokio::test]
async fn a_cross_encoder_does_not_embed_and_an_embedder_does_not_score_pairs() {
    let _gate = sp_tests::model_gate().await;
    let model = cross_encoder();
    let err = model
        .embed(&["a cat".to_owned()])
        .await
        .expect_err("a cross-encoder makes no vectors");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    // A pair longer than the window (512 tokens) is refused whole, naming the document.
    let long = "word ".repeat(600);
    let err = model
        .score_pairs("a query", &["short".to_owned(), long])
        .await
        .expect_err("too long");
    assert!(err.to_string().contains("documents[1]"), "{err}");
    let err = model
        .score_pairs("", &["a cat".to_owned()])
        .await
        .expect_err("an empty query");
    assert_eq!(err.code(), ErrorCode::InvalidInput);

    let embedder =
        EmbeddingModel::load(EngineConfig::new(sp_tests::service_url("SP_TEST_EMBEDDER")))
            .expect("MiniLM");
    assert!(!embedder.is_cross_encoder());
    let err = embedder
        .score_pairs("a cat", &["a kitten".to_owned()])
        .await
        .expect_err("not a cross-encoder");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}
