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
//! restart ≤ 25 % of cold.
//!
//! Anchor (with `SP_LLAMA_TOOLS`, scripts/llama-tools.sh): llama-server on the same model,
//! slots and rendered prompts, alternating with ours round by round — cold (`cache_prompt`
//! off), its slot's state saved after a turn (`/slots/{id}?action=save`), four other
//! conversations in that slot, then restored (`?action=restore`) before the next turn (the
//! restore's time counted), and the turn after in the same slot (warm).

use std::time::Instant;

use sp_benches::llama_slots::{first_token_on, restore_slot, save_slot};
use sp_benches::llama_tools::LlamaServer;
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

/// llama-server's times, round by round.
#[derive(Default)]
struct AnchorTimes {
    cold: Vec<f64>,
    restored: Vec<f64>,
    warm: Vec<f64>,
    /// Prompt tokens the last restored turn computed.
    computed: u64,
}

impl AnchorTimes {
    fn push(&mut self, (cold, restored, warm, computed): (f64, f64, f64, u64)) {
        self.cold.push(cold);
        self.restored.push(restored);
        self.warm.push(warm);
        self.computed = computed;
    }
}

/// llama-server's times for conversation `i`'s turn `turn`: (cold, restored from its slot
/// file, warm) seconds and the prompt tokens the restored turn computed.
async fn llama_round(
    server: &LlamaServer,
    engine: &Engine,
    i: usize,
    turn: usize,
) -> (f64, f64, f64, u64) {
    let prompt =
        |i: usize, turn: usize| engine.render_chat(&conversation(i, turn)).expect("render");
    let slot = i % SLOTS as usize;
    let file = format!("conversation-{i}.bin");
    let cold = first_token_on(server, slot, &prompt(i, turn), false)
        .await
        .expect("llama-server");
    for other in 1..=4 {
        let j = (i + other) % CONVERSATIONS;
        first_token_on(server, slot, &prompt(j, 0), true)
            .await
            .expect("llama-server");
    }
    let restoring = restore_slot(server, slot, &file).await.expect("restore");
    let restored = first_token_on(server, slot, &prompt(i, turn), true)
        .await
        .expect("llama-server");
    let warm = first_token_on(server, slot, &prompt(i, turn + 1), true)
        .await
        .expect("llama-server");
    save_slot(server, slot, &file).await.expect("save");
    (
        cold.seconds,
        restoring + restored.seconds,
        warm.seconds,
        restored.computed,
    )
}

/// llama-server on `model` with our slots and window, saving slot states under `dir`, each
/// conversation's first turn run and saved.
async fn llama_server(
    tools: &str,
    model: &str,
    threads: u32,
    dir: &std::path::Path,
    engine: &Engine,
) -> LlamaServer {
    let window = (4096 * SLOTS).to_string();
    let slots = SLOTS.to_string();
    let save_path = dir.to_string_lossy().into_owned();
    let server = LlamaServer::start_with(
        tools,
        model,
        threads,
        &[
            "--parallel",
            &slots,
            "-c",
            &window,
            "--slot-save-path",
            &save_path,
        ],
    )
    .expect("llama-server starts");
    for i in 0..CONVERSATIONS {
        let prompt = engine.render_chat(&conversation(i, 0)).expect("render");
        let slot = i % SLOTS as usize;
        first_token_on(&server, slot, &prompt, true)
            .await
            .expect("llama-server");
        save_slot(&server, slot, &format!("conversation-{i}.bin"))
            .await
            .expect("save");
    }
    server
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
    let slot_files = tempfile::tempdir().expect("tempdir");
    let anchor = match std::env::var("SP_LLAMA_TOOLS") {
        Ok(tools) => Some(llama_server(&tools, &model, threads, slot_files.path(), &engine).await),
        Err(_) => None,
    };
    let mut llama = AnchorTimes::default();
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
        // Sides alternate: ours first in even rounds, llama-server first in odd ones.
        if round % 2 == 1
            && let Some(server) = &anchor
        {
            llama.push(llama_round(server, &engine, i, turn).await);
        }
        let (c, (e, w, from_ram, from_slot)) = if round % 2 == 0 {
            let c = measure_cold.await;
            (c, measure_reuse.await)
        } else {
            let r = measure_reuse.await;
            (measure_cold.await, r)
        };
        if round % 2 == 0
            && let Some(server) = &anchor
        {
            llama.push(llama_round(server, &engine, i, turn).await);
        }
        cold.push(c);
        evicted.push(e);
        warm.push(w);
        cached = (from_ram, from_slot);
    }
    drop(anchor);
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
    let llama_computed = llama.computed;
    if !llama.cold.is_empty() {
        let (c, r, w) = (
            median(llama.cold),
            median(llama.restored),
            median(llama.warm),
        );
        println!();
        println!("| llama-server (anchor), time to first token | median s | of its cold |");
        println!("|---|---|---|");
        println!("| cold prefill (`cache_prompt` off) | {c:.3} | 100 % |");
        println!(
            "| slot restored from its file, then the turn ({llama_computed} tokens computed) | {r:.3} | {:.1} % |",
            r / c * 100.0
        );
        println!("| warm (in its slot) | {w:.3} | {:.1} % |", w / c * 100.0);
    }
    println!(
        "\nprefix cache: {} hits, {} misses, {} entries, {:.1} MiB; {files} state files on disk, {:.1} MiB",
        stats.prefix_cache_hits,
        stats.prefix_cache_misses,
        stats.prefix_cache_entries,
        stats.prefix_cache_bytes as f64 / f64::from(1u32 << 20),
        stats.kv_disk_bytes as f64 / f64::from(1u32 << 20)
    );
}
