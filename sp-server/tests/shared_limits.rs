//! Two `sp` processes on shared backends: on the same data and Redis they spend one
//! rate-limit budget per key, and a key created by `sp keys create` (its token on the last
//! line) works on both, on one Redis or a Redis Cluster; on one PostgreSQL, an event appended through one reaches live
//! followers of the other.

#[path = "support/process.rs"]
mod process;

use process::{create_key, sp, start};

#[tokio::test]
async fn two_processes_share_a_key_budget_through_redis() {
    let redis = sp_tests::service_url("REDIS_URL");
    share_a_key_budget(("REDIS_URL", redis)).await;
}

#[tokio::test]
async fn two_processes_share_a_key_budget_through_a_redis_cluster() {
    let cluster = sp_tests::OwnRedisCluster::start("shared-limits");
    // One seed each (a different one): the rest of the cluster is discovered.
    let seeds = format!("[\"{}\"]", cluster.nodes[0]);
    share_a_key_budget(("SP_REDIS__CLUSTER_NODES", seeds)).await;
}

/// Two replicas on one PostgreSQL and the Redis named by `redis` (a variable and its value).
async fn share_a_key_budget(redis: (&str, String)) {
    // Replicas share PostgreSQL: an embedded data directory serves one process only.
    let database = sp_tests::service_url("DATABASE_URL");
    let schema = format!("shared_{}", sp_core::Id::new().as_uuid().simple());
    let dir = tempfile::tempdir().expect("tempdir");
    let replica = || {
        let mut cmd = sp(dir.path());
        cmd.env("DATABASE_URL", &database)
            .env("SP_DATABASE__SCHEMA", &schema)
            .env(redis.0, &redis.1);
        cmd
    };
    let token = create_key(
        &mut replica(),
        "shared",
        "documents:read,documents:write",
        &["--rate-limit", "5/min"],
    );

    let (_one, first, _log1) = start(&mut replica());
    let (_two, second, _log2) = start(&mut replica());
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
    let token = create_key(&mut sp(dir.path()), "doomed", "documents:write", &[]);
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

/// Reads a server-sent event stream until a `data:` line holds `needle`; the lines seen.
async fn read_sse_until(addr: &str, path: &str, token: &str, needle: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Accept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen
        .lines()
        .any(|line| line.starts_with("data:") && line.contains(needle))
    {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(read > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    seen
}

#[tokio::test]
async fn an_event_appended_on_one_process_reaches_live_followers_of_another() {
    let database = sp_tests::service_url("DATABASE_URL");
    let schema = format!("live_{}", sp_core::Id::new().as_uuid().simple());
    let dir = tempfile::tempdir().expect("tempdir");
    let on_postgres = |cmd: &mut std::process::Command| {
        cmd.env("DATABASE_URL", &database)
            .env("SP_DATABASE__SCHEMA", &schema);
    };
    let mut create = sp(dir.path());
    on_postgres(&mut create);
    let token = create_key(&mut create, "live", "events", &[]);
    let (mut one, mut two) = (sp(dir.path()), sp(dir.path()));
    on_postgres(&mut one);
    on_postgres(&mut two);
    let (_one, first, _log1) = start(&mut one);
    let (_two, second, _log2) = start(&mut two);
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // The stream exists before anyone follows it.
    let opened = sp_tests::http(
        &first,
        "POST",
        "/v1/events",
        &headers,
        br#"{"stream":"orders","type":"order.placed","data":{"n":1}}"#,
    )
    .await
    .expect("append");
    assert_eq!(opened.status, 201, "{}", opened.body);

    let follower = tokio::spawn({
        let (second, token) = (second.clone(), token.clone());
        async move { read_sse_until(&second, "/v1/events/live?stream=orders", &token, "\"n\":2").await }
    });
    // Appended on the first process until the second's follower has it (its subscription
    // starts when its request is served, a moment after the spawn).
    let mut n = 2;
    let seen = loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if follower.is_finished() {
            break follower.await.expect("follower");
        }
        assert!(
            n < 30,
            "the second process never saw an append of the first"
        );
        let body =
            format!(r#"{{"stream":"orders","type":"order.placed","data":{{"n":2,"try":{n}}}}}"#);
        let appended = sp_tests::http(&first, "POST", "/v1/events", &headers, body.as_bytes())
            .await
            .expect("append");
        assert_eq!(appended.status, 201, "{}", appended.body);
        n += 1;
    };
    assert!(seen.contains("\"stream\":\"orders\""), "{seen}");

    // The servers made the day partitions before serving: every append is in its day's,
    // none in the default partition (docs/scaling.md, "Large tables").
    let pool = sqlx::PgPool::connect(&database).await.expect("connect");
    let count = |partition: String| {
        let sql = format!("SELECT count(*) FROM \"{schema}\".{partition}");
        let pool = pool.clone();
        async move {
            let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .expect("count");
            rows
        }
    };
    let caught = count("events_default".into()).await;
    let appended = count("events".into()).await;
    assert_eq!(caught, 0, "no append fell to the default partition");
    assert!(appended >= 2, "{appended} appends, all in day partitions");

    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
}

#[path = "shared_limits/drain.rs"]
mod drain;
#[path = "shared_limits/host_faults.rs"]
mod host_faults;
#[path = "shared_limits/hosts.rs"]
mod hosts;
#[path = "shared_limits/ingest.rs"]
mod ingest;
#[path = "shared_limits/pg_failover.rs"]
mod pg_failover;
#[path = "shared_limits/replicas.rs"]
mod replicas;
