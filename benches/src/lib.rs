//! Shared helpers for the benchmarks.

pub mod llama_tools;

pub use sp_tests::http;

use std::time::{Duration, Instant};

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
