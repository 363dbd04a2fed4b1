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

/// Runs `sp status --db …` with `database_url` (none: the embedded store).
fn status_db(
    dir: &std::path::Path,
    database_url: Option<&str>,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = sp(dir);
    cmd.args(["status", "--db"]).args(args);
    if let Some(url) = database_url {
        cmd.env("SP_DATABASE__URL", url);
    }
    let output = cmd.output().expect("run sp");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn status_db_lists_the_database_top_statements_from_pg_stat_statements() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = status_db(dir.path(), None, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("SP-OPS-003") && err.contains("embedded store"),
        "{err}"
    );

    // A database of its own, so that the statistics shown are this test's statements only.
    let server = sp_tests::service_url("DATABASE_URL");
    let admin = sqlx::PgPool::connect(&server).await.expect("postgres");
    let name = format!("sp_stats_{}", std::process::id());
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&admin)
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create database");
    let (base, _) = server.rsplit_once('/').expect("a database in the URL");
    let url = format!("{base}/{name}");
    let (code, _, err) = status_db(dir.path(), Some(&url), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("SP-OPS-003") && err.contains("CREATE EXTENSION pg_stat_statements"),
        "without the extension the operator is told how to enable it: {err}"
    );

    let db = sqlx::PgPool::connect(&url).await.expect("the new database");
    sqlx::query("CREATE EXTENSION pg_stat_statements")
        .execute(&db)
        .await
        .expect("extension");
    sqlx::query("CREATE TABLE probe (n int)")
        .execute(&db)
        .await
        .expect("table");
    for n in 0..3 {
        sqlx::query("INSERT INTO probe SELECT $1 FROM pg_sleep(0.1)")
            .bind(n)
            .execute(&db)
            .await
            .expect("insert");
    }
    db.close().await;

    let (code, out, err) = status_db(dir.path(), Some(&url), &["--json", "--limit", "50"]);
    assert_eq!(code, Some(0), "{err}");
    let statements: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    let insert = statements
        .iter()
        .find(|s| {
            s["query"]
                .as_str()
                .is_some_and(|q| q.starts_with("INSERT INTO probe"))
        })
        .unwrap_or_else(|| panic!("the probe's inserts are listed: {out}"));
    assert_eq!(insert["calls"], 3, "{insert}");
    assert_eq!(insert["rows"], 3, "{insert}");
    assert!(
        insert["total_ms"].as_f64().expect("ms") >= 300.0,
        "{insert}"
    );
    // pg_stat_statements normalises constants: the bind is `$1`, never a value.
    assert!(
        insert["query"].as_str().expect("query").contains("$1"),
        "{insert}"
    );
    let totals: Vec<f64> = statements
        .iter()
        .filter_map(|s| s["total_ms"].as_f64())
        .collect();
    assert!(
        totals.windows(2).all(|w| w[0] >= w[1]),
        "most time first: {totals:?}"
    );
    assert_eq!(
        statements.first(),
        Some(insert),
        "the slept inserts took the most time"
    );

    let (code, out, err) = status_db(dir.path(), Some(&url), &["--limit", "1"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one statement: {out}");
    assert!(
        lines[0].contains("TOTAL MS") && lines[0].contains("QUERY"),
        "{out}"
    );
    assert!(
        lines[1].contains("INSERT INTO probe") && lines[1].contains(" 3 "),
        "{out}"
    );

    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}
