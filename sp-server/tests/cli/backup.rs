//! `sp backup` / `sp restore` through the binary: a backup of a served store is taken while
//! the server keeps answering (and `--verify` restores it into a scratch folder), restored
//! into another data directory that a new server serves with the same documents; a damaged
//! backup exits 1 with `SP-OPS-001` and restores nothing; a served directory is refused.

use std::process::Output;

use super::process::{Server, drain, sp, start};

const ADMIN: &str = "backup-admin-key-1c9e5a7b3d2f";

fn run(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = sp(dir)
        .env("SP_AUTH__ADMIN_KEY", ADMIN)
        .args(args)
        .output()
        .expect("run sp");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

async fn call(addr: &str, method: &str, path: &str, body: &str) -> serde_json::Value {
    let auth = format!("Bearer {ADMIN}");
    let reply = sp_tests::http(
        addr,
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
    .expect("request");
    assert!(
        reply.status < 300,
        "{path}: {} {}",
        reply.status,
        reply.body
    );
    reply.json()
}

fn serve(dir: &std::path::Path) -> (Server, String, std::thread::JoinHandle<String>) {
    let (server, addr, log) = start(sp(dir).env("SP_AUTH__ADMIN_KEY", ADMIN));
    (server, addr, drain(log))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_store_is_backed_up_and_restored_by_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (server, addr, _log) = serve(&data);
    for title in ["Cats", "Dogs", "Owls"] {
        let body = format!(r#"{{"title": "{title}", "content": "{title} live here."}}"#);
        call(&addr, "POST", "/v1/documents", &body).await;
    }
    let dest = dir.path().join("backup");
    let dest_arg = dest.to_string_lossy().into_owned();
    let (code, out, err) = run(&data, &["backup", &dest_arg, "--verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("backed up: 3 documents"), "{out}");
    assert!(out.contains("verified:"), "{out}");
    // The server kept serving, and a served directory is not restored into.
    let listed = call(&addr, "GET", "/v1/documents", "").await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    let (code, _, err) = run(&data, &["restore", &dest_arg, "--force"]);
    assert_eq!(code, Some(2), "{err}");
    drop(server);

    let (code, out, err) = run(&data, &["restore", &dest_arg, "--check", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let manifest: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(manifest["tables"]["kb_documents"], 3);

    let restored = dir.path().join("restored");
    let (code, out, err) = run(&restored, &["restore", &dest_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("restored: 3 documents"), "{out}");
    let (_server, addr, _log) = serve(&restored);
    let listed = call(&addr, "GET", "/v1/documents", "").await;
    let mut titles: Vec<&str> = listed["items"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|d| d["title"].as_str())
        .collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Cats", "Dogs", "Owls"]);

    // A damaged backup: exit 1, SP-OPS-001, nothing restored.
    let bytes = std::fs::read(dest.join("sp.db")).expect("read");
    std::fs::write(dest.join("sp.db"), &bytes[..bytes.len() - 4096]).expect("truncate");
    let elsewhere = dir.path().join("elsewhere");
    let (code, _, err) = run(&elsewhere, &["restore", &dest_arg]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("SP-OPS-001") && err.contains("truncated"),
        "{err}"
    );
    assert!(!elsewhere.join("sp.db").exists());
}
