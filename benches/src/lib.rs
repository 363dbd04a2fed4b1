//! Shared helpers for the benchmarks.

pub mod clustered_store;
pub mod llama_slots;
pub mod llama_tools;

pub use sp_tests::http;

use std::time::{Duration, Instant};

use sp_tests::Rng;

/// Runs `op` `iters` times after `iters / 10` warm-up runs, and returns the median of five
/// rounds of the mean time per call.
pub async fn median_per_call<F, Fut>(iters: u32, mut op: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iters / 10 {
        op().await;
    }
    let mut rounds = Vec::with_capacity(5);
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..iters {
            op().await;
        }
        rounds.push(started.elapsed() / iters);
    }
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// Reads a generation's events to the end: time from `started` to the first text, the decode
/// rate after it (tokens/s), and the tokens generated.
pub async fn first_text_and_rate<S>(started: Instant, mut stream: S) -> (Duration, f64, u32)
where
    S: futures::Stream<Item = sp_core::Result<sp_core::chat::StreamEvent>> + Unpin,
{
    use futures::StreamExt as _;
    let mut first = None;
    while let Some(event) = stream.next().await {
        match event.expect("no error mid-stream") {
            sp_core::chat::StreamEvent::Delta { .. } => {
                first.get_or_insert_with(Instant::now);
            }
            sp_core::chat::StreamEvent::Done { usage, .. } => {
                let first = first.unwrap_or_else(Instant::now);
                let rate = f64::from(usage.completion_tokens.saturating_sub(1))
                    / first.elapsed().as_secs_f64().max(1e-9);
                return (first - started, rate, usage.completion_tokens);
            }
            _ => {}
        }
    }
    panic!("the stream ended without a Done event");
}

/// The vocabulary of the benchmarks' synthetic English text.
const WORDS: &[&str] = &[
    "the",
    "river",
    "carried",
    "small",
    "boats",
    "past",
    "old",
    "mills",
    "while",
    "children",
    "watched",
    "from",
    "a",
    "stone",
    "bridge",
    "engineers",
    "measured",
    "how",
    "fast",
    "water",
    "rose",
    "after",
    "storms",
    "in",
    "spring",
    "farmers",
    "planted",
    "barley",
    "near",
    "town",
];

/// `n` words drawn by `rng` (the same ones for the same seed, every run).
pub fn words(rng: &mut Rng, n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|_| WORDS[(rng.next_u64() % WORDS.len() as u64) as usize])
        .collect()
}

/// The pgvector HNSW builds to measure, from `SP_BENCH_HNSW` (`m:ef_construction` pairs,
/// comma-separated; pgvector's default `16:64` when unset). Each pair is what
/// `database.hnsw_m` / `database.hnsw_ef_construction` would configure.
pub fn hnsw_builds() -> Vec<(u32, u32)> {
    let spec = std::env::var("SP_BENCH_HNSW").unwrap_or_else(|_| "16:64".into());
    spec.split(',')
        .map(|pair| {
            let parsed = pair
                .split_once(':')
                .and_then(|(m, ef)| Some((m.trim().parse().ok()?, ef.trim().parse().ok()?)));
            parsed.unwrap_or_else(|| panic!("SP_BENCH_HNSW: {pair:?} is not m:ef_construction"))
        })
        .collect()
}

/// The middle value of `values` (the upper of the two middle ones of an even count).
pub fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

/// The threads a model benchmark runs with: `SP_BENCH_THREADS`, else every core.
pub fn bench_threads() -> u32 {
    std::env::var("SP_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
        })
}
