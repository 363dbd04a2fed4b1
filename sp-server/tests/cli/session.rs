//! `sp workflows` and `sp chat` against a running server: a workflow defined over HTTP is
//! listed, run to its end with `--wait` and found among the runs; a chat read from stdin
//! streams the model's replies into a new context, and `--context` continues it.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use super::process::{drain, run, sp, start};

const ADMIN: &str = "session-admin-key-3b7e9d2a5c1f";

fn chat(cmd: &mut Command, args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let mut child = cmd
        .args(["chat", "--max-tokens", "8"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sp chat");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("sp chat");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_are_listed_and_run_and_a_chat_streams_into_a_context() {
    let _gate = sp_tests::model_gate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (_server, addr, log) = start(
        sp(&data)
            .env("SP_AUTH__ADMIN_KEY", ADMIN)
            .env("SP_MODEL__PATH", sp_tests::service_url("SP_TEST_MODEL")),
    );
    let _log = drain(log);
    let client = || {
        let mut cmd = sp(&data);
        cmd.env("SP_URL", format!("http://{addr}"))
            .env("SP_API_KEY", ADMIN);
        cmd
    };

    let auth = format!("Bearer {ADMIN}");
    let reply = sp_tests::http(
        &addr,
        "POST",
        "/v1/workflows",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        br#"{"name": "checks", "description": "one condition",
            "steps": [{"id": "c", "kind": "condition", "value": 1, "equals": 1}]}"#,
    )
    .await
    .expect("define");
    assert!(reply.status < 300, "{}", reply.body);

    let (code, out, err) = run(&mut client(), &["workflows", "list"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("checks ") && l.contains("one condition")),
        "{out}"
    );

    let (code, out, err) = run(
        &mut client(),
        &["workflows", "run", "checks", "--wait", "--json"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let finished: serde_json::Value = serde_json::from_str(&out).expect("--json");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let id = finished["id"].as_str().expect("run id").to_owned();

    let (code, out, err) = run(
        &mut client(),
        &["workflows", "runs", "--workflow", "checks"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&id) && out.contains("succeeded"), "{out}");
    let (code, _, err) = run(&mut client(), &["workflows", "run", "missing"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SP-"), "the API's code: {err}");

    // Two turns into a new context, then a third continuing it.
    let (code, out, err) = chat(
        &mut client(),
        &["--title", "cli chat"],
        "Say hello.\n\nCount to three.\n",
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "two replies: {out:?}"
    );
    let context = err
        .split_whitespace()
        .nth(1)
        .expect("the context id on stderr")
        .to_owned();
    let (code, out, err) = chat(&mut client(), &["--context", &context], "And again.\n");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.trim().is_empty(), "a reply: {out:?}");
    let messages = sp_tests::http(
        &addr,
        "GET",
        &format!("/v1/contexts/{context}/messages"),
        &[("authorization", &auth)],
        b"",
    )
    .await
    .expect("messages");
    assert_eq!(messages.status, 200, "{}", messages.body);
    let stored = messages.json()["messages"].as_array().map_or(0, Vec::len);
    assert_eq!(stored, 6, "three turns, three replies: {}", messages.body);
}
