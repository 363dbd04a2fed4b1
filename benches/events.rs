//! Run with: `cargo bench -p sp-benches --bench events` (PostgreSQL rows when `DATABASE_URL`
//! is set: `eval "$(scripts/services.sh up)"`).
//!
//! Append throughput of the event log (one event per call from 1 and 4 writers, and batches
//! of 100) and end-to-end live delivery latency: from the append call to the event in a
//! subscriber's hands — in-process on the embedded default; on PostgreSQL from one log to
//! another log over the same schema (what a second `sp` process sees, via LISTEN/NOTIFY).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sp_core::events::{EventBackend, EventLog, EventsConfig, NewEvent};

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.95))
}

fn event(stream: &str, n: usize) -> NewEvent {
    NewEvent {
        subject: Some(format!("order/{n}")),
        correlationid: Some(format!("req-{n}")),
        ..NewEvent::new(
            stream,
            "order.placed",
            json!({"n": n, "total": 12.5, "items": ["a", "b"]}),
        )
    }
}

async fn throughput(label: &str, log: &Arc<EventLog>) {
    println!("\n{label}: append throughput");
    println!("| mode | events | seconds | events/s |");
    println!("|---|---|---|---|");
    let single = 2_000;
    let started = Instant::now();
    for n in 0..single {
        log.append(event("single", n)).await.expect("append");
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "| 1 writer, 1 event per call | {single} | {took:.2} | {:.0} |",
        single as f64 / took
    );

    let writers = 4;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for n in 0..single / writers {
                    // Each writer its own stream: PostgreSQL appends them side by side.
                    log.append(event(&format!("writer-{w}"), n))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "| {writers} writers, own streams | {single} | {took:.2} | {:.0} |",
        single as f64 / took
    );

    let batches = 50;
    let started = Instant::now();
    for b in 0..batches {
        let batch = (0..100).map(|n| event("batched", b * 100 + n)).collect();
        log.append_all(batch).await.expect("append");
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "| batches of 100 | {} | {took:.2} | {:.0} |",
        batches * 100,
        (batches * 100) as f64 / took
    );
}

/// Appends on `writer`, receives on `reader`'s live feed; p50 / p95 of the round trips.
async fn latency(label: &str, writer: &Arc<EventLog>, reader: &Arc<EventLog>) {
    let mut live = reader.subscribe();
    let mut samples = Vec::new();
    for n in 0..530 {
        let started = Instant::now();
        let stored = writer.append(event("live", n)).await.expect("append");
        loop {
            let got = live.next().await.expect("live").expect("open");
            if got.id() == stored.id {
                break;
            }
        }
        if n >= 30 {
            samples.push(started.elapsed());
        }
    }
    let (p50, p95) = percentiles(samples);
    println!("| {label} | {p50:.3} | {p95:.3} |");
}

fn config() -> EventsConfig {
    EventsConfig::default()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    let embedded = Arc::new(EventLog::new(
        Arc::new(sp_data::SqliteEventStore::new(&db)),
        config(),
    ));
    throughput("embedded (SQLite)", &embedded).await;
    let mut rows = Vec::new();
    let pg = if let Ok(url) = std::env::var("DATABASE_URL") {
        let config_db = sp_core::config::DatabaseConfig {
            url: Some(url),
            schema: format!("events_bench_{}", sp_core::Id::new().as_uuid().simple()),
            ..Default::default()
        };
        let open = || async {
            let pg = sp_data::PgStore::connect_lazy(&config_db).expect("pool");
            pg.migrate().await.expect("migrate");
            let store = Arc::new(sp_data::PgEventStore::new(&pg));
            let log = Arc::new(EventLog::new(
                store.clone() as Arc<dyn EventBackend>,
                config(),
            ));
            store.follow(log.clone()).await.expect("follow");
            (pg, log)
        };
        let (pool, first) = open().await;
        let (_, second) = open().await;
        throughput("PostgreSQL", &first).await;
        rows.push((first, second));
        Some((pool, config_db.schema))
    } else {
        println!("\n(DATABASE_URL unset: PostgreSQL rows skipped)");
        None
    };
    println!("\nlive delivery, append call to subscriber, 500 events");
    println!("| path | p50 ms | p95 ms |");
    println!("|---|---|---|");
    latency("embedded, same process", &embedded, &embedded).await;
    for (first, second) in &rows {
        latency("PostgreSQL, same process", first, first).await;
        latency("PostgreSQL, another process (LISTEN/NOTIFY)", first, second).await;
    }
    if let Some((pg, schema)) = pg {
        let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(pg.pool())
            .await;
    }
}
