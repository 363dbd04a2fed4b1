//! Two `sp` processes on the same data and the same Redis spend one rate-limit budget per
//! key; a key created by `sp keys create` (its token on the last line) works on both.

#[path = "support/process.rs"]
mod process;

use process::{sp, start};

#[tokio::test]
async fn two_processes_share_a_key_budget_through_redis() {
    let redis = sp_tests::service_url("REDIS_URL");
    let dir = tempfile::tempdir().expect("tempdir");
    let created = sp(dir.path())
        .args([
            "keys",
            "create",
            "--name",
            "shared",
            "--scopes",
            "documents:read,documents:write",
            "--rate-limit",
            "5/min",
        ])
        .output()
        .expect("run sp keys create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    let token = stdout
        .lines()
        .last()
        .expect("a last line")
        .trim()
        .to_owned();
    assert!(token.starts_with("sp_"), "{stdout}");

    let (_one, first, _log1) = start(sp(dir.path()).env("REDIS_URL", &redis));
    let (_two, second, _log2) = start(sp(dir.path()).env("REDIS_URL", &redis));
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let doc = br#"{"title":"Shared","content":"One budget for every replica."}"#;
    let seeded = sp_tests::http(&first, "POST", "/v1/documents", &headers, doc)
        .await
        .expect("seed");
    assert_eq!(seeded.status, 201, "{}", seeded.body);

    // 5/min: one spent on the seed, four more across both processes, then 429 on either.
    let mut statuses = Vec::new();
    for addr in [&second, &first, &second, &first, &second, &first] {
        let reply = sp_tests::http(addr, "GET", "/v1/documents", &headers, b"")
            .await
            .expect("request");
        statuses.push(reply.status);
        if reply.status == 429 {
            assert!(reply.header("retry-after").is_some(), "{:?}", reply.headers);
            assert_eq!(reply.json()["error"]["code"], "SP-AUTH-003");
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "one budget, not one per process"
    );
}

#[tokio::test]
async fn a_revocation_from_the_cli_reaches_a_running_server_within_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = sp(dir.path())
        .args([
            "keys",
            "create",
            "--name",
            "doomed",
            "--scopes",
            "documents:write",
        ])
        .output()
        .expect("run sp keys create");
    let stdout = String::from_utf8_lossy(&created.stdout);
    let token = stdout.lines().last().expect("token line").trim().to_owned();
    let id = token.split('_').nth(1).expect("id").to_owned();
    let (_server, addr, _log) = start(&mut sp(dir.path()));
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let doc = br#"{"title":"T","content":"Before the revocation."}"#;
    let before = sp_tests::http(&addr, "POST", "/v1/documents", &headers, doc)
        .await
        .expect("request");
    assert_eq!(before.status, 201, "{}", before.body);

    let revoked = sp(dir.path())
        .args(["keys", "revoke", &id])
        .output()
        .expect("revoke");
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = sp_tests::http(&addr, "POST", "/v1/documents", &headers, doc)
        .await
        .expect("request");
    assert_eq!(after.status, 401, "{}", after.body);
}
