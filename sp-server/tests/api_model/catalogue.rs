//! The model catalogue over HTTP: several models resident and answering by name, keep-alive,
//! eviction under a memory budget, refusal with Retry-After, single-flight loads, a corrupt
//! file that fails only its own requests, load/unload for admins and their events.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sp_core::catalogue::{KeepAlive, ModelEntry};

use crate::support::{ADMIN, Api};

const SMOLLM2: &str = "SmolLM2-135M-Instruct.Q4_1";
/// What the process takes besides its models (docs/models.md: a server measured 64 MiB; a
/// test binary holds more).
const PROCESS_MARGIN: u64 = 256 << 20;

/// This process's resident set (`VmRSS`).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// SmolLM2 (`model.path`: the default, pinned) and MiniLM (`model.embedding_path`), plus
/// on-demand entries: gemma-3-270m (alias `gemma3`), a second SmolLM2 (`smol-b`) and a
/// corrupt file (`broken`); `budget_mib` caps them all.
async fn catalogue_api(budget_mib: Option<u64>, dir: &std::path::Path) -> Api {
    let broken = dir.join("broken.gguf");
    // A GGUF's magic, then garbage: it passes the first check and fails in llama.cpp.
    std::fs::write(&broken, b"GGUF\x03\x00\x00\x00garbage, not tensors").expect("write");
    let embedder = sp_tests::service_url("SP_TEST_EMBEDDER");
    let gemma = sp_tests::service_url("SP_TEST_SECOND_MODEL");
    let smol = sp_tests::service_url("SP_TEST_MODEL");
    Api::start(Some(smol.clone()), |config| {
        config.model.embedding_path = Some(embedder.into());
        config.model.memory_budget_mib = budget_mib;
        let small = |name: &str, path: &str| ModelEntry {
            slots: Some(1),
            context_per_slot: Some(512),
            ..ModelEntry::new(name, path)
        };
        config.models = vec![
            ModelEntry {
                aliases: vec!["gemma3".into()],
                ..small("gemma", &gemma)
            },
            small("smol-b", &smol),
            small("broken", &broken.to_string_lossy()),
        ];
    })
    .await
}

