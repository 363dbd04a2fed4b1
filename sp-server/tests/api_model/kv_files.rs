//! A deleted context takes its KV state files along: each context's turns leave their state
//! on disk (`model.kv_state_dir`), and `DELETE /v1/contexts/{id}` removes that context's
//! files, and no other's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Api;

fn state_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kv") {
                found.push(path);
            }
        }
    }
    found
}

async fn until_files(dir: &Path, count: usize) -> Vec<PathBuf> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let files = state_files(dir);
        if files.len() == count {
            return files;
        }
        assert!(tokio::time::Instant::now() < deadline, "{files:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_deleted_context_takes_its_kv_state_files_along() {
    let _gate = sp_tests::model_gate().await;
    let kv = tempfile::tempdir().expect("tempdir");
    let kv_dir = kv.path().to_path_buf();
    let api = Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |config| {
        config.model.kv_state_dir = Some(kv_dir);
    })
    .await;
    let token = api.key(&["contexts", "inference"], None).await;
    let t = Some(token.as_str());
    let mut ids = Vec::new();
    for (n, place) in ["the cellar", "the attic"].into_iter().enumerate() {
        // Long enough a prompt for its state to be worth a file.
        let notes: String = (1..=12)
            .map(|i| format!("Item {i} of {place} is in drawer {}. ", i * 7))
            .collect();
        let ctx = api
            .call(
                Method::POST,
                "/v1/contexts",
                t,
                Some(json!({"system_prompt": format!("You answer about {place}. {notes}")})),
            )
            .await;
        assert_eq!(ctx.status, StatusCode::CREATED, "{}", ctx.text);
        let id = ctx.body["id"].as_str().expect("id").to_owned();
        let turn = api
            .call(
                Method::POST,
                &format!("/v1/contexts/{id}/chat"),
                t,
                Some(json!({"content": "Where is item 3?", "max_tokens": 4})),
            )
            .await;
        assert_eq!(turn.status, StatusCode::OK, "{}", turn.text);
        until_files(kv.path(), n + 1).await;
        ids.push(id);
    }
    let attics = {
        let all = state_files(kv.path());
        let deleted = api
            .call(Method::DELETE, &format!("/v1/contexts/{}", ids[0]), t, None)
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        let left = state_files(kv.path());
        assert_eq!(
            left.len(),
            1,
            "only the cellar's file goes: {all:?} → {left:?}"
        );
        left
    };
    let deleted = api
        .call(Method::DELETE, &format!("/v1/contexts/{}", ids[1]), t, None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert!(!attics[0].exists());
    assert!(state_files(kv.path()).is_empty());
}
