//! Run with: `cargo bench -p sp-benches --bench contexts` (Redis rows when `REDIS_URL` is
//! set: `eval "$(scripts/services.sh up)"`).
//!
//! Context assembly of a 1,000-message context (no compaction): the assembly itself
//! (`plan`, counts already stored) and end to end through `Contexts::assemble` on each
//! store (loading the messages included). Cache get latency: in-process and Redis on
//! loopback. Printed as a table: p50 / p95.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sp_core::cache::Cache;
use sp_core::chat::Role;
use sp_core::context::{
    AssemblyInput, Budget, ContextStore, Contexts, MemoryContextStore, NewContext, NewMessage,
    Plan, plan,
};
use sp_core::knowledge::SimpleTokenizer;

const MESSAGES: usize = 1000;

fn budget() -> Budget {
    Budget {
        context_window: 1 << 20,
        reply_tokens: 512,
        retrieval_tokens: 0,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64();
    (at(0.5), at(0.95))
}

async fn time<F, Fut>(runs: usize, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..runs / 10 {
        f().await;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    percentiles(samples)
}

async fn filled(store: Arc<dyn ContextStore>) -> (Contexts, sp_core::Id) {
    let contexts = Contexts::new(store, Arc::new(SimpleTokenizer));
    let ctx = contexts
        .create(NewContext::default().with_system_prompt("You are a helpful assistant."))
        .await
        .expect("create");
    for i in 0..MESSAGES {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        let text = format!("message {i}: a sentence of ordinary length about the voyage so far.");
        contexts
            .append(&ctx.namespace, ctx.id, NewMessage::new(role, text))
            .await
            .expect("append");
    }
    (contexts, ctx.id)
}

fn row(what: &str, (p50, p95): (f64, f64), unit: f64, unit_name: &str, target: &str) {
    println!(
        "| {what} | {:.3} {unit_name} | {:.3} {unit_name} | {target} |",
        p50 * unit,
        p95 * unit
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("| what | p50 | p95 | target |\n|---|---|---|---|");
    let (contexts, id) = filled(Arc::new(MemoryContextStore::default())).await;
    let ns = sp_core::knowledge::Namespace::default();
    let live = contexts.store().live_messages(&ns, id).await.expect("live");
    let input = AssemblyInput {
        system_prompt: Some("You are a helpful assistant."),
        memory: &[],
        live: &live,
        retrieved: &[],
    };
    let planned = time(500, || async {
        let Ok(Plan::Fits(prompt)) = plan(&input, &budget(), 256, &SimpleTokenizer) else {
            panic!("fits");
        };
        assert_eq!(prompt.messages.len(), MESSAGES + 1);
    })
    .await;
    row(
        "assembly, 1,000 messages (plan)",
        planned,
        1e3,
        "ms",
        "≤ 1 ms",
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    let stores: Vec<(&str, Arc<dyn ContextStore>)> = {
        let mut stores: Vec<(&str, Arc<dyn ContextStore>)> = vec![
            ("in-process", Arc::new(MemoryContextStore::default())),
            ("embedded", Arc::new(sp_data::SqliteContextStore::new(&db))),
        ];
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let config = sp_core::config::DatabaseConfig {
                url: Some(url),
                schema: "ctx_bench".into(),
                ..Default::default()
            };
            let pg = sp_data::PgStore::connect_lazy(&config).expect("pool");
            sqlx::raw_sql("DROP SCHEMA IF EXISTS ctx_bench CASCADE")
                .execute(pg.pool())
                .await
                .expect("drop");
            pg.migrate().await.expect("migrate");
            stores.push(("postgres", Arc::new(sp_data::PgContextStore::new(&pg))));
        }
        stores
    };
    for (name, store) in stores {
        let (contexts, id) = filled(store).await;
        let e2e = time(50, || async {
            let prompt = contexts
                .assemble(&ns, id, &budget())
                .await
                .expect("assemble");
            assert_eq!(prompt.messages.len(), MESSAGES + 1);
        })
        .await;
        row(
            &format!("assembly, 1,000 messages, loaded from {name}"),
            e2e,
            1e3,
            "ms",
            "—",
        );
    }

    let memory = sp_data::MemoryCache::new(&sp_core::config::CacheConfig::default());
    memory
        .set("bench:k", &[7u8; 512], Duration::from_secs(600))
        .await;
    let got = time(100_000, || async {
        assert!(memory.get("bench:k").await.is_some());
    })
    .await;
    row("cache get, in-process (512 B)", got, 1e6, "µs", "≤ 1 µs");

    if let Ok(url) = std::env::var("REDIS_URL") {
        let store = sp_data::RedisStore::connect(&url).expect("redis");
        let redis = sp_data::RedisCache::new(&store, Duration::from_millis(500));
        for _ in 0..100 {
            redis
                .set("sp:bench:k", &[7u8; 512], Duration::from_secs(600))
                .await;
            if redis.get("sp:bench:k").await.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = time(5_000, || async {
            assert!(redis.get("sp:bench:k").await.is_some());
        })
        .await;
        row(
            "cache get, Redis on loopback (512 B)",
            got,
            1e6,
            "µs",
            "≤ 200 µs",
        );
    }
}
