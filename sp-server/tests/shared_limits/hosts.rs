//! Several hosts for real: a PostgreSQL primary and its synchronous standby, PgBouncer, Redis
//! and three `sp` hosts each in a network namespace of its own (`scripts/netns.sh`: veth pairs
//! on a bridge), HAProxy in front of the three. Behind the balancer a 5/min key gets exactly 5
//! across the hosts; a model request sent to a host without the model is answered by the host
//! that has it; a key revoked on one host is refused by the others within a second; a context
//! written through one is read through another; an event appended on one reaches a follower
//! on another; a host killed (SIGKILL) in the middle of a workflow run — another host finishes
//! the run; the primary killed under ingest — the standby promoted, the hosts ready again
//! without a restart and every acknowledged document present; Redis killed — each host limits
//! on its own, then budgets are shared again once it is back (the faults' steps are in
//! `host_faults.rs`). Needs root.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::process::{SP, Server, drain, start_on};

const ADMIN: &str = "netns-admin-key-0123456789abcdef";

/// The namespaces, services and balancer of `scripts/netns.sh`, removed when dropped.
pub(super) struct Hosts {
    name: &'static str,
    /// `10.N.0`: the hosts' subnet.
    net: String,
    database_url: String,
    redis_url: String,
}

impl Hosts {
    fn up(name: &'static str) -> Self {
        let uid = Command::new("id").arg("-u").output().expect("id");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the multi-host test makes network namespaces: run it as root (scripts/test.sh does)"
        );
        let up = sp_tests::script("netns.sh", &["up", name]);
        let services = sp_tests::script("netns.sh", &["services", name]);
        let value = |printed: &str, var: &str| {
            printed
                .split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{var}=")))
                .unwrap_or_else(|| panic!("no {var} in {printed}"))
                .to_owned()
        };
        Hosts {
            name,
            net: value(&up, "SP_NS_NET"),
            database_url: value(&services, "SP_NS_DATABASE_URL"),
            redis_url: value(&services, "SP_NS_REDIS_URL"),
        }
    }

    /// `sp serve` on host `n` (1-3), port 8080 of its own address.
    fn serve(&self, n: u8, data_dir: &std::path::Path) -> (Server, String) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &format!("{}-h{n}", self.name), SP]);
        for (key, _) in std::env::vars() {
            if key.starts_with("SP_") || key == "DATABASE_URL" || key == "REDIS_URL" {
                cmd.env_remove(key);
            }
        }
        cmd.env("SP_DATA_DIR", data_dir.join(format!("h{n}")))
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("SP_AUTH__ADMIN_KEY", ADMIN)
            // A dead database backend is given up on quickly, as a production pool would.
            .env("SP_DATABASE__ACQUIRE_TIMEOUT_SECS", "2")
            // Replicas: heartbeats and model-aware routing over the hosts' network.
            .env(
                "SP_CLUSTER__ADVERTISE_URL",
                format!("http://{}.1{n}:8080", self.net),
            )
            .env("SP_CLUSTER__HEARTBEAT_MS", "300")
            // One knowledge store: every host embeds with the same model.
            .env(
                "SP_MODEL__EMBEDDING_PATH",
                sp_tests::service_url("SP_TEST_EMBEDDER"),
            )
            // The test's tool service is on the hosts' private network.
            .env("SP_HUB__ALLOWED_NETWORKS", "[\"10.0.0.0/8\"]")
            // A dead host's runs are taken over a second after its last renewal.
            .env("SP_WORKFLOWS__LEASE_MS", "1000");
        // Only h2 holds a chat model: the others forward model requests to it.
        if n == 2 {
            cmd.env("SP_MODEL__PATH", sp_tests::service_url("SP_TEST_MODEL"));
        }
        let (server, addr, log) = start_on(&mut cmd, &format!("{}.1{n}:8080", self.net));
        drop(drain(log));
        (server, addr)
    }

    fn balance(&self, port: u16) {
        sp_tests::script("netns.sh", &["balance", self.name, &port.to_string()]);
    }

    /// `scripts/netns.sh COMMAND NAME` (`crash`, `failover`).
    pub(super) fn run(&self, command: &str) {
        sp_tests::script("netns.sh", &[command, self.name]);
    }

    /// `scripts/netns.sh redis NAME ACTION` (`kill`, `start`).
    pub(super) fn run_on_redis(&self, action: &str) {
        sp_tests::script("netns.sh", &["redis", self.name, action]);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(sp_tests::repo_root().join("scripts/netns.sh"))
            .args(["down", self.name])
            .output();
    }
}

