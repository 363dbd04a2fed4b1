//! KV state on disk with the real model: a conversation's state saved after its turn comes
//! back after a restart (all but its last prompt token restored, the same greedy answer),
//! only within its cache scope; a corrupt or truncated file is discarded and the prompt
//! prefilled; another model never sees the files.

use std::time::Duration;

use sp_core::chat::Sampling;
use sp_llm::{Engine, EngineConfig};

use super::prefix_cache::conversation;

fn config(dir: &std::path::Path) -> EngineConfig {
    EngineConfig::new(super::model_path())
        .with_slots(1)
        .with_context_per_slot(1024)
        .with_kv_state_dir(dir)
}

/// Waits until the engine's writer has `files` state files on disk.
async fn files_on_disk(engine: &Engine, files: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while engine.stats().kv_disk_files != files {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            engine.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "kv") {
                found.push(path);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[tokio::test]
async fn kv_state_survives_a_restart_and_a_bad_file_is_never_trusted() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let messages = conversation("the cellar");
    let acme = Sampling::greedy(16).in_scope("acme");
    let first = {
        let engine = Engine::load(config(dir.path())).expect("loads");
        let done = engine.chat(&messages, &acme).await.expect("chat");
        files_on_disk(&engine, 1).await;
        done
    };
    assert_eq!(first.usage.cached_tokens, 0);

    // A restart: the state comes back from disk.
    let engine = Engine::load(config(dir.path())).expect("loads");
    assert_eq!(engine.stats().kv_disk_files, 1);
    let again = engine.chat(&messages, &acme).await.expect("chat");
    assert_eq!(again.text, first.text, "a restored state answers the same");
    assert_eq!(again.usage.cached_tokens, again.usage.prompt_tokens - 1);
    assert_eq!(engine.stats().kv_disk_hits, 1);
    // Another tenant's identical prompt is prefilled.
    let theirs = engine
        .chat(&messages, &Sampling::greedy(16).in_scope("globex"))
        .await
        .expect("chat");
    assert_eq!(theirs.usage.cached_tokens, 0);
    files_on_disk(&engine, 2).await;
    drop(engine);
    std::fs::remove_dir_all(dir.path()).expect("clear");

    // A corrupt payload: discarded when read, the prompt prefilled, the same answer.
    let engine = Engine::load(config(dir.path())).expect("loads");
    engine.chat(&messages, &acme).await.expect("chat");
    files_on_disk(&engine, 1).await;
    drop(engine);
    let file = state_file(dir.path());
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).expect("write");
    let engine = Engine::load(config(dir.path())).expect("loads");
    let cold = engine.chat(&messages, &acme).await.expect("chat");
    assert_eq!(
        cold.usage.cached_tokens, 0,
        "a corrupt state is never restored"
    );
    assert_eq!(cold.text, first.text);
    assert_eq!(engine.stats().kv_disk_hits, 0);
    // Its replacement is written; a truncated one is dropped as the next engine opens.
    files_on_disk(&engine, 1).await;
    drop(engine);
    let file = state_file(dir.path());
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    let engine = Engine::load(config(dir.path())).expect("loads");
    assert_eq!(engine.stats().kv_disk_files, 0);
    assert!(!file.exists());
    drop(engine);

    // Another model, the same directory: the states are not its own.
    let other = EngineConfig::new(sp_tests::service_url("SP_TEST_SECOND_MODEL"))
        .with_slots(1)
        .with_context_per_slot(1024)
        .with_kv_state_dir(dir.path());
    let engine = Engine::load(other).expect("loads");
    assert_eq!(engine.stats().kv_disk_files, 0);
}

#[tokio::test]
async fn a_deleted_owner_takes_its_state_files_along() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::load(config(dir.path())).expect("loads");
    let owned = |context: &str| Sampling::greedy(4).in_scope("acme").owned_by(context);
    engine
        .chat(&conversation("the cellar"), &owned("context-a"))
        .await
        .expect("chat");
    files_on_disk(&engine, 1).await;
    engine
        .chat(&conversation("the attic"), &owned("context-b"))
        .await
        .expect("chat");
    files_on_disk(&engine, 2).await;

    // Only the owner's files, and only in its scope.
    assert_eq!(engine.forget_cached("globex", "context-a"), 0);
    assert_eq!(engine.forget_cached("acme", "context-a"), 1);
    assert_eq!(engine.stats().kv_disk_files, 1);
    let cold = engine
        .chat(&conversation("the cellar"), &owned("context-c"))
        .await
        .expect("chat");
    // Its state is gone from disk, RAM and the slot: only the few tokens the attic's
    // conversation (in the slot) shares with it are reused.
    assert!(cold.usage.cached_tokens < 16, "{:?}", cold.usage);
    files_on_disk(&engine, 2).await;
    drop(engine);

    // With no engine of the model loaded, the files are found by their names.
    assert_eq!(
        sp_llm::forget_kv_files(dir.path(), "acme", "context-b").expect("forget"),
        1
    );
    let engine = Engine::load(config(dir.path())).expect("loads");
    assert_eq!(engine.stats().kv_disk_files, 1, "context-c's is kept");
    let warm = engine
        .chat(&conversation("the cellar"), &owned("context-c"))
        .await
        .expect("chat");
    assert!(warm.usage.cached_tokens > 0);
}
