//! `sp migrate`: `status` on a new data directory lists every migration pending and creates
//! nothing; `--dry-run` applies none; `sp migrate` applies them; a migration changed after
//! it was applied makes `status`, `migrate` and `serve` exit 2 with `SP-CFG-002`.

use std::process::Output;

use crate::process::sp;

fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = sp(dir).args(args).output().expect("run sp");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[tokio::test]
async fn status_dry_run_migrate_and_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let total = sp_data::SqliteStore::migration_status(dir.path())
        .await
        .expect("status")
        .pending
        .len();
    let (code, out, err) = run(dir.path(), &["migrate", "status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!(" 0 applied, {total} pending")),
        "{out}"
    );
    assert!(out.contains("pending  0001  knowledge"), "{out}");
    assert!(!dir.path().join("sp.db").exists(), "status creates nothing");

    let (code, out, _) = run(dir.path(), &["migrate", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!("would apply {total} migration(s)")),
        "{out}"
    );
    let (_, out, _) = run(dir.path(), &["migrate", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(status["pending"].as_array().map(Vec::len), Some(total));

    let (code, out, err) = run(dir.path(), &["migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("applied {total} migration(s)")),
        "{out}"
    );
    let (_, out, _) = run(dir.path(), &["migrate", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(status["applied"].as_array().map(Vec::len), Some(total));
    assert_eq!(status["pending"], serde_json::json!([]));

    // Migration 3 changed after it was applied.
    let store = sp_data::SqliteStore::open(dir.path()).await.expect("open");
    sqlx::query("UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = 3")
        .execute(store.pool())
        .await
        .expect("tamper");
    store.pool().close().await;
    let (code, out, err) = run(dir.path(), &["migrate", "status"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("CHANGED  0003"), "{out}");
    assert!(err.contains("SP-CFG-002"), "{err}");
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let (code, out, err) = run(dir.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(err.contains("SP-CFG-002"), "{args:?}: {err}");
    }
}
