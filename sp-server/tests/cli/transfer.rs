//! `sp export` / `sp import` through the binary: a served embedded store is exported while
//! it serves, imported into PostgreSQL (which exports the same bytes) and into a new data
//! directory that a new server serves — with the same documents, and the same key working;
//! a served directory is refused, a bad line exits 1 with `SP-OPS-002` naming it.

use super::process::{drain, run, sp, start};

const ADMIN: &str = "transfer-admin-key-5e2b8c1d9a7f";

async fn titles(addr: &str, token: &str) -> Vec<String> {
    let auth = format!("Bearer {token}");
    let reply = sp_tests::http(
        addr,
        "GET",
        "/v1/documents",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .expect("request");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut titles: Vec<String> = reply.json()["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|d| d["title"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    titles.sort();
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_store_moves_to_postgres_and_to_a_new_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let laptop = dir.path().join("laptop");
    let (server, addr, log) = start(sp(&laptop).env("SP_AUTH__ADMIN_KEY", ADMIN));
    let _log = drain(log);
    let auth = format!("Bearer {ADMIN}");
    for title in ["Cats", "Dogs", "Owls"] {
        let body = format!(r#"{{"title": "{title}", "content": "{title} live here."}}"#);
        let reply = sp_tests::http(
            &addr,
            "POST",
            "/v1/documents",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await
        .expect("ingest");
        assert!(reply.status < 300, "{}", reply.body);
    }
    let (code, out, err) = run(
        &mut sp(&laptop),
        &[
            "keys",
            "create",
            "--name",
            "mover",
            "--scopes",
            "documents:read",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let token = out
        .lines()
        .last()
        .expect("the token line")
        .trim()
        .to_owned();

    // Exported while the server serves.
    let exported = dir.path().join("laptop.jsonl");
    let exported_arg = exported.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut sp(&laptop), &["export", &exported_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("3 documents"), "{out}");
    assert!(out.contains("1 keys"), "{out}");
    // A served directory is not imported into.
    let (code, _, err) = run(&mut sp(&laptop), &["import", &exported_arg]);
    assert_ne!(code, Some(0), "{err}");
    drop(server);

    // Into PostgreSQL, which exports the same bytes.
    let schema = format!("cli_transfer_{}", sp_core::Id::new().as_uuid().simple());
    let postgres = || {
        let mut cmd = sp(&laptop);
        cmd.env("SP_DATABASE__URL", sp_tests::service_url("DATABASE_URL"))
            .env("SP_DATABASE__SCHEMA", &schema);
        cmd
    };
    let (code, out, err) = run(&mut postgres(), &["import", &exported_arg, "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).expect("--json");
    assert_eq!(summary["rows"]["kb_documents"], 3, "{summary}");
    let again = dir.path().join("postgres.jsonl");
    let again_arg = again.to_string_lossy().into_owned();
    let (code, out, err) = run(&mut postgres(), &["export", &again_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        std::fs::read(&again).expect("read"),
        std::fs::read(&exported).expect("read"),
        "PostgreSQL exports the same bytes"
    );

    // Into a new directory, served: the same documents, and the moved key works.
    let moved = dir.path().join("moved");
    let (code, out, err) = run(&mut sp(&moved), &["import", &again_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (_server, addr, log) = start(sp(&moved).env("SP_AUTH__ADMIN_KEY", ADMIN));
    let _log = drain(log);
    assert_eq!(titles(&addr, &token).await, ["Cats", "Dogs", "Owls"]);

    // A bad line: exit 1, SP-OPS-002, the file and line named.
    let text = std::fs::read_to_string(&exported).expect("read");
    let broken = dir.path().join("broken.jsonl");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"table\": \"kb_documents\", \"row\": {\"title\": 7}}";
    std::fs::write(&broken, lines.join("\n")).expect("write");
    let (code, _, err) = run(
        &mut sp(&dir.path().join("empty")),
        &["import", &broken.to_string_lossy()],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SP-OPS-002"), "{err}");
    assert!(err.contains("broken.jsonl:3"), "{err}");

    let pool = sqlx::PgPool::connect(&sp_tests::service_url("DATABASE_URL"))
        .await
        .expect("postgres");
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
}