async fn cards(api: &Api) -> Vec<Value> {
    let listed = api.call(Method::GET, "/v1/models", Some(ADMIN), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    listed.body["data"].as_array().cloned().unwrap_or_default()
}

async fn card(api: &Api, name: &str) -> Value {
    let found = api
        .call(
            Method::GET,
            &format!("/v1/models/{name}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    found.body
}

async fn complete(api: &Api, model: &str, keep_alive: Option<Value>) -> crate::support::Reply {
    let mut body = json!({"model": model, "prompt": "The capital of France is", "max_tokens": 3, "temperature": 0});
    if let Some(keep_alive) = keep_alive {
        body["keep_alive"] = keep_alive;
    }
    api.call(Method::POST, "/v1/completions", Some(ADMIN), Some(body))
        .await
}

#[tokio::test]
async fn several_models_answer_by_name_and_a_corrupt_one_fails_alone() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let api = catalogue_api(None, dir.path()).await;

    let listed = cards(&api).await;
    let states: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|c| {
            let field = |key: &str| c[key].as_str().unwrap_or("");
            (field("id"), field("kind"), field("state"))
        })
        .collect();
    assert_eq!(
        states,
        [
            (SMOLLM2, "chat", "loaded"),
            ("all-MiniLM-L6-v2.f16", "embedding", "loaded"),
            ("gemma", "chat", "unloaded"),
            ("smol-b", "chat", "unloaded"),
            ("broken", "chat", "unloaded"),
        ]
    );
    let gemma = &listed[2];
    assert_eq!(gemma["aliases"], json!(["gemma3"]));
    let memory = &gemma["memory"];
    assert!(
        memory["weights"].as_u64().unwrap_or(0) > 200 << 20
            && memory["total"].as_u64() > memory["weights"].as_u64(),
        "{gemma}"
    );
    assert!(
        gemma["size_bytes"].as_u64().unwrap_or(0) > 250_000_000,
        "{gemma}"
    );
    assert!(
        listed[4]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        listed[4]
    );

    // Three models answer by name (and alias), side by side.
    let by_alias = complete(&api, "gemma3", None).await;
    assert_eq!(by_alias.status, StatusCode::OK, "{}", by_alias.text);
    assert_eq!(by_alias.body["model"], "gemma");
    let smol = complete(&api, SMOLLM2, None).await;
    assert_eq!(
        (smol.status, smol.body["model"].as_str()),
        (StatusCode::OK, Some(SMOLLM2))
    );
    let embedded = api
        .call(
            Method::POST,
            "/v1/embeddings",
            Some(ADMIN),
            Some(json!({"model": "all-MiniLM-L6-v2.f16", "input": "a cat"})),
        )
        .await;
    assert_eq!(embedded.status, StatusCode::OK, "{}", embedded.text);
    assert_eq!(
        embedded.body["data"][0]["embedding"]
            .as_array()
            .map(Vec::len),
        Some(384)
    );
    let gemma = card(&api, "gemma3").await;
    assert_eq!(
        (gemma["state"].as_str(), gemma["loads"].as_u64()),
        (Some("loaded"), Some(1))
    );
    assert!(gemma["chat_template"].is_object(), "{gemma}");

    // Unknown names list the catalogue; the corrupt file fails its own requests only.
    let unknown = complete(&api, "gpt-4", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "SP-LLM-007")
    );
    assert!(
        unknown.text.contains("gemma") && unknown.text.contains("smol-b"),
        "{}",
        unknown.text
    );
    let broken = complete(&api, "broken", None).await;
    assert_eq!(broken.code(), "SP-LLM-003", "{}", broken.text);
    let wrong_kind = api
        .call(
            Method::POST,
            "/v1/embeddings",
            Some(ADMIN),
            Some(json!({"model": "gemma", "input": "a cat"})),
        )
        .await;
    assert_eq!(wrong_kind.code(), "SP-VAL-001", "{}", wrong_kind.text);
    for model in ["gemma", SMOLLM2] {
        let still = complete(&api, model, None).await;
        assert_eq!(
            still.status,
            StatusCode::OK,
            "{model} after the failed load: {}",
            still.text
        );
    }
}

