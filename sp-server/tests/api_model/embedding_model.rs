//! A dedicated embedding model (all-MiniLM-L6-v2, `model.embedding_path`) beside the chat
//! model: `/v1/embeddings`, `/v1/models` and the knowledge store use it, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Api;

const MINILM_ID: &str = "all-MiniLM-L6-v2.f16";

/// SmolLM2 for chat and MiniLM for embeddings; on PostgreSQL when `schema` is given.
async fn with_minilm(schema: Option<&str>) -> Api {
    let embedder = sp_tests::service_url("SP_TEST_EMBEDDER");
    let database = schema.map(|schema| (sp_tests::service_url("DATABASE_URL"), schema.to_owned()));
    Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |config| {
        config.model.embedding_path = Some(embedder.into());
        if let Some((url, schema)) = database {
            config.database.url = Some(url);
            config.database.schema = schema;
        }
    })
    .await
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("a vector")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[tokio::test]
async fn embeddings_and_models_come_from_the_dedicated_embedding_model() {
    let _gate = sp_tests::model_gate().await;
    let api = with_minilm(None).await;
    let token = api.key(&["inference"], None).await;
    let t = Some(token.as_str());

    let models = api.call(Method::GET, "/v1/models", t, None).await;
    let kinds: Vec<(&str, &str)> = models.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or(""),
                m["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 2, "{}", models.text);
    assert!(kinds.contains(&(MINILM_ID, "embedding")), "{}", models.text);
    assert!(
        kinds.iter().any(|(_, kind)| *kind == "chat"),
        "{}",
        models.text
    );
    let card = api
        .call(Method::GET, &format!("/v1/models/{MINILM_ID}"), t, None)
        .await;
    assert_eq!(
        (
            card.body["dimensions"].as_u64(),
            card.body["context_length"].as_u64()
        ),
        (Some(384), Some(512))
    );

    let reference: Value = serde_json::from_str(include_str!(
        "../../../sp-llm/tests/fixtures/minilm-reference.json"
    ))
    .expect("reference");
    let input = reference["sentences"].clone();
    let reply = api
        .call(
            Method::POST,
            "/v1/embeddings",
            t,
            Some(json!({"input": input})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["model"], MINILM_ID);
    for (i, want) in reference["embeddings"]
        .as_array()
        .expect("embeddings")
        .iter()
        .enumerate()
    {
        let got = floats(&reply.body["data"][i]["embedding"]);
        assert_eq!(got.len(), 384);
        let similarity = cosine(&got, &floats(want));
        assert!(similarity >= 0.999, "sentence {i}: cosine {similarity}");
    }
    // The chat model is not what embeds here: naming it is an unknown model, not a silent
    // switch to the other one.
    let chat_id = kinds
        .iter()
        .find(|(_, kind)| *kind == "chat")
        .map(|(id, _)| *id)
        .unwrap_or("");
    let named = api
        .call(
            Method::POST,
            "/v1/embeddings",
            t,
            Some(json!({"input": "a cat", "model": chat_id})),
        )
        .await;
    // A chat model does not embed when a dedicated embedding model is there.
    assert_eq!(named.code(), "SP-VAL-001", "{}", named.text);
}

async fn a_paraphrase_is_found_without_a_shared_word(api: &Api) {
    let token = api.key(&["documents:read", "documents:write"], None).await;
    let t = Some(token.as_str());
    for (title, content) in sp_tests::PARAPHRASE_DOCUMENTS {
        let made = api
            .call(
                Method::POST,
                "/v1/documents",
                t,
                Some(json!({"title": title, "content": content})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    }
    let query = json!({"query": sp_tests::PARAPHRASE_QUERY, "k": 4, "mode": "vector"});
    let reply = api.call(Method::POST, "/v1/search", t, Some(query)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["results"][0]["title"], "Cat", "{}", reply.text);

    // The rerank stage: hybrid retrieval (no keyword matches), rescored by MiniLM, best kept.
    let reranked = json!({"query": sp_tests::PARAPHRASE_QUERY, "k": 4,
        "rerank": {"model": MINILM_ID, "top_n": 1}});
    let denied = api
        .call(Method::POST, "/v1/search", t, Some(reranked.clone()))
        .await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "needs inference: {}",
        denied.text
    );
    let both = api.key(&["documents:read", "inference"], None).await;
    let b = Some(both.as_str());
    let reply = api
        .call(Method::POST, "/v1/search", b, Some(reranked))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let results = reply.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{}", reply.text);
    assert_eq!(results[0]["title"], "Cat", "{}", reply.text);
    let too_many = json!({"query": "cat", "k": 2, "rerank": {"top_n": 3}});
    let reply = api
        .call(Method::POST, "/v1/search", b, Some(too_many))
        .await;
    assert_eq!(reply.code(), "SP-VAL-001", "{}", reply.text);
}

#[tokio::test]
async fn semantic_search_on_the_embedded_store() {
    let _gate = sp_tests::model_gate().await;
    a_paraphrase_is_found_without_a_shared_word(&with_minilm(None).await).await;
}

#[tokio::test]
async fn semantic_search_on_postgres() {
    let _gate = sp_tests::model_gate().await;
    let schema = format!("minilm_{}", sp_core::Id::new().as_uuid().simple());
    a_paraphrase_is_found_without_a_shared_word(&with_minilm(Some(&schema)).await).await;
    let pool = sqlx::PgPool::connect(&sp_tests::service_url("DATABASE_URL"))
        .await
        .expect("connect");
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .expect("drop schema");
}
