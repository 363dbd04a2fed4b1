//! `sp status` against a running server: its health and checks as a table, the same as JSON,
//! and exit status 1 with a message when nothing answers.

use super::process::{drain, sp, start};

const ADMIN: &str = "status-admin-key-8d3f1b6a2c9e";

#[test]
fn status_reports_a_running_server_and_fails_on_a_silent_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr, log) = start(sp(dir.path()).env("SP_AUTH__ADMIN_KEY", ADMIN));
    let _log = drain(log);
    let url = format!("http://{addr}");
    let run = |args: &[&str]| {
        let output = sp(dir.path())
            .args(["status", "--server", &url, "--api-key", ADMIN])
            .args(args)
            .output()
            .expect("run sp");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("at {url}: healthy")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("sqlite") && l.contains(" up ")),
        "{out}"
    );
    assert!(out.contains("queue: no chat model loaded"), "{out}");
    let (code, out, _) = run(&["--json"]);
    assert_eq!(code, Some(0));
    let status: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        status["health"]["checks"]["sqlite"]["status"], "up",
        "{status}"
    );
    assert_eq!(status["url"], url.as_str());

    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nobody = format!("http://{}", silent.local_addr().expect("addr"));
    drop(silent);
    let output = sp(dir.path())
        .args(["status", "--server", &nobody])
        .output()
        .expect("run sp");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no server answers"), "{err}");
}