#[tokio::test]
async fn keep_alive_zero_unloads_and_lifecycle_steps_are_events() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let api = catalogue_api(None, dir.path()).await;
    let once = complete(&api, "gemma", Some(json!(0))).await;
    assert_eq!(once.status, StatusCode::OK, "{}", once.text);
    assert_eq!(card(&api, "gemma").await["state"], "unloaded");

    // Kept (-1): stays after the request; unloaded by hand; loaded by hand.
    let kept = complete(&api, "gemma", Some(json!(-1))).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    let gemma = card(&api, "gemma").await;
    assert_eq!(
        (gemma["state"].as_str(), gemma["keep_alive"].as_str()),
        (Some("loaded"), Some("-1"))
    );
    let unloaded = api
        .call(Method::POST, "/v1/models/gemma/unload", Some(ADMIN), None)
        .await;
    assert_eq!(
        (unloaded.status, unloaded.body["state"].as_str()),
        (StatusCode::OK, Some("unloaded"))
    );
    let loaded = api
        .call(Method::POST, "/v1/models/gemma3/load", Some(ADMIN), None)
        .await;
    assert_eq!(
        (loaded.status, loaded.body["state"].as_str()),
        (StatusCode::OK, Some("loaded"))
    );
    let pinned = api
        .call(
            Method::POST,
            &format!("/v1/models/{SMOLLM2}/unload"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        (pinned.status, pinned.code()),
        (StatusCode::CONFLICT, "SP-RES-002")
    );
    let inference = api.key(&["inference"], None).await;
    let refused = api
        .call(
            Method::POST,
            "/v1/models/gemma/unload",
            Some(&inference),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let bad = complete(&api, "gemma", Some(json!("soon"))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);

    // A timed keep-alive expires on its own.
    let brief = complete(&api, "smol-b", Some(json!("300ms"))).await;
    assert_eq!(brief.status, StatusCode::OK, "{}", brief.text);
    let mut state = String::new();
    for _ in 0..100 {
        state = card(&api, "smol-b").await["state"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if state == "unloaded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        state, "unloaded",
        "smol-b outlived its keep_alive of 300 ms"
    );

    let mut types = Vec::new();
    for _ in 0..100 {
        let events = api
            .call(
                Method::GET,
                "/v1/events?namespace=sp-operator&stream=models",
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(events.status, StatusCode::OK, "{}", events.text);
        types = events.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                e["data"]["model"] != SMOLLM2 && e["data"]["model"] != "all-MiniLM-L6-v2.f16"
            })
            .map(|e| {
                format!(
                    "{} {}",
                    e["type"].as_str().unwrap_or(""),
                    e["data"]["model"].as_str().unwrap_or("")
                )
            })
            .collect();
        if types.len() >= 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        types,
        [
            "model.loaded gemma",
            "model.unloaded gemma",
            "model.loaded gemma",
            "model.unloaded gemma",
            "model.loaded gemma",
            "model.loaded smol-b",
            "model.unloaded smol-b",
        ]
    );
    assert_eq!(
        KeepAlive::parse("300ms").ok(),
        Some(KeepAlive::For(std::time::Duration::from_millis(300)))
    );
}

#[tokio::test]
async fn a_budget_for_one_more_model_evicts_the_idle_one_and_refuses_what_cannot_fit() {
    let _gate = sp_tests::model_gate().await;
    // What the test process holds before this test loads anything: heap the tests before it
    // kept (the allocator does not hand every freed page back), not this test's models.
    let before = resident_bytes();
    let dir = tempfile::tempdir().expect("tempdir");
    // Measure the estimates once, then cap the budget around them.
    let sizes = {
        let api = catalogue_api(None, dir.path()).await;
        let total = |c: &Value| c["memory"]["total"].as_u64().unwrap_or(0);
        let listed = cards(&api).await;
        (
            total(&listed[0]) + total(&listed[1]),
            total(&listed[2]),
            total(&listed[3]),
        )
    };
    let (pinned, gemma, smol_b) = sizes;
    let mib = |bytes: u64| bytes.div_ceil(1 << 20);
    let api = catalogue_api(Some(mib(pinned + gemma.max(smol_b)) + 1), dir.path()).await;
    assert_eq!(complete(&api, "gemma", None).await.status, StatusCode::OK);
    assert_eq!(complete(&api, "smol-b", None).await.status, StatusCode::OK);
    let states = |listed: Vec<Value>| -> Vec<String> {
        listed
            .iter()
            .map(|c| c["state"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        states(cards(&api).await),
        ["loaded", "loaded", "unloaded", "loaded", "unloaded"],
        "gemma (idle) made room for smol-b; the pinned models stayed"
    );
    // The estimates bound what the models really take: what the process grew by while this
    // test ran stays within the budget plus the margin docs/models.md gives for the process
    // itself.
    let budget_bytes = (mib(pinned + gemma.max(smol_b)) + 1) << 20;
    let grown = resident_bytes().saturating_sub(before);
    eprintln!(
        "grew {} MiB (from {} MiB), budget {} MiB",
        grown >> 20,
        before >> 20,
        budget_bytes >> 20
    );
    assert!(
        grown <= budget_bytes + PROCESS_MARGIN,
        "RSS grew {} MiB, past the budget of {} MiB plus the margin",
        grown >> 20,
        budget_bytes >> 20
    );

    // A budget that fits the pinned models only: 503 with Retry-After, nothing loaded.
    let api = catalogue_api(Some(mib(pinned) + 1), dir.path()).await;
    let refused = complete(&api, "gemma", None).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "SP-LLM-008"),
        "{}",
        refused.text
    );
    assert!(
        refused.headers.contains_key("retry-after"),
        "{:?}",
        refused.headers
    );
    assert_eq!(card(&api, "gemma").await["state"], "unloaded");
    assert_eq!(complete(&api, SMOLLM2, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn twenty_concurrent_first_requests_load_the_model_once() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let api = catalogue_api(None, dir.path()).await;
    let replies = futures::future::join_all((0..20).map(|_| complete(&api, "smol-b", None))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let smol_b = card(&api, "smol-b").await;
    assert_eq!(smol_b["loads"], 1, "{smol_b}");
}
