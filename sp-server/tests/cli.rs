//! The `sp` binary: configuration errors exit cleanly, `sp serve` answers over a real socket
//! (HTTPS with a configured certificate) and logs JSON lines that carry the request id.

#[path = "cli/backup.rs"]
mod backup;
#[path = "cli/deploy.rs"]
mod deploy;
#[path = "cli/docs.rs"]
mod docs;
#[path = "cli/full_run.rs"]
mod full_run;
#[path = "cli/ingest.rs"]
mod ingest;
#[path = "cli/migrate.rs"]
mod migrate;
#[path = "cli/models.rs"]
mod models;
#[path = "cli/otel.rs"]
mod otel;
#[path = "support/process.rs"]
mod process;
#[path = "cli/reindex.rs"]
mod reindex;
#[path = "cli/reload.rs"]
mod reload;
#[path = "cli/session.rs"]
mod session;
#[path = "cli/status.rs"]
mod status;
#[path = "cli/tenants.rs"]
mod tenants;
#[path = "cli/tls.rs"]
mod tls;
#[path = "cli/transfer.rs"]
mod transfer;

use std::io::{BufRead, BufReader};
use std::process::Command;

use process::{drain, sp, start};

fn run_expecting_config_error(cmd: &mut Command) -> String {
    let output = cmd.output().expect("run sp");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit 2 for bad config: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("SP-CFG-001"), "{stderr}");
    stderr
}

#[test]
fn bad_env_value_exits_2_naming_key_and_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = run_expecting_config_error(
        sp(dir.path())
            .args(["serve"])
            .env("SP_SERVER__LISTEN", "not-an-address"),
    );
    assert!(stderr.contains("server.listen"), "{stderr}");
    assert!(stderr.contains("SP_SERVER__LISTEN"), "{stderr}");
}

#[test]
fn bad_file_key_and_bad_url_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sp.toml");
    std::fs::write(&file, "[server]\nmax_body_bytes = -5\n").expect("write");
    let stderr = run_expecting_config_error(sp(dir.path()).arg("--config").arg(&file).arg("serve"));
    assert!(stderr.contains("server.max_body_bytes"), "{stderr}");
    assert!(stderr.contains("sp.toml"), "{stderr}");

    let stderr = run_expecting_config_error(
        sp(dir.path())
            .args(["serve"])
            .env("REDIS_URL", "http://not-redis"),
    );
    assert!(stderr.contains("redis.url"), "{stderr}");

    let stderr = run_expecting_config_error(
        sp(dir.path())
            .args(["serve"])
            .env("SP_LOG__LEVEL", "info,=nonsense=="),
    );
    assert!(stderr.contains("log.level"), "{stderr}");
}

#[test]
fn config_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = sp(dir.path())
        .args(["config", "--listen", "127.0.0.1:9999"])
        .env("SP_EVENTS__MAX_ATTEMPTS", "7")
        .env("SP_WORKFLOWS__LEASE_MS", "2500")
        .output()
        .expect("run sp");
    assert!(output.status.success());
    let config: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(config["server"]["listen"], "127.0.0.1:9999");
    // Every section reads its `SP_<SECTION>__<KEY>` variables.
    assert_eq!(config["events"]["max_attempts"], 7);
    assert_eq!(config["workflows"]["lease_ms"], 2500);
    assert_eq!(config["data_dir"], dir.path().display().to_string());
}

