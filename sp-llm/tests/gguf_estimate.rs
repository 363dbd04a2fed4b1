//! The memory estimate reads real GGUF headers: SmolLM2's shape as llama.cpp reports it, and
//! a corrupt header refused with its code.

use sp_core::ErrorCode;
use sp_core::catalogue::{CatalogueEntry, KeepAlive, ModelKind};
use sp_llm::GgufSummary;

fn entry(path: &str, kind: ModelKind) -> CatalogueEntry {
    CatalogueEntry {
        name: "m".into(),
        aliases: Vec::new(),
        path: path.into(),
        kind,
        slots: 2,
        context_per_slot: 1024,
        threads: None,
        gpu_layers: 0,
        queue_capacity: 8,
        prefix_cache_mib: 0,
        kv_state_dir: None,
        kv_state_mib: 0,
        keep_alive: KeepAlive::default(),
        pinned: false,
    }
}

#[test]
fn smollm2_header_gives_its_shape_and_a_kv_cache_per_slot_and_window() {
    let path = sp_tests::service_url("SP_TEST_MODEL");
    let summary = GgufSummary::read(path.as_ref()).expect("header");
    assert_eq!(summary.architecture, "llama");
    assert_eq!(
        (
            summary.layers,
            summary.embedding_length,
            summary.heads,
            summary.heads_kv
        ),
        (30, 576, 9, 3)
    );
    assert_eq!(summary.vocab_size, 49_152);
    let file = std::fs::metadata(&path).expect("file").len();
    assert!(
        summary.weights_bytes < file && summary.weights_bytes > file / 10 * 9,
        "{} of {file}",
        summary.weights_bytes
    );
    let two = summary.estimate(&entry(&path, ModelKind::Chat));
    let mut four = entry(&path, ModelKind::Chat);
    four.slots = 4;
    let four = summary.estimate(&four);
    // 30 layers × 3 KV heads × (64 + 64) × 2 bytes per cell.
    assert_eq!(two.kv_cache, 2 * 1024 * 30 * 3 * 128 * 2);
    assert_eq!(four.kv_cache, 2 * two.kv_cache);
    assert_eq!(two.total, two.weights + two.kv_cache + two.compute);
    // The RAM prefix cache counts whole, for a chat model only.
    let cached = CatalogueEntry {
        prefix_cache_mib: 64,
        ..entry(&path, ModelKind::Chat)
    };
    let cached = summary.estimate(&cached);
    assert_eq!(cached.prefix_cache, 64 << 20);
    assert_eq!(cached.total, two.total + (64 << 20));
    let embedding = CatalogueEntry {
        prefix_cache_mib: 64,
        ..entry(&path, ModelKind::Embedding)
    };
    assert_eq!(summary.estimate(&embedding).prefix_cache, 0);
}

#[test]
fn a_corrupt_header_is_refused_as_a_model_load_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.gguf");
    std::fs::write(&broken, b"GGUF\x03\x00\x00\x00 not a header").expect("write");
    let err = GgufSummary::read(&broken).expect_err("corrupt");
    assert_eq!(err.code(), ErrorCode::ModelLoad);
    assert!(err.to_string().contains("header"), "{err}");
    let missing = GgufSummary::read(&dir.path().join("absent.gguf")).expect_err("absent");
    assert_eq!(missing.code(), ErrorCode::ModelLoad);
}
