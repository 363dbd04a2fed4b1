//! A PostgreSQL failover under ingest load, as a scenario both failover tests run: writers
//! post numbered documents to `sp` (directly, or through a balancer), the primary crashes,
//! readiness turns 503, a failover manager promotes the standby, readiness recovers by itself,
//! and every acknowledged document is present — the gap answered only with 503.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn readiness(addr: &str) -> u16 {
    sp_tests::http(addr, "GET", "/health/ready", &[], b"")
        .await
        .map(|reply| reply.status)
        .unwrap_or(0)
}

/// Polls readiness every 50 ms until it is `status`; the time it took.
async fn until_ready_is(addr: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    while readiness(addr).await != status {
        assert!(
            started.elapsed() < within,
            "readiness never became {status} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// Every document title, read page by page through `sp`.
async fn titles(addr: &str, headers: &[(&str, &str)]) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let path = if cursor.is_empty() {
            "/v1/documents?limit=100".to_owned()
        } else {
            format!("/v1/documents?limit=100&cursor={cursor}")
        };
        let page = sp_tests::http(addr, "GET", &path, headers, b"")
            .await
            .expect("list");
        assert_eq!(page.status, 200, "{}", page.body);
        let body = page.json();
        for item in body["items"].as_array().expect("items") {
            seen.insert(item["title"].as_str().expect("title").to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return seen,
        }
    }
}

/// What a failover under ingest measured.
pub struct Failover {
    /// From the crash to ready again.
    pub outage: Duration,
    /// Documents acknowledged (201), and before the promotion.
    pub acknowledged: usize,
    pub before_promotion: usize,
    /// Writes refused during the gap (all 503).
    pub refused: usize,
}

/// Three writers ingest through `addr` with `token` (documents:read and write); once 30 are
/// acknowledged `crash` runs; once readiness at `addr` is 503 `failover` runs; readiness must
/// come back and 20 more writes be acknowledged. Asserts that no acknowledged document is
/// lost and that the gap was answered only with 503.
pub async fn failover_under_ingest(
    addr: &str,
    token: &str,
    crash: impl FnOnce(),
    failover: impl FnOnce(),
) -> Failover {
    let auth = format!("Bearer {token}");
    // Writers: numbered documents, each recorded only once sp acknowledged it (201).
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    // The status of each refused write (0: no HTTP answer).
    let refused = Arc::new(Mutex::new(Vec::<u16>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let (addr, auth) = (addr.to_owned(), auth.clone());
        let (acknowledged, refused, stop) = (acknowledged.clone(), refused.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let title = format!("doc-{writer}-{n}");
                let body = format!(r#"{{"title":"{title}","content":"Written under failover."}}"#);
                match sp_tests::http(&addr, "POST", "/v1/documents", &headers, body.as_bytes())
                    .await
                {
                    Ok(reply) if reply.status == 201 => {
                        acknowledged.lock().expect("lock").push(title)
                    }
                    Ok(reply) => refused.lock().expect("lock").push(reply.status),
                    Err(_) => refused.lock().expect("lock").push(0),
                }
                n += 1;
            }
        }));
    }
    let acked = || acknowledged.lock().expect("lock").len();
    let started = Instant::now();
    while acked() < 30 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ingest is too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    crash();
    let crashed = Instant::now();
    // Readiness reports the gap; a failover manager would act now.
    until_ready_is(addr, 503, Duration::from_secs(20)).await;
    let before_promotion = acked();
    failover();
    until_ready_is(addr, 200, Duration::from_secs(30)).await;
    let outage = crashed.elapsed();
    // Writes flow again through the same processes, on the new primary.
    let resumed = Instant::now();
    while acked() < before_promotion + 20 {
        assert!(
            resumed.elapsed() < Duration::from_secs(30),
            "no writes acknowledged after the failover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }

    let headers = [("authorization", auth.as_str())];
    let stored = titles(addr, &headers).await;
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|title| !stored.contains(*title))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let refused = refused.lock().expect("lock").clone();
    // The gap is a retryable 503 (SP-GEN-002), never an internal error.
    assert!(refused.iter().all(|status| *status == 503), "{refused:?}");
    Failover {
        outage,
        acknowledged: acknowledged.len(),
        before_promotion,
        refused: refused.len(),
    }
}
