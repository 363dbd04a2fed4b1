//! A full run of the `sp` binary on PostgreSQL and Redis with its model and every secret
//! configured: a key, a signed-in session and its refresh, then `schemathesis` (written by
//! others) over the whole OpenAPI document — examples, boundary values, random and stateful
//! call sequences. Not one answer is a 5xx, and the server's log (at `debug`) holds none of
//! the secrets: not the admin key, the JWT secret, the database password, a key's token, an
//! access or a refresh token.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use super::process::{Server, sp};

const ADMIN: &str = "full-run-admin-key-5f0e2d9c4b7a";
const JWT_SECRET: &str = "full-run-hs256-secret-8c1b3e6f0a9d2c4e";

async fn post(addr: &str, path: &str, token: &str, body: &str) -> serde_json::Value {
    let auth = format!("Bearer {token}");
    let reply = sp_tests::http(
        addr,
        "POST",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_answers_no_5xx_and_logs_no_secret() {
    let _gate = sp_tests::model_gate().await;
    let database = sp_tests::service_url("DATABASE_URL");
    let password = database
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned())
        .expect("the test database URL carries a password");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = sp(&dir.path().join("data"));
    cmd.env("DATABASE_URL", &database)
        .env("REDIS_URL", sp_tests::service_url("REDIS_URL"))
        .env("SP_AUTH__ADMIN_KEY", ADMIN)
        .env("SP_AUTH__JWT__HS256_SECRET", JWT_SECRET)
        .env("SP_MODEL__PATH", sp_tests::service_url("SP_TEST_MODEL"))
        .env("SP_MODEL__SLOTS", "2")
        // A short window keeps the generations schemathesis asks for short.
        .env("SP_MODEL__CONTEXT_PER_SLOT", "256")
        // schemathesis also sends refused credentials on purpose; past the per-address
        // limit every request of this client would be a 429 and its operation untested.
        .env("SP_AUTH__FAILED_CREDENTIAL_LIMIT", "100000/min")
        .env("SP_AUTH__DEFAULT_RATE_LIMIT", "100000/min")
        .env("RUST_LOG", "debug");
    // At `debug` the server logs much before it listens: to a file, never a pipe it could
    // fill while nobody reads it.
    let log_path = dir.path().join("sp.log");
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("spawn sp");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    let server = Server(child);
    let addr = first
        .trim()
        .strip_prefix("sp listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();

    let created = post(
        &addr,
        "/v1/keys",
        ADMIN,
        r#"{"name":"full","scopes":["inference"]}"#,
    )
    .await;
    let key = created["token"].as_str().expect("token").to_owned();
    let session = post(&addr, "/v1/auth/token", &key, "").await;
    let refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let body = format!(r#"{{"refresh_token":"{refresh}"}}"#);
    let renewed = post(&addr, "/v1/auth/refresh", &key, &body).await;
    let access = renewed["access_token"].as_str().expect("access").to_owned();
    let next_refresh = renewed["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let chat = r#"{"max_tokens":2,"messages":[{"role":"user","content":"Hi"}]}"#;
    post(&addr, "/v1/chat/completions", &access, chat).await;

    let python = std::path::PathBuf::from(sp_tests::service_url("SP_TEST_PYTHON"));
    let output = tokio::process::Command::new(python.with_file_name("schemathesis"))
        // Its example database stays out of the repository.
        .current_dir(dir.path())
        .args([
            "run",
            &format!("http://{addr}/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {ADMIN}"),
            "--header",
            &format!("X-API-Key: {ADMIN}"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "20",
            // One worker: CPython 3.11's AST validation is not thread-safe, and
            // hypothesis parses lambdas' sources from each worker thread ("AST constructor
            // recursion depth mismatch", an error of the runner, not of the server).
            "--workers",
            "1",
            // One seed: a failure reproduces with the same command.
            "--seed",
            "1",
            "--no-color",
        ])
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found server errors:\n{}\n\nThe whole report:\n{report}\n{}",
        findings(&report),
        String::from_utf8_lossy(&output.stderr)
    );
    // "Selected: 71/71": every operation of the document, none left out.
    let selected = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Selected: "))
        .and_then(|counts| counts.split_once('/'))
        .map(|(chosen, all)| (chosen.trim().to_owned(), all.trim().to_owned()));
    assert!(
        selected.as_ref().is_some_and(|(chosen, all)| chosen == all),
        "the whole document: {selected:?}\n{report}"
    );

    drop(server);
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        log.lines().count() > 1000,
        "a full run's log: {} lines",
        log.lines().count()
    );
    let userinfo = format!(":{password}@");
    for (what, secret) in [
        ("the admin key", ADMIN),
        ("the JWT secret", JWT_SECRET),
        ("the database password", userinfo.as_str()),
        ("a key's token", key.as_str()),
        ("an access token", access.as_str()),
        ("a refresh token", refresh.as_str()),
        ("a renewed refresh token", next_refresh.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} is in the log");
    }
}

/// The report's FAILURES and ERRORS sections, each cut short: what a failed run prints first,
/// so a CI log that keeps only the head of a long message still shows which call failed.
fn findings(report: &str) -> String {
    let mut sections = String::new();
    for title in ["FAILURES", "ERRORS"] {
        let heading = format!(" {title} ");
        let Some(start) = report
            .lines()
            .position(|line| line.starts_with('=') && line.contains(&heading))
        else {
            continue;
        };
        let section: Vec<&str> = report.lines().skip(start).take(60).collect();
        sections.push_str(&section.join("\n"));
        sections.push('\n');
    }
    sections
}
