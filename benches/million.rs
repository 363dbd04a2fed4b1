//! Run with: `cargo bench -p sp-benches --bench million -- [SECTIONS] [DIR]`
//! (defaults: 1000000, the workspace's `target/bench-million`)
//!
//! A million 384-dimension sections in the embedded store (clustered synthetic data, a
//! thousand clusters, ten sections a document): the store is built once in DIR and kept, so
//! later runs skip the ingest. Prints the open time from the saved index (median of three
//! opens) beside the open the store had before it was saved — SQLite read, then the graph
//! rebuilt on a background thread (searches exact until then) — the vector top-10 p50 / p95
//! and recall@10 against exact brute force at three ef_search values, and the memory the
//! open store takes. `-- --open-only` (once built) times the three opens alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sp_benches::clustered_store::{PER_DOC, ingest, percentile};
use sp_core::knowledge::{DocumentStore, Namespace};
use sp_data::{SqliteDocumentStore, SqliteStore};
use sp_tests::Clustered;

const DIMS: usize = 384;
const QUERIES: usize = 200;
const K: usize = 10;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn dir_mib(dir: &Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    bytes as f64 / (1024.0 * 1024.0)
}

async fn open(dir: &Path) -> (SqliteStore, SqliteDocumentStore) {
    let db = SqliteStore::open(dir).await.expect("sqlite");
    let store = SqliteDocumentStore::open(&db, DIMS).await.expect("store");
    (db, store)
}

async fn wait_ready(store: &SqliteDocumentStore) {
    while !store.graph_ready() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The exact top-`K` of each query, as indexes into `data.vectors` (two threads).
fn exact_top(data: &Clustered) -> Vec<Vec<usize>> {
    let top_of = |query: &[f32]| {
        let mut scored: Vec<(f32, usize)> = data
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), i))
            .collect();
        scored.select_nth_unstable_by(K, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(K);
        scored.into_iter().map(|(_, i)| i).collect::<Vec<_>>()
    };
    let half = data.queries.len() / 2;
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            data.queries[..half]
                .iter()
                .map(|(q, _)| top_of(q))
                .collect::<Vec<_>>()
        });
        let mut second: Vec<Vec<usize>> = data.queries[half..]
            .iter()
            .map(|(q, _)| top_of(q))
            .collect();
        let mut all = first.join().expect("exact search thread");
        all.append(&mut second);
        all
    })
}

async fn build(dir: &Path, data: &Clustered) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("bench dir");
    let (_db, store) = open(dir).await;
    let store = Arc::new(store);
    let dyn_store: Arc<dyn DocumentStore> = store.clone();
    let started = Instant::now();
    let rate = ingest(&dyn_store, data).await;
    wait_ready(&store).await;
    store.save_index().await.expect("save");
    println!(
        "built: {} sections in {:.0} s ({rate:.0} sections/s, graph and saves included)",
        data.vectors.len(),
        started.elapsed().as_secs_f64()
    );
    std::fs::write(dir.join(format!("built-{}", data.vectors.len())), b"").expect("marker");
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        // Benches run in their package's folder: the workspace's target is one up.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-million")
    });
    let generate = || Clustered::generate(n, DIMS, (n / 1000).max(10), PER_DOC, QUERIES);
    let built = dir.join(format!("built-{n}")).exists();
    // `--open-only` on a built store: opens in a process that made no data first, as a
    // server's would.
    let open_only = built && std::env::args().any(|a| a == "--open-only");
    let data = if open_only { None } else { Some(generate()) };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        if let (false, Some(data)) = (built, &data) {
            build(&dir, data).await;
        }
        let snapshot = dir.join("sp.db.kb-index");

        let mut opens = Vec::new();
        let mut rss = None;
        for _ in 0..3 {
            let before = rss_mib();
            let started = Instant::now();
            let (db, store) = open(&dir).await;
            opens.push(started.elapsed());
            assert!(
                store.graph_ready(),
                "read from the saved index, not rebuilt"
            );
            // The first open's growth: later ones reuse what the allocator kept.
            rss.get_or_insert(rss_mib() - before);
            drop((store, db));
        }
        let Some(data) = data else {
            println!("opens from the saved index: {opens:?}");
            return;
        };
        let mut open_times = opens.clone();
        let open_p50 = percentile(&mut open_times, 0.5) / 1e3;

        let (db, store) = open(&dir).await;
        let truth = exact_top(&data);
        let ns = Namespace::default();
        for (query, _) in &data.queries {
            store
                .vector_search(&ns, query, K, None)
                .await
                .expect("warm");
        }
        let mut sweep = Vec::new();
        for ef in [128, 256, 512] {
            store.set_expansion_search(ef);
            let mut times = Vec::with_capacity(QUERIES);
            let mut found = 0;
            for ((query, _), exact) in data.queries.iter().zip(&truth) {
                let started = Instant::now();
                let hits = store
                    .vector_search(&ns, query, K, None)
                    .await
                    .expect("search");
                times.push(started.elapsed());
                for hit in hits {
                    let d: usize = hit.title.trim_start_matches("doc ").parse().unwrap_or(0);
                    if exact.contains(&(d * PER_DOC + hit.section.ordinal as usize)) {
                        found += 1;
                    }
                }
            }
            let recall = found as f64 / (QUERIES * K) as f64;
            let p50 = percentile(&mut times, 0.5);
            sweep.push((ef, p50, percentile(&mut times, 0.95), recall));
        }
        let rss = rss.unwrap_or(0.0);
        drop((store, db));

        // The open before this change: no saved index.
        let aside = dir.join("kb-index.aside");
        std::fs::rename(&snapshot, &aside).expect("set the saved index aside");
        let started = Instant::now();
        let (db, store) = open(&dir).await;
        let rebuild_open = started.elapsed();
        wait_ready(&store).await;
        let rebuild_ready = started.elapsed();
        store.save_index().await.expect("save");
        drop((store, db));
        let _ = std::fs::remove_dir_all(&aside);

        println!("\n### {n} × {DIMS} sections, embedded store (2 threads)\n");
        println!("| open | returns in s | graph ready in s |");
        println!("|---|---|---|");
        println!(
            "| saved index (median of 3: {}) | {open_p50:.2} | {open_p50:.2} |",
            opens
                .iter()
                .map(|d| format!("{:.2}", d.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "| rebuild from SQLite (before) | {:.2} | {:.1} |",
            rebuild_open.as_secs_f64(),
            rebuild_ready.as_secs_f64()
        );
        println!("\n| ef_search | top-{K} p50 ms | p95 ms | recall@{K} |");
        println!("|---|---|---|---|");
        for (ef, p50, p95, recall) in sweep {
            println!("| {ef} | {p50:.3} | {p95:.3} | {recall:.3} |");
        }
        println!(
            "\nopen store RSS +{rss:.0} MiB; database {:.0} MiB, saved index {:.0} MiB",
            std::fs::metadata(dir.join("sp.db"))
                .map(|m| m.len())
                .unwrap_or(0) as f64
                / (1024.0 * 1024.0),
            dir_mib(&snapshot),
        );
    });
}
