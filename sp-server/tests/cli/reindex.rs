//! `sp reindex`: a store made by one embedder moves to another (the hashing embedder to
//! MiniLM, both 384 wide), refused beside a running server, a no-op when already done, and
//! afterwards served by the new model, which finds a paraphrase the old one could not.

use std::process::Output;

use serde_json::{Value, json};

use super::process::{drain, sp, start};

const ADMIN: &str = "reindex-test-admin-key-0123456789";

fn call(addr: &str, method: &str, path: &str, body: &Value) -> Value {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let auth = format!("Bearer {ADMIN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let bytes = serde_json::to_vec(body).expect("json");
    let reply = runtime
        .block_on(sp_tests::http(addr, method, path, &headers, &bytes))
        .expect("request");
    assert!(reply.status < 300, "{method} {path}: {}", reply.status);
    reply.json()
}

fn reindex(dir: &std::path::Path, extra: &[&str]) -> Output {
    sp(dir)
        .arg("reindex")
        .arg("--embedding-model")
        .arg(sp_tests::service_url("SP_TEST_EMBEDDER"))
        .args(extra)
        .output()
        .expect("run sp reindex")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sp_reindex_moves_a_store_to_another_embedding_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without a model, documents are embedded by the hashing embedder.
    let mut hashed = sp(dir.path());
    hashed.env("SP_AUTH__ADMIN_KEY", ADMIN);
    let (server, addr, log) = start(&mut hashed);
    let log = drain(log);
    for (title, content) in sp_tests::PARAPHRASE_DOCUMENTS {
        call(
            &addr,
            "POST",
            "/v1/documents",
            &json!({"title": title, "content": content}),
        );
    }

    // Not beside a server on the same data directory.
    let refused = reindex(dir.path(), &[]);
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("data_dir") && stderr.contains(&format!("pid {}", server.0.id())),
        "{stderr}"
    );
    drop(server);
    assert!(!log.join().expect("log").contains("panicked"));

    let done = reindex(dir.path(), &[]);
    let (stdout, stderr) = text(&done);
    assert!(done.status.success(), "{stderr}");
    assert!(
        stdout.contains("re-embedded 4 sections of 4 documents in 1 namespaces")
            && stdout.contains("hash-v1-384 (384 dimensions) -> all-MiniLM-L6-v2.f16"),
        "{stdout}"
    );
    let again = reindex(dir.path(), &[]);
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stderr}");
    assert!(stdout.contains("nothing to do"), "{stdout}");

    // The store now belongs to MiniLM: it serves, and finds the cat without a shared word.
    let mut minilm = sp(dir.path());
    minilm.env("SP_AUTH__ADMIN_KEY", ADMIN).env(
        "SP_MODEL__EMBEDDING_PATH",
        sp_tests::service_url("SP_TEST_EMBEDDER"),
    );
    let (server, addr, log) = start(&mut minilm);
    let log = drain(log);
    let found = call(
        &addr,
        "POST",
        "/v1/search",
        &json!({"query": sp_tests::PARAPHRASE_QUERY, "k": 4, "mode": "vector"}),
    );
    assert_eq!(found["results"][0]["title"], "Cat", "{found}");
    drop(server);
    assert!(!log.join().expect("log").contains("panicked"));
}
