//! `POST /v1/models/pull` and the models directory: a model found there at start and a model
//! pulled while the server runs both join the catalogue and answer by name; progress comes as
//! server-sent events; a taken name, a wrong checksum, a bad source and unknown fields are
//! refused with their codes; only admins pull.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

/// SmolLM2-135M-Instruct Q4_1's sha256 (scripts/models.sh checks the same).
const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The `data` of every server-sent event named `name`.
fn events(text: &str, name: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|block| block.lines().any(|line| line == format!("event: {name}")))
        .filter_map(|block| {
            let data = block.lines().find_map(|line| line.strip_prefix("data: "))?;
            serde_json::from_str(data).ok()
        })
        .collect()
}

async fn ids(api: &Api) -> Vec<String> {
    let listed = api.call(Method::GET, "/v1/models", Some(ADMIN), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    listed.body["data"]
        .as_array()
        .map(|cards| {
            cards
                .iter()
                .filter_map(|card| Some(card["id"].as_str()?.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn models_found_at_start_and_pulled_while_running_answer_by_name() {
    // It runs inference: two engines spinning on two cores slow each other tenfold.
    let _gate = sp_tests::model_gate().await;
    let smol = sp_tests::service_url("SP_TEST_MODEL");
    let models = tempfile::tempdir().expect("tempdir");
    // A copy, not a link: a file the configuration already names is not listed twice.
    std::fs::copy(&smol, models.path().join("scanned.gguf")).expect("copy");
    // A file that is not a GGUF sits beside it and is no model at all.
    std::fs::write(models.path().join("notes.txt"), "not a model").expect("write");
    let models_dir = models.path().to_path_buf();
    let api = Api::start(Some(smol.clone()), |config| {
        config.model.models_dir = Some(models_dir);
    })
    .await;
    let listed = ids(&api).await;
    assert!(listed.contains(&"scanned".to_owned()), "{listed:?}");
    assert_eq!(listed.len(), 2, "{listed:?}");

    let inference = api.key(&["inference"], None).await;
    let body = json!({"source": smol, "name": "pulled-smol"});
    let refused = api
        .call(
            Method::POST,
            "/v1/models/pull",
            Some(&inference),
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    let pulled = api
        .call(
            Method::POST,
            "/v1/models/pull",
            Some(ADMIN),
            Some(body.clone()),
        )
        .await;
    assert_eq!(pulled.status, StatusCode::OK, "{}", pulled.text);
    let progress = events(&pulled.text, "progress");
    assert!(!progress.is_empty(), "{}", pulled.text);
    let copied = progress
        .iter()
        .filter(|p| p["phase"] == "copying")
        .filter_map(|p| p["bytes"].as_u64())
        .max();
    let size = std::fs::metadata(&smol).expect("model").len();
    assert_eq!(copied, Some(size), "{progress:?}");
    let done = events(&pulled.text, "done");
    assert_eq!(done.len(), 1, "{}", pulled.text);
    assert_eq!(done[0]["id"], "pulled-smol");
    assert_eq!(done[0]["kind"], "chat");
    assert_eq!(done[0]["state"], "unloaded");
    assert_eq!(done[0]["sha256"], SMOLLM2_SHA256);
    assert!(models.path().join("pulled-smol.gguf").is_file());
    assert!(ids(&api).await.contains(&"pulled-smol".to_owned()));

    for name in ["pulled-smol", "scanned"] {
        let chat = json!({"model": name, "max_tokens": 4,
            "messages": [{"role": "user", "content": "Say hi."}]});
        let reply = api
            .call(
                Method::POST,
                "/v1/chat/completions",
                Some(ADMIN),
                Some(chat),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text);
        assert_eq!(reply.body["model"], name);
    }

    // Without streaming the refusals are plain coded errors.
    let quiet = |mut body: Value| {
        body["stream"] = json!(false);
        body
    };
    let taken = api
        .call(
            Method::POST,
            "/v1/models/pull",
            Some(ADMIN),
            Some(quiet(body.clone())),
        )
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::CONFLICT, "SP-RES-002"),
        "{}",
        taken.text
    );
    let wrong = quiet(json!({"source": smol, "name": "other", "sha256": "0".repeat(64)}));
    let mismatch = api
        .call(Method::POST, "/v1/models/pull", Some(ADMIN), Some(wrong))
        .await;
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "SP-LLM-010"),
        "{}",
        mismatch.text
    );
    assert!(!models.path().join("other.gguf").exists());
    let streamed_refusal = api
        .call(Method::POST, "/v1/models/pull", Some(ADMIN), Some(body))
        .await;
    let errors = events(&streamed_refusal.text, "error");
    assert_eq!(errors.len(), 1, "{}", streamed_refusal.text);
    assert_eq!(errors[0]["error"]["code"], "SP-RES-002");

    for (bad, code) in [
        (json!({"source": "/no/such/model.gguf"}), "SP-VAL-001"),
        (json!({"source": "ftp://example.org/m.gguf"}), "SP-VAL-001"),
        (json!({"source": smol, "insecure": true}), "SP-REQ-004"),
    ] {
        let reply = api
            .call(
                Method::POST,
                "/v1/models/pull",
                Some(ADMIN),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, code),
            "{bad}: {}",
            reply.text
        );
    }
}
