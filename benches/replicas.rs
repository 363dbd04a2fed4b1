//! Run with: `cargo bench -p sp-benches --bench replicas` (needs `DATABASE_URL` and `REDIS_URL`:
//! `eval "$(scripts/services.sh up)"`, and Debian's `haproxy`).
//!
//! Scale-out overhead: 1, 2 and 3 `sp` replicas on one PostgreSQL and one Redis behind HAProxy
//! (round robin, keep-alive), against the anchor — one replica called directly. The mix is what
//! a gateway and a knowledge service answer: a page of documents and a keyword search, each
//! authenticated by an API key and charged to its Redis rate limit. Closed loop: 16 clients
//! with keep-alive connections, `SP_REPLICAS_SECONDS` (3) s per side per round, the sides
//! alternating over two rounds. On this 2-core machine every replica shares the same cores, so
//! the table shows overhead, not scale: per-replica efficiency (throughput ÷ (replicas × the
//! one-replica throughput behind the balancer)) and the balancer's added latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

const ADMIN: &str = "replicas-admin-key-0123456789abcdef";
const CLIENTS: usize = 16;

/// Starts a replica on a free loopback port, on the shared database schema; its address.
async fn replica(dir: &std::path::Path, database: &str, redis: &str, schema: &str) -> String {
    let mut config = sp_core::Config {
        data_dir: dir.to_path_buf(),
        ..sp_core::Config::default()
    };
    config.database.url = Some(database.to_owned());
    config.database.schema = schema.to_owned();
    config.redis.url = Some(redis.to_owned());
    config.auth.admin_key = Some(ADMIN.into());
    config.log.level = "error".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let state = sp_server::AppState::open(config).await.expect("state");
    tokio::spawn(sp_server::serve(listener, state, std::future::pending()));
    addr
}

/// HAProxy on a free loopback port over `replicas`; its address and the process.
fn balancer(dir: &std::path::Path, replicas: &[String]) -> (String, std::process::Child) {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = probe.local_addr().expect("addr").to_string();
    drop(probe);
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(n, r)| format!("    server r{n} {r}\n"))
        .collect();
    let config = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    \
         timeout server 30s\n    option http-keep-alive\nfrontend sp\n    bind {addr}\n    \
         default_backend replicas\nbackend replicas\n    balance roundrobin\n{servers}"
    );
    let file = dir.join(format!("haproxy-{}.cfg", replicas.len()));
    std::fs::write(&file, config).expect("write haproxy.cfg");
    let child = std::process::Command::new("haproxy")
        .arg("-f")
        .arg(&file)
        .spawn()
        .expect("haproxy (apt-get install haproxy)");
    (addr, child)
}

/// Requests per second and p50 / p95 latency (ms) of the mix against `addr`.
async fn measure(addr: &str, token: &str, seconds: f64) -> (f64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (addr, token, stop) = (addr.to_owned(), token.to_owned(), stop.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut n = c;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let request = if n % 2 == 0 {
                    client.get(format!("http://{addr}/v1/documents?limit=10"))
                } else {
                    client
                        .post(format!("http://{addr}/v1/search"))
                        .json(&json!({"query": "harbour supplies", "k": 5, "mode": "keyword"}))
                };
                let reply = request.bearer_auth(&token).send().await.expect("send");
                assert!(reply.status().is_success(), "{}", reply.status());
                let _ = reply.bytes().await;
                latencies.push(started.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("client"));
    }
    all.sort();
    let ms = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    (all.len() as f64 / seconds, ms(0.5), ms(0.95))
}

#[tokio::main]
async fn main() {
    let database = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/services.sh up)");
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL (scripts/services.sh up)");
    let seconds: f64 = std::env::var("SP_REPLICAS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = format!("bench_replicas_{}", std::process::id());
    let mut replicas = Vec::new();
    for n in 0..3 {
        let data = dir.path().join(format!("r{n}"));
        replicas.push(replica(&data, &database, &redis, &schema).await);
    }
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("http://{}/v1/keys", replicas[0]))
        .bearer_auth(ADMIN)
        .json(
            &json!({"name": "bench", "scopes": ["documents:read", "documents:write"],
            "rate_limit": "1000000/min"}),
        )
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let token = created["token"].as_str().expect("token").to_owned();
    for n in 0..50 {
        client
            .post(format!("http://{}/v1/documents", replicas[0]))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Doc {n}"),
                "content": format!("The harbour took in supplies, load {n}, and the wind held.")}))
            .send()
            .await
            .expect("ingest");
    }
    let mut balancers = Vec::new();
    let mut sides = vec![(
        "direct, 1 replica (anchor)".to_owned(),
        replicas[0].clone(),
        1usize,
    )];
    for count in 1..=3 {
        let (addr, child) = balancer(dir.path(), &replicas[..count]);
        balancers.push(child);
        sides.push((format!("HAProxy, {count} replica(s)"), addr, count));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Warm every side once, then alternate the sides over two rounds.
    for (_, addr, _) in &sides {
        measure(addr, &token, 0.5).await;
    }
    let mut results = vec![Vec::new(); sides.len()];
    for round in 0..2 {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..sides.len()).collect()
        } else {
            (0..sides.len()).rev().collect()
        };
        for i in order {
            results[i].push(measure(&sides[i].1, &token, seconds).await);
        }
    }
    let mean = |runs: &Vec<(f64, f64, f64)>| {
        let n = runs.len() as f64;
        (
            runs.iter().map(|r| r.0).sum::<f64>() / n,
            runs.iter().map(|r| r.1).sum::<f64>() / n,
            runs.iter().map(|r| r.2).sum::<f64>() / n,
        )
    };
    let anchor = mean(&results[0]);
    let one_behind = mean(&results[1]).0;
    println!(
        "\nScale-out: documents page + keyword search, {CLIENTS} keep-alive clients, {seconds} s \
         × 2 rounds per side, one PostgreSQL + Redis, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<30} {:>10} {:>9} {:>9} {:>12} {:>14}",
        "side", "req/s", "p50 ms", "p95 ms", "vs anchor", "per-replica eff."
    );
    for ((name, _, count), runs) in sides.iter().zip(&results) {
        let (rate, p50, p95) = mean(runs);
        let efficiency = if name.starts_with("HAProxy") {
            format!("{:.0} %", 100.0 * rate / (*count as f64 * one_behind))
        } else {
            "—".to_owned()
        };
        println!(
            "{name:<30} {rate:>10.0} {p50:>9.2} {p95:>9.2} {:>11.2}× {efficiency:>14}",
            rate / anchor.0
        );
    }
    println!(
        "the balancer's added p50 latency (1 replica): {:.2} ms",
        mean(&results[1]).1 - anchor.1
    );
    for mut child in balancers {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Ok(pool) = sqlx::PgPool::connect(&database).await {
        let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
    }
}