pub(super) async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> sp_tests::HttpResponse {
    let auth = format!("Bearer {token}");
    sp_tests::http(
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
    .unwrap_or_else(|err| panic!("{method} {addr}{path}: {err}"))
}

/// Creates a key through `addr`; its id and token.
pub(super) async fn key(addr: &str, body: serde_json::Value) -> (String, String) {
    let made = call(addr, "POST", "/v1/keys", ADMIN, &body.to_string()).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let json = made.json();
    (
        json["key"]["id"].as_str().expect("id").to_owned(),
        json["token"].as_str().expect("token").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_behind_haproxy_share_limits_keys_contexts_and_events() {
    let _gate = sp_tests::model_gate().await;
    let hosts = Hosts::up("sphosts");
    let dir = tempfile::tempdir().expect("tempdir");
    let (h1, one) = hosts.serve(1, dir.path());
    let (_h2, two) = hosts.serve(2, dir.path());
    let (_h3, three) = hosts.serve(3, dir.path());
    let port = super::process::free_loopback_addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port");
    hosts.balance(port);
    let balancer = format!("127.0.0.1:{port}");

    // The balancer has every host in rotation once their readiness checks pass.
    let started = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "in rotation: {seen:?}"
        );
        let reply = sp_tests::http(&balancer, "GET", "/health/ready", &[], b"").await;
        if let Ok(reply) = reply
            && reply.status == 200
            && let Some(server) = reply.header("x-lb-server")
        {
            seen.insert(server.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A 5/min key gets exactly 5 through the balancer, spread over the hosts.
    let (_, limited) = key(
        &balancer,
        serde_json::json!({"name": "limited", "scopes": ["documents:read"], "rate_limit": "5/min"}),
    )
    .await;
    let (mut statuses, mut servers) = (Vec::new(), std::collections::BTreeSet::new());
    for _ in 0..8 {
        let reply = call(&balancer, "GET", "/v1/documents", &limited, "").await;
        statuses.push(reply.status);
        servers.extend(reply.header("x-lb-server").map(str::to_owned));
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert_eq!(servers.len(), 3, "every host answered: {servers:?}");

    // Revoked on h1: refused by h2 and h3 within a second.
    let (id, doomed) = key(
        &balancer,
        serde_json::json!({"name": "doomed", "scopes": ["documents:read"]}),
    )
    .await;
    for host in [&two, &three] {
        assert_eq!(
            call(host, "GET", "/v1/documents", &doomed, "").await.status,
            200
        );
    }
    let revoked = call(&one, "DELETE", &format!("/v1/keys/{id}"), ADMIN, "").await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for host in [&two, &three] {
        assert_eq!(
            call(host, "GET", "/v1/documents", &doomed, "").await.status,
            401
        );
    }

    // A context written through h1 is read through h2.
    let (_, agent) = key(
        &balancer,
        serde_json::json!({"name": "agent", "scopes": ["contexts", "events"]}),
    )
    .await;
    let created = call(
        &one,
        "POST",
        "/v1/contexts",
        &agent,
        r#"{"title":"shared"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let context = created.json()["id"].as_str().expect("id").to_owned();
    let message = r#"{"role":"user","content":"Written on h1."}"#;
    let path = format!("/v1/contexts/{context}/messages");
    assert_eq!(call(&one, "POST", &path, &agent, message).await.status, 201);
    let read = call(&two, "GET", &path, &agent, "").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains("Written on h1."), "{}", read.body);

    // An event appended on h1 reaches a live follower on h3.
    let opened = call(
        &one,
        "POST",
        "/v1/events",
        &agent,
        r#"{"stream":"orders","type":"order.placed","data":{"n":1}}"#,
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    let follower = tokio::spawn({
        let (three, agent) = (three.clone(), agent.clone());
        async move {
            super::read_sse_until(&three, "/v1/events/live?stream=orders", &agent, "\"n\":2").await
        }
    });
    let mut tries = 0;
    let seen = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if follower.is_finished() {
            break follower.await.expect("follower");
        }
        tries += 1;
        assert!(tries < 30, "h3's follower never saw h1's append");
        let body = format!(
            r#"{{"stream":"orders","type":"order.placed","data":{{"n":2,"try":{tries}}}}}"#
        );
        assert_eq!(
            call(&one, "POST", "/v1/events", &agent, &body).await.status,
            201
        );
    };
    assert!(seen.contains("\"stream\":\"orders\""), "{seen}");

    super::host_faults::a_model_held_elsewhere_is_answered(&two, &three).await;

    super::host_faults::a_run_outlives_its_host(&hosts.net, (h1, one), &balancer).await;

    // The primary dies under ingest through the balancer: h2 and h3 (h1 is gone) recover on
    // the promoted standby without a restart.
    let (_, writer) = key(
        &balancer,
        json!({"name": "writer", "scopes": ["documents:read", "documents:write"]}),
    )
    .await;
    let done = super::ingest::failover_under_ingest(
        &balancer,
        &writer,
        || hosts.run("crash"),
        || hosts.run("failover"),
    )
    .await;
    println!(
        "behind the balancer, crash to ready again: {:?}; {} acknowledged ({} before the \
         promotion), {} refused (503) during the gap, none lost",
        done.outage, done.acknowledged, done.before_promotion, done.refused
    );

    super::host_faults::limits_outlive_redis(&hosts, &balancer).await;
}
