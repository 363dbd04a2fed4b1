//! Run with: `cargo bench -p sp-benches --bench load`
//!
//! A load test of the non-model API over loopback HTTP (keep-alive connections), **open
//! loop at fixed rates**: requests are sent on schedule whether or not earlier ones have
//! answered, and each latency counts from when the request was due — so a server that falls
//! behind shows it (no coordinated omission). The mix: `GET /health/live`, a page of
//! documents, a keyword search, an event append, a page of a stream, a context's messages.
//! Each rate runs `SP_LOAD_SECONDS` (10) s; rates double from 100 req/s (`SP_LOAD_RATES`
//! overrides, e.g. `100,150,200`) until p95 passes 200 ms. The server runs in this process on
//! the embedded default (SQLite and in-process indexes), as `sp serve` does with no URLs.
//!
//! `scripts/soak.sh` runs this at one rate for 30 minutes and prints p99, RSS and the
//! size of SQLite's write-ahead log per minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "load-admin-key-0123456789abcdef";

struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
    context: String,
}

impl Target {
    /// `None` when answered with a 2xx; otherwise what went wrong: the status, or how the
    /// request failed (`connect`, `timeout`, `other`).
    async fn send(&self, n: usize) -> Option<String> {
        let request = match n % 6 {
            0 => self.client.get(format!("{}/health/live", self.base)),
            1 => self
                .client
                .get(format!("{}/v1/documents?limit=10", self.base)),
            2 => self
                .client
                .post(format!("{}/v1/search", self.base))
                .json(&json!({"query": "harbour supplies", "k": 5, "mode": "keyword"})),
            3 => self
                .client
                .post(format!("{}/v1/events", self.base))
                .json(&json!({"stream": "load", "type": "tick", "data": {"n": n}})),
            4 => self
                .client
                .get(format!("{}/v1/events?stream=load&limit=10", self.base)),
            _ => self.client.get(format!(
                "{}/v1/contexts/{}/messages?limit=10",
                self.base, self.context
            )),
        };
        match request.bearer_auth(&self.token).send().await {
            Ok(reply) => {
                let status = reply.status();
                let _ = reply.bytes().await;
                (!status.is_success()).then(|| status.as_u16().to_string())
            }
            Err(err) if err.is_connect() => Some("connect".into()),
            Err(err) if err.is_timeout() => Some("timeout".into()),
            Err(_) => Some("other".into()),
        }
    }
}

/// Starts the server on a free loopback port; returns its base URL.
async fn serve(dir: &std::path::Path) -> String {
    let mut config = sp_core::Config {
        data_dir: dir.to_path_buf(),
        ..sp_core::Config::default()
    };
    config.auth.admin_key = Some(ADMIN.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = sp_server::AppState::open(config).await.expect("state");
    tokio::spawn(sp_server::serve(listener, state, std::future::pending()));
    format!("http://{addr}")
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let reply = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("setup request");
    assert!(reply.status().is_success(), "setup: {}", reply.status());
    reply.json().await.expect("json")
}

async fn prepare(base: String) -> Target {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let key = post(
        &client,
        format!("{base}/v1/keys"),
        ADMIN,
        json!({"name": "load", "scopes": ["documents:read", "documents:write", "events", "contexts"],
               "rate_limit": "10000000/min"}),
    )
    .await;
    let token = key["token"].as_str().expect("token").to_owned();
    for n in 0..20 {
        let doc = json!({"title": format!("Harbour log {n}"),
            "content": format!("Day {n}: the harbour took in supplies, {n} crates, and the wind held.")});
        post(&client, format!("{base}/v1/documents"), &token, doc).await;
    }
    let context = post(&client, format!("{base}/v1/contexts"), &token, json!({})).await;
    let context = context["id"].as_str().expect("id").to_owned();
    for n in 0..20 {
        let message = json!({"role": "user", "content": format!("message {n}")});
        post(
            &client,
            format!("{base}/v1/contexts/{context}/messages"),
            &token,
            message,
        )
        .await;
    }
    Target {
        client,
        base,
        token,
        context,
    }
}

/// Failed requests by what went wrong (a status, `connect`, `timeout`, `other`).
#[derive(Default)]
struct Failures(std::collections::BTreeMap<String, usize>);

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("0");
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(what, n)| format!("{n}× {what}"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Latencies (ms, from when each request was due) and failures at `rate` for `seconds`.
async fn run_at(target: &Arc<Target>, rate: u32, seconds: u32) -> (Vec<f64>, Failures) {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let due = start + interval * n as u32;
        tokio::time::sleep_until(due).await;
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let failed = target.send(n).await;
            (due.elapsed().as_secs_f64() * 1000.0, failed)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = Failures::default();
    for task in tasks {
        let (ms, failed) = task.await.expect("request task");
        latencies.push(ms);
        if let Some(what) = failed {
            *errors.0.entry(what).or_default() += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, errors)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or(0.0)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The embedded database's write-ahead log, in MiB: it should stay small when checkpoints
/// keep up with the writes.
fn wal_mib(dir: &std::path::Path) -> f64 {
    std::fs::metadata(dir.join("sp.db-wal")).map_or(0.0, |m| m.len() as f64 / 1048576.0)
}

#[tokio::main]
async fn main() {
    let seconds: u32 = std::env::var("SP_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rates: Vec<u32> = std::env::var("SP_LOAD_RATES")
        .ok()
        .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 200, 400, 800, 1600, 3200, 6400]);
    let soak_minutes: Option<u32> = std::env::var("SP_SOAK_MINUTES")
        .ok()
        .and_then(|s| s.parse().ok());
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Arc::new(prepare(serve(dir.path()).await).await);
    // Warm-up: connections opened, caches filled.
    run_at(&target, 50, 2).await;

    if let Some(minutes) = soak_minutes {
        let rate = rates.first().copied().unwrap_or(100);
        println!(
            "| minute | rate (req/s) | p50 (ms) | p99 (ms) | errors | RSS (MiB) | WAL (MiB) |"
        );
        println!("|---|---|---|---|---|---|---|");
        for minute in 1..=minutes {
            let (latencies, errors) = run_at(&target, rate, 60).await;
            println!(
                "| {minute} | {rate} | {:.1} | {:.1} | {errors} | {:.0} | {:.1} |",
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99),
                rss_mib(),
                wal_mib(dir.path())
            );
        }
        return;
    }

    println!("| rate (req/s) | requests | p50 (ms) | p95 (ms) | p99 (ms) | errors | RSS (MiB) |");
    println!("|---|---|---|---|---|---|---|");
    for rate in rates {
        let started = Instant::now();
        let (latencies, errors) = run_at(&target, rate, seconds).await;
        let p95 = percentile(&latencies, 0.95);
        println!(
            "| {rate} | {} in {:.1} s | {:.1} | {p95:.1} | {:.1} | {errors} | {:.0} |",
            latencies.len(),
            started.elapsed().as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            rss_mib()
        );
        if p95 > 200.0 {
            println!("p95 passed 200 ms at {rate} req/s");
            break;
        }
    }
}
