//! Embeddings on a real model.

use std::time::{Duration, Instant};

use sp_core::{Embedder as _, ErrorCode};
use sp_llm::{EmbeddingModel, Engine, EngineConfig};

fn embedder() -> EmbeddingModel {
    let config = EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL"))
        .with_slots(1)
        .with_context_per_slot(256);
    let engine = Engine::load(config).expect("model");
    EmbeddingModel::new(&engine).expect("embedding worker")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn embeddings_are_unit_length_and_meaningful() {
    let _gate = sp_tests::model_gate().await;
    let embedder = embedder();
    assert_eq!(embedder.dimensions(), 576);
    let texts: Vec<String> = [
        "The cat sat on the mat.",
        "A cat was sitting on the rug.",
        "Quarterly revenue grew by eight percent.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let vectors = embedder.embed(&texts).await.expect("embed");
    assert_eq!(vectors.len(), 3);
    for v in &vectors {
        assert_eq!(v.len(), 576);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let paraphrase = cosine(&vectors[0], &vectors[1]);
    let unrelated = cosine(&vectors[0], &vectors[2]);
    assert!(
        paraphrase > unrelated,
        "paraphrase {paraphrase} vs unrelated {unrelated}"
    );

    // Alone or packed with others into one decode, a text gets its own vector (to float
    // rounding: the batch's size changes the kernels' summation order).
    let again = embedder.embed(&texts[..1]).await.expect("embed");
    let same = cosine(&again[0], &vectors[0]);
    assert!(same > 0.9999, "the same text, alone: cosine {same}");
}

#[tokio::test]
async fn empty_and_over_long_texts_are_refused() {
    let _gate = sp_tests::model_gate().await;
    let embedder = embedder();
    let err = embedder.embed(&[String::new()]).await.expect_err("empty");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    let long = "word ".repeat(5000);
    let err = embedder.embed(&[long]).await.expect_err("too long");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("texts[0]"), "{err}");
    assert!(embedder.embed(&[]).await.expect("nothing to do").is_empty());
}

/// A job whose requester left stops at the next text instead of embedding the rest for
/// nobody (review finding M6): a request sent after it is answered at once.
#[tokio::test]
async fn an_abandoned_job_stops_instead_of_starving_the_next() {
    let model = embedder();
    let texts: Vec<String> = (0..2048).map(|i| format!("text number {i}")).collect();
    let before = sp_llm::abandoned_jobs();
    let gave_up = tokio::time::timeout(Duration::from_millis(20), model.embed(&texts)).await;
    assert!(gave_up.is_err(), "2048 texts take longer than 20 ms");
    let started = Instant::now();
    let next = model.embed(&["after".to_owned()]).await.expect("embedded");
    assert_eq!(next.len(), 1);
    assert!(
        sp_llm::abandoned_jobs() > before,
        "the abandoned job was stopped (the next waited {:?})",
        started.elapsed()
    );
}

/// all-MiniLM-L6-v2 as `scripts/models.sh minilm` makes it, loaded on its own.
fn minilm() -> EmbeddingModel {
    let config = EngineConfig::new(sp_tests::service_url("SP_TEST_EMBEDDER")).with_threads(2);
    EmbeddingModel::load(config).expect("MiniLM")
}

#[tokio::test]
async fn minilm_matches_the_reference_vectors() {
    let _gate = sp_tests::model_gate().await;
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/minilm-reference.json"))
            .expect("reference json");
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("sentence").to_owned())
        .collect();
    let embedder = minilm();
    assert_eq!(embedder.dimensions(), 384);
    // Its trained window, not the 2,048 configured by default.
    assert_eq!(embedder.window(), 512);
    let vectors = embedder.embed(&sentences).await.expect("embed");
    for (i, (got, want)) in vectors
        .iter()
        .zip(reference["embeddings"].as_array().expect("embeddings"))
        .enumerate()
    {
        let want: Vec<f32> = want
            .as_array()
            .expect("vector")
            .iter()
            .map(|x| x.as_f64().expect("number") as f32)
            .collect();
        let norm: f32 = want.iter().map(|x| x * x).sum::<f32>().sqrt();
        let similarity = cosine(got, &want) / norm;
        assert!(similarity >= 0.999, "sentence {i}: cosine {similarity}");
    }
    // Trained for similarity: food is near food, far from physics.
    let to_bread = cosine(&vectors[0], &vectors[1]);
    let to_horse = cosine(&vectors[0], &vectors[2]);
    let to_quarks = cosine(&vectors[0], &vectors[4]);
    assert!(
        to_bread > 0.7 && to_horse < 0.4 && to_quarks < 0.1,
        "{to_bread} {to_horse} {to_quarks}"
    );
}

#[tokio::test]
async fn minilm_refuses_a_text_longer_than_its_window() {
    let _gate = sp_tests::model_gate().await;
    let embedder = minilm();
    let long = vec!["word ".repeat(600)];
    let err = embedder.embed(&long).await.expect_err("past 512 tokens");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(err.to_string().contains("512"), "{err}");
}

/// Concurrent one-sentence requests share decodes, and each gets the vector of its own
/// sentence — the same as that sentence embedded alone.
#[tokio::test]
async fn concurrent_requests_share_decodes_and_keep_their_own_vectors() {
    let _gate = sp_tests::model_gate().await;
    let embedder = minilm();
    let sentences: Vec<String> = (0..24)
        .map(|i| match i % 3 {
            0 => format!("Order {i} shipped from the warehouse on Monday."),
            1 => format!("Sensor {i} reads a temperature far above normal"),
            _ => format!("The committee postponed meeting number {i} until further notice, citing the weather and several absences."),
        })
        .collect();
    let mut alone = Vec::new();
    for sentence in &sentences {
        alone.push(
            embedder
                .embed(std::slice::from_ref(sentence))
                .await
                .expect("alone")
                .remove(0),
        );
    }
    let before = embedder.batch_stats();
    let together = futures::future::join_all(sentences.iter().map(|sentence| {
        let embedder = embedder.clone();
        let sentence = sentence.clone();
        async move { embedder.embed(&[sentence]).await }
    }))
    .await;
    let after = embedder.batch_stats();
    for (i, (got, want)) in together.into_iter().zip(&alone).enumerate() {
        let got = got.expect("embedded").remove(0);
        let similarity = cosine(&got, want);
        assert!(
            similarity > 0.9999,
            "request {i} got cosine {similarity} to its own sentence"
        );
    }
    let decodes = after.decodes - before.decodes;
    assert_eq!(after.texts - before.texts, 24);
    assert!(
        decodes < 24 / 2,
        "24 concurrent requests took {decodes} decodes"
    );
}

/// One request's texts of mixed lengths are packed (shortest first) and come back in the
/// order they were given.
#[tokio::test]
async fn a_request_of_mixed_lengths_comes_back_in_order() {
    let _gate = sp_tests::model_gate().await;
    let embedder = minilm();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("item {i} {}", "and more words ".repeat(i % 7 * 10)))
        .collect();
    let before = embedder.batch_stats();
    let vectors = embedder.embed(&texts).await.expect("embed");
    let after = embedder.batch_stats();
    assert!(
        after.decodes - before.decodes < 40,
        "packed, not one decode per text"
    );
    for i in [0, 13, 39] {
        let alone = embedder.embed(&texts[i..=i]).await.expect("alone");
        let similarity = cosine(&alone[0], &vectors[i]);
        assert!(similarity > 0.9999, "text {i}: cosine {similarity}");
    }
}

#[path = "embeddings/cross_encoder.rs"]
mod cross_encoder;