/// `--profile NAME` (`SP_PROFILE`) applies the file's `[profiles.NAME]` over the rest of it,
/// below the environment and flags; its contents are never printed (a profile may hold
/// secrets); a profile the file lacks exits 2 naming `profile`.
#[test]
fn profiles_overlay_the_file_and_an_unknown_one_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sp.toml");
    std::fs::write(
        &file,
        "[log]\nlevel = \"debug\"\n\n[server]\nlisten = \"127.0.0.1:8081\"\n\n\
         [profiles.prod.log]\nlevel = \"warn\"\n\n\
         [profiles.prod.auth]\nadmin_key = \"prod-admin-key-0123456789abcdef\"\n",
    )
    .expect("write");
    let show = |extra: &[&str], env: Option<&str>| {
        let mut cmd = sp(dir.path());
        cmd.arg("--config").arg(&file).arg("config").args(extra);
        if let Some(profile) = env {
            cmd.env("SP_PROFILE", profile);
        }
        let output = cmd.output().expect("run sp");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            !text.contains("prod-admin-key"),
            "a profile's secret shown: {text}"
        );
        serde_json::from_str::<serde_json::Value>(&text).expect("JSON")
    };
    let dev = show(&[], None);
    assert_eq!(dev["log"]["level"], "debug");
    let prod = show(&["--profile", "prod"], None);
    assert_eq!(
        prod["log"]["level"], "warn",
        "the profile wins over the file"
    );
    assert_eq!(
        prod["server"]["listen"], "127.0.0.1:8081",
        "the rest of the file stays"
    );
    assert_eq!(prod["auth"]["admin_key"], "<redacted>");
    let by_env = show(&[], Some("prod"));
    assert_eq!(by_env["log"]["level"], "warn");
    let flag_wins = show(&["--profile", "prod", "--listen", "127.0.0.1:9"], None);
    assert_eq!(flag_wins["server"]["listen"], "127.0.0.1:9");

    let stderr = run_expecting_config_error(sp(dir.path()).arg("--config").arg(&file).args([
        "--profile",
        "staging",
        "config",
    ]));
    assert!(stderr.contains("profile"), "{stderr}");
    assert!(stderr.contains("[profiles.staging]"), "{stderr}");
}

/// The review's M4: `sp config` printed the HS256 secret and the URL passwords. Every secret
/// is redacted, also one read from a `…_FILE` (which is read: its URL is shown, less its
/// password), and a secret given both ways is refused.
#[test]
fn config_redacts_every_secret_and_reads_secret_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("database_url");
    std::fs::write(&file, "postgres://sp:f1lepass@db:5432/sp\n").expect("write");
    let secrets = [
        (
            "SP_AUTH__JWT__HS256_SECRET",
            "0123456789abcdef0123456789abcdef-jwt",
        ),
        ("REDIS_URL", "redis://:r3dispass@cache:6379"),
        ("SP_ADMIN_KEY", "admin-key-0123456789abcdef-xyz"),
    ];
    let mut cmd = sp(dir.path());
    cmd.arg("config").env("DATABASE_URL_FILE", &file);
    for (name, value) in secrets {
        cmd.env(name, value);
    }
    let output = cmd.output().expect("run sp");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [
        "0123456789abcdef0123456789abcdef-jwt",
        "r3dispass",
        "admin-key-0123",
        "f1lepass",
    ] {
        assert!(!stdout.contains(secret), "`{secret}` shown:\n{stdout}");
    }
    let config: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        config["database"]["url"],
        "postgres://sp:<redacted>@db:5432/sp"
    );
    assert_eq!(config["redis"]["url"], "redis://:<redacted>@cache:6379");
    assert_eq!(config["auth"]["jwt"]["hs256_secret"], "<redacted>");
    assert_eq!(config["auth"]["admin_key"], "<redacted>");

    let stderr = run_expecting_config_error(
        sp(dir.path())
            .arg("config")
            .env("DATABASE_URL_FILE", &file)
            .env("DATABASE_URL", "postgres://other/sp"),
    );
    assert!(
        stderr.contains("both DATABASE_URL and DATABASE_URL_FILE"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_with_a_model_reports_it_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let (server, addr, logs) = start(
        sp(dir.path())
            .env("SP_MODEL__PATH", &model)
            .env("SP_MODEL__SLOTS", "1")
            .env("SP_MODEL__CONTEXT_PER_SLOT", "512"),
    );
    let logs = drain(logs);
    let ready = sp_tests::http(&addr, "GET", "/health/ready", &[], b"")
        .await
        .expect("GET /health/ready");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["checks"]["model"]["status"], "up");
    drop(server);
    // llama.cpp logs a few hundred lines per load at info level, under the target
    // `llama-cpp-2`: the default filter keeps them out.
    let logs = logs.join().expect("log");
    let chatter = logs
        .lines()
        .filter(|l| l.contains("\"target\":\"llama-cpp-2\"") && l.contains("\"level\":\"INFO\""))
        .count();
    assert_eq!(chatter, 0, "{logs}");
}

