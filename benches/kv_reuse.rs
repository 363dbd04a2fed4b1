//! Run with: `cargo bench -p sp-benches --bench kv_reuse` (needs `SP_TEST_MODEL`;
//! `SP_BENCH_THREADS` sets the threads, default every core).
//!
//! Time to first token of a conversation's next turn, 8 live conversations of ~2k-token
//! histories on 4 slots: **cold** (the same prompt in a cache scope that holds nothing, so
//! it is prefilled whole), **after eviction** (four other conversations took the slot since
//! its last turn: its prefix comes back from the RAM prefix cache) and **warm** (its previous
//! turn just ran in its slot), then **after a restart** (a new engine on the same KV state
//! directory: the state saved after the previous turn comes back from disk). Sides alternate
//! round by round; medians. Targets (issue 24): warm ≤ 10 %, after eviction ≤ 15 %, after a
//! restart ≤ 25 % of cold. llama-server's `/slots` save/restore anchor is not wired yet.

use std::time::Instant;

use sp_benches::median;
use sp_core::Tokenizer as _;
use sp_core::chat::{ChatMessage, Sampling};
use sp_llm::{Engine, EngineConfig};

const CONVERSATIONS: usize = 8;
const SLOTS: u32 = 4;
const ROUNDS: usize = 4;

/// Conversation `i` at turn `turn`: a long system prompt of its own, the earlier turns with
/// fixed answers, then the new question.
fn conversation(i: usize, turn: usize) -> Vec<ChatMessage> {
    let notes: String = (1..=110)
        .map(|n| {
            format!(
                "Shelf {n} of archive {i} holds box {} of letters. ",
                n * 13 + i
            )
        })
        .collect();
    let mut messages = vec![ChatMessage::system(format!(
        "You are the archivist of archive {i}. {notes}"
    ))];
    for t in 0..turn {
        messages.push(ChatMessage::user(format!(
            "Which box is on shelf {}?",
            t + 2
        )));
        messages.push(ChatMessage::assistant(format!(
            "Shelf {} holds box {}.",
            t + 2,
            (t + 2) * 13 + i
        )));
    }
    messages.push(ChatMessage::user(format!(
        "Which box is on shelf {}?",
        turn + 2
    )));
    messages
}

/// Seconds to the first token (prefill and one token), and the prompt's cached tokens.
async fn first_token(engine: &Engine, messages: &[ChatMessage], scope: &str) -> (f64, u32) {
    let started = Instant::now();
    let done = engine
        .chat(messages, &Sampling::greedy(1).in_scope(scope))
        .await
        .expect("chat");
    (started.elapsed().as_secs_f64(), done.usage.cached_tokens)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let threads = sp_benches::bench_threads();
    let kv_dir = tempfile::tempdir().expect("tempdir");
    let config = EngineConfig::new(&model)
        .with_slots(SLOTS)
        .with_context_per_slot(4096)
        .with_threads(threads)
        .with_kv_state_dir(kv_dir.path());
    let engine = Engine::load(config.clone()).expect("model loads");
    let prompt = engine
        .render_chat(&conversation(0, 1))
        .map(|p| engine.count_tokens(&p).unwrap_or(0))
        .unwrap_or(0);
    println!(
        "kv_reuse: {CONVERSATIONS} conversations on {SLOTS} slots, ~{prompt}-token prompts, {threads} threads"
    );
    // Every conversation's first turn: 4 stay in slots, 4 went to RAM.
    for i in 0..CONVERSATIONS {
        first_token(&engine, &conversation(i, 0), "bench").await;
    }
    let (mut cold, mut evicted, mut warm) = (vec![], vec![], vec![]);
    let mut cached = (0u32, 0u32);
    for round in 0..ROUNDS {
        let i = round % CONVERSATIONS;
        let turn = 1 + round / CONVERSATIONS;
        let fresh = format!("cold-{round}");
        let measure_cold = async {
            let (seconds, hit) = first_token(&engine, &conversation(i, turn), &fresh).await;
            assert_eq!(hit, 0, "a fresh scope holds nothing");
            seconds
        };
        let measure_reuse = async {
            // Four other conversations take the slot conversation `i` had (their first turns
            // again: what they bring back is not measured, and nothing of turn `turn` is
            // computed before it is measured).
            for other in 1..=4 {
                let j = (i + other) % CONVERSATIONS;
                first_token(&engine, &conversation(j, 0), "bench").await;
            }
            let (after_eviction, from_ram) =
                first_token(&engine, &conversation(i, turn), "bench").await;
            let (in_slot, from_slot) =
                first_token(&engine, &conversation(i, turn + 1), "bench").await;
            (after_eviction, in_slot, from_ram, from_slot)
        };
        let (c, (e, w, from_ram, from_slot)) = if round % 2 == 0 {
            let c = measure_cold.await;
            (c, measure_reuse.await)
        } else {
            let r = measure_reuse.await;
            (measure_cold.await, r)
        };
        cold.push(c);
        evicted.push(e);
        warm.push(w);
        cached = (from_ram, from_slot);
    }
    let stats = engine.stats();
    // A restart: each measured conversation's last turn is on disk.
    let files = stats.kv_disk_files;
    drop(engine);
    let engine = Engine::load(config).expect("model loads again");
    let (mut restarted, mut from_disk) = (vec![], 0);
    for round in 0..ROUNDS {
        let i = round % CONVERSATIONS;
        let turn = 3 + round / CONVERSATIONS;
        let (seconds, hit) = first_token(&engine, &conversation(i, turn), "bench").await;
        restarted.push(seconds);
        from_disk = hit;
    }
    let (c, e, w) = (median(cold), median(evicted), median(warm));
    let r = median(restarted);
    println!();
    println!("| turn N, time to first token | median s | of cold | target |");
    println!("|---|---|---|---|");
    println!("| cold prefill (empty scope) | {c:.3} | 100 % | — |");
    println!(
        "| after eviction (RAM prefix cache; {} tokens restored) | {e:.3} | {:.1} % | ≤ 15 % |",
        cached.0,
        e / c * 100.0
    );
    println!(
        "| warm (in its slot; {} tokens cached) | {w:.3} | {:.1} % | ≤ 10 % |",
        cached.1,
        w / c * 100.0
    );
    println!(
        "| after a restart (disk; {from_disk} tokens restored) | {r:.3} | {:.1} % | ≤ 25 % |",
        r / c * 100.0
    );
    println!(
        "\nprefix cache: {} hits, {} misses, {} entries, {:.1} MiB; {files} state files on disk, {:.1} MiB",
        stats.prefix_cache_hits,
        stats.prefix_cache_misses,
        stats.prefix_cache_entries,
        stats.prefix_cache_bytes as f64 / f64::from(1u32 << 20),
        stats.kv_disk_bytes as f64 / f64::from(1u32 << 20)
    );
}
