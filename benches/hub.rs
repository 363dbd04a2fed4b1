//! Run with: `cargo bench -p sp-benches --bench hub` (PostgreSQL rows when `DATABASE_URL` is
//! set: `eval "$(scripts/services.sh up)"`).
//!
//! Discovery over 10,000 registered services (by name, by name + version range, by tag, by
//! tool) on each registry store, and the invocation overhead of `Hub::invoke` (resolve,
//! schema check, breaker, instance choice) over the same HTTP call made directly with the
//! hub's transport, against an echo service on loopback. Interleaved; p50 / p95.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sp_core::hub::{
    Discovery, Hub, HubConfig, NewService, RegistryStore, ToolInvocation, ToolRequest, Transport,
};

const SERVICES: usize = 10_000;
const TAGS: usize = 100;

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.95))
}

fn definition(i: usize) -> NewService {
    serde_json::from_value(json!({
        "name": format!("svc-{:05}", i / 2),
        "version": format!("1.{}.0", i % 2),
        "base_url": format!("http://10.0.{}.{}:8080", i / 250, i % 250),
        "tags": [format!("tag-{}", i % TAGS)],
        "capabilities": [format!("cap-{}", i % 50)],
        "tools": [
            {"name": format!("tool_{i}"), "input_schema": {"type": "object",
                "properties": {"q": {"type": "string"}}}},
            {"name": "status", "input_schema": {"type": "object"}}
        ]
    }))
    .expect("definition")
}

async fn fill(hub: &Hub) -> Duration {
    let started = Instant::now();
    for i in 0..SERVICES {
        hub.register(definition(i)).await.expect("register");
    }
    started.elapsed()
}

/// Each query 330 times on a hub that reads the store every time (`resolve_cache_ms = 0`)
/// and on one that reuses answers (the default), interleaved.
async fn discovery(label: &str, hub: &Hub, reading: &Hub) {
    let fill_time = fill(hub).await;
    println!(
        "\n{label}: {SERVICES} service versions registered in {:.1} s",
        fill_time.as_secs_f64()
    );
    println!("| discovery | results | store read p50 / p95 ms | reused answer p50 / p95 ms |");
    println!("|---|---|---|---|");
    let queries: [(&str, Discovery); 4] = [
        (
            "by name",
            Discovery {
                name: Some("svc-01234".into()),
                ..Discovery::default()
            },
        ),
        (
            "by name + version ^1.1",
            Discovery {
                name: Some("svc-01234".into()),
                version: Some("^1.1".into()),
                ..Discovery::default()
            },
        ),
        (
            "by tool",
            Discovery {
                tool: Some("tool_4321".into()),
                ..Discovery::default()
            },
        ),
        (
            "by tag (1% of services)",
            Discovery {
                tag: Some("tag-42".into()),
                ..Discovery::default()
            },
        ),
    ];
    for (what, query) in queries {
        let (mut read, mut reused) = (Vec::new(), Vec::new());
        let mut results = 0;
        for run in 0..330 {
            for (target, samples) in [(reading, &mut read), (hub, &mut reused)] {
                let started = Instant::now();
                let found = target.discover(&query).await.expect("discover");
                if run >= 30 {
                    samples.push(started.elapsed());
                }
                results = found.len();
            }
        }
        let (read50, read95) = percentiles(read);
        let (p50, p95) = percentiles(reused);
        let verdict = |ms: f64| if ms <= 1.0 { "✓" } else { "✗" };
        println!(
            "| {what} | {results} | {read50:.3} / {read95:.3} {} | {p50:.3} / {p95:.3} {} |",
            verdict(read50),
            verdict(p50)
        );
    }
}

async fn echo_service() -> String {
    let app = axum::Router::new().route(
        "/tools/echo",
        axum::routing::post(
            |axum::Json(args): axum::Json<serde_json::Value>| async move { axum::Json(args) },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn invocation(label: &str, hub: &Hub, transport: &Arc<sp_data::HttpTransport>) {
    let url = echo_service().await;
    hub.register(
        serde_json::from_value(json!({
            "name": "echo", "version": "1.0.0", "base_url": url,
            "tools": [{"name": "echo", "input_schema": {"type": "object", "required": ["q"],
                "properties": {"q": {"type": "string", "maxLength": 100}}}}]
        }))
        .expect("definition"),
    )
    .await
    .expect("register");
    let arguments = json!({"q": "weather in Oslo"});
    let direct = ToolRequest {
        protocol: sp_core::hub::Protocol::Http,
        url: format!("{url}/tools/echo"),
        tool: "echo".into(),
        arguments: arguments.clone(),
        request_id: Some("bench".into()),
        idempotency_key: None,
        traceparent: None,
    };
    let mut through_hub = Vec::new();
    let mut straight = Vec::new();
    for run in 0..2_200 {
        let started = Instant::now();
        transport.call(direct.clone()).await.expect("direct");
        let direct_time = started.elapsed();
        let started = Instant::now();
        let mut call = ToolInvocation::new("echo", arguments.clone());
        call.request_id = Some("bench".into());
        hub.invoke(call).await.expect("invoke");
        let hub_time = started.elapsed();
        if run >= 200 {
            straight.push(direct_time);
            through_hub.push(hub_time);
        }
    }
    let (d50, d95) = percentiles(straight);
    let (h50, h95) = percentiles(through_hub);
    let overhead_us = (h50 - d50) * 1e3;
    println!("\n{label}: tool call to an echo service on loopback, 2,000 interleaved pairs");
    println!("| path | p50 ms | p95 ms |");
    println!("|---|---|---|");
    println!("| direct HTTP call (same client) | {d50:.3} | {d95:.3} |");
    println!("| `Hub::invoke` | {h50:.3} | {h95:.3} |");
    let verdict = if overhead_us <= 100.0 { "✓" } else { "✗" };
    println!("| **overhead p50** | **{overhead_us:.0} µs** (target ≤ 100 µs) {verdict} | |");
}

async fn bench(label: &str, store: Arc<dyn RegistryStore>) {
    // The benchmark's service listens on loopback, which the hub refuses unless told.
    let transport = Arc::new(
        sp_data::HttpTransport::with_policy(1 << 20, sp_core::hub::EgressPolicy::with_loopback())
            .expect("transport"),
    );
    let config = HubConfig {
        health_interval_secs: 0,
        allowed_networks: vec!["127.0.0.0/8".into()],
        ..HubConfig::default()
    };
    let reading = Hub::new(
        store.clone(),
        transport.clone(),
        HubConfig {
            resolve_cache_ms: 0,
            ..config.clone()
        },
    );
    let hub = Hub::new(store, transport.clone(), config);
    discovery(label, &hub, &reading).await;
    invocation(label, &hub, &transport).await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    bench(
        "embedded (SQLite)",
        Arc::new(sp_data::SqliteRegistryStore::new(&db)),
    )
    .await;
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let config = sp_core::config::DatabaseConfig {
            url: Some(url),
            schema: format!("hub_bench_{}", sp_core::Id::new().as_uuid().simple()),
            ..Default::default()
        };
        let pg = sp_data::PgStore::connect_lazy(&config).expect("pool");
        pg.migrate().await.expect("migrate");
        let store = sp_data::PgRegistryStore::new(&pg);
        bench("PostgreSQL", Arc::new(store)).await;
        let drop = format!("DROP SCHEMA \"{}\" CASCADE", config.schema);
        let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(pg.pool())
            .await;
    } else {
        println!("\n(DATABASE_URL unset: PostgreSQL rows skipped)");
    }
}