#[test]
fn a_corrupt_model_fails_start_up_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("broken.gguf");
    std::fs::write(&model, b"GGUF and then nothing useful").expect("write");
    let output = sp(dir.path())
        .arg("serve")
        .arg("--model")
        .arg(&model)
        .output()
        .expect("run sp");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SP-LLM-003"), "{stderr}");
    assert!(stderr.contains("broken.gguf"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let stderr = run_expecting_config_error(
        sp(dir.path())
            .arg("serve")
            .arg("--model")
            .arg(&model)
            .env("SP_MODEL__SLOTS", "0"),
    );
    assert!(stderr.contains("model.slots"), "{stderr}");
}

#[tokio::test]
async fn serve_answers_and_logs_json_with_request_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, addr, stderr) = start(&mut sp(dir.path()));

    let health = sp_tests::http(
        &addr,
        "GET",
        "/health",
        &[("X-Request-Id", "cli-test-1")],
        b"",
    )
    .await
    .expect("GET /health");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("x-request-id"), Some("cli-test-1"));
    let body = health.json();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["checks"]["sqlite"]["status"], "up");
    assert!(
        dir.path().join("sp.db").is_file(),
        "data lives under SP_DATA_DIR"
    );

    let missing = sp_tests::http(&addr, "GET", "/missing", &[], b"")
        .await
        .expect("GET /missing");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "SP-REQ-001");

    let _ = server.0.kill();
    let _ = server.0.wait();
    let logs: Vec<serde_json::Value> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|_| panic!("log line is not JSON: {l}")))
        .collect();
    let response_log = logs
        .iter()
        .find(|l| l["span"]["request_id"] == "cli-test-1")
        .unwrap_or_else(|| panic!("no log line carries the request id: {logs:?}"));
    assert_eq!(response_log["status"], 200);
    assert_eq!(response_log["span"]["path"], "/health");
}

#[test]
fn a_store_made_by_another_embedder_stops_the_start_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Without a model the knowledge store is created for the hashing embedder (384 dims).
    let (server, _addr, _log) = start(&mut sp(dir.path()));
    drop(server);
    let stderr = run_expecting_config_error(
        sp(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--model"])
            .arg(sp_tests::service_url("SP_TEST_MODEL")),
    );
    assert!(
        stderr.contains("model.embedding_path") && stderr.contains("384"),
        "{stderr}"
    );
    // MiniLM makes 384-dimensional vectors too, but not comparable ones: refused by model,
    // not let in by width.
    let stderr = run_expecting_config_error(
        sp(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--embedding-model"])
            .arg(sp_tests::service_url("SP_TEST_EMBEDDER")),
    );
    assert!(
        stderr.contains("hash-v1-384") && stderr.contains("all-MiniLM-L6-v2.f16"),
        "{stderr}"
    );
}

/// One `sp serve` per embedded data directory (review finding M11): a second is refused at
/// start naming the first one's pid; once the first is gone, the directory serves again.
#[test]
fn a_second_server_on_one_data_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, _addr, _log) = start(&mut sp(dir.path()));
    let second =
        run_expecting_config_error(sp(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(
        second.contains("data_dir") && second.contains(&format!("pid {}", server.0.id())),
        "{second}"
    );
    // Short-lived commands still work beside the server.
    let listed = sp(dir.path())
        .args(["keys", "list"])
        .output()
        .expect("run sp");
    assert!(listed.status.success(), "{listed:?}");
    drop(server);
    let (_again, _addr, _log) = start(&mut sp(dir.path()));
}

/// `sp openapi` prints the document `/openapi.json` serves, and an independent validator (the
/// `openapi-spec-validator` package) accepts it as OpenAPI 3.1.
#[test]
fn sp_openapi_prints_a_valid_openapi_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = sp(dir.path()).arg("openapi").output().expect("run sp");
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let built = serde_json::to_value(sp_server::openapi()).expect("spec serialises");
    assert_eq!(printed, built);

    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &output.stdout).expect("write spec");
    let validated = Command::new(sp_tests::service_url("SP_TEST_PYTHON"))
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("run the validator");
    let said = String::from_utf8_lossy(&validated.stdout);
    assert!(
        validated.status.success() && said.contains("OK"),
        "{said}{}",
        String::from_utf8_lossy(&validated.stderr)
    );
}
