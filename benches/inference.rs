//! Run with: `cargo bench -p sp-benches --bench inference`
//!
//! The inference engine against llama.cpp's own tools, same model, same threads, same machine,
//! in one run. Needs `SP_TEST_MODEL` (scripts/models.sh) and, for the anchors,
//! `SP_LLAMA_TOOLS` = the directory of `llama-bench` and `llama-server`
//! (scripts/llama-tools.sh builds them); without it only our figures are printed.
//! `SP_BENCH_THREADS` sets the threads (default: every core).

use std::time::{Duration, Instant};

use sp_benches::llama_tools::{LlamaBench, LlamaServer};
use sp_benches::median;
use sp_core::chat::{ChatMessage, Sampling};
use sp_llm::{Engine, EngineConfig};

// Five rounds: with three, single ratios moved by ±20% between runs on the shared VM.
const REPS: usize = 5;
/// Runs per llama-bench row (`-r 3`, averaged); ours do the same.
const LLAMA_BENCH_RUNS: usize = 3;
const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
];

fn engine(model: &str, slots: u32, threads: u32) -> Engine {
    let config = EngineConfig::new(model)
        .with_slots(slots)
        .with_context_per_slot(1024)
        .with_threads(threads);
    Engine::load(config).expect("model loads")
}

/// A prompt of exactly `n` tokens whose first token is unique to `rep` (below 62), so no
/// prompt reuses another's cache.
fn prompt_of(engine: &Engine, rep: usize, n: usize) -> String {
    let letters: Vec<char> = ('A'..='Z').chain('a'..='z').chain('0'..='9').collect();
    let mut text = format!("{} ", letters[rep % letters.len()]);
    let filler = "the quick brown fox jumps over the lazy dog and ";
    while engine.tokenize_prompt(&text).len() < n {
        text.push_str(filler);
    }
    while engine.tokenize_prompt(&text).len() > n {
        text.pop();
    }
    text
}

fn fixed_length(tokens: u32) -> Sampling {
    Sampling {
        max_tokens: tokens,
        ignore_eos: true,
        seed: Some(7),
        ..Sampling::default()
    }
}

/// Time to the first token and the decode rate after it, of one streamed completion.
async fn timed(engine: &Engine, prompt: &str, sampling: &Sampling) -> (Duration, f64, u32) {
    let started = Instant::now();
    let stream = engine.complete_stream(prompt, sampling).expect("stream");
    sp_benches::first_text_and_rate(started, stream).await
}

/// One round of prompt processing (128 tokens) and generation (64 sampled tokens), each the
/// mean of three runs like a `llama-bench -r 3` row.
async fn ours_pp_tg(engine: &Engine, round: usize) -> (f64, f64) {
    let (mut pp, mut tg) = (0.0, 0.0);
    for run in 0..LLAMA_BENCH_RUNS {
        // Distinct first tokens: no run reuses another's cache.
        let prompt = prompt_of(engine, round * LLAMA_BENCH_RUNS + run, 128);
        let started = Instant::now();
        engine
            .complete(&prompt, &Sampling::greedy(1))
            .await
            .expect("pp");
        pp += 128.0 / started.elapsed().as_secs_f64();
        let short = prompt_of(engine, (REPS + round) * LLAMA_BENCH_RUNS + run, 8);
        tg += timed(engine, &short, &fixed_length(64)).await.1;
    }
    let runs = LLAMA_BENCH_RUNS as f64;
    (pp / runs, tg / runs)
}

/// Aggregate tokens/s of concurrent 64-token generations, one per prompt (one round).
async fn ours_concurrent(engine: &Engine, prompts: &[String]) -> f64 {
    let sampling = fixed_length(64);
    let started = Instant::now();
    let done =
        futures::future::join_all(prompts.iter().map(|p| engine.complete(p, &sampling))).await;
    let tokens: u32 = done
        .into_iter()
        .map(|c| c.expect("ok").usage.completion_tokens)
        .sum();
    f64::from(tokens) / started.elapsed().as_secs_f64()
}

/// Time to first token of turn 2 of a chat vs a cold prompt of the same length.
async fn ours_turn2_ttft(model: &str, threads: u32) -> (f64, f64, u32) {
    let engine = engine(model, 2, threads);
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    let mut cached = 0;
    for (rep, word) in WORDS.iter().enumerate().take(REPS) {
        let mut messages = vec![
            ChatMessage::system(format!(
                "{word} You are a helpful assistant who answers briefly."
            )),
            ChatMessage::user(prompt_of(&engine, rep, 200)),
        ];
        let first = engine
            .chat(&messages, &Sampling::greedy(32))
            .await
            .expect("turn 1");
        messages.push(ChatMessage::assistant(first.text));
        messages.push(ChatMessage::user("Now say it again in one sentence."));
        let turn2 = engine.render_chat(&messages).expect("template");
        let (ttft, _, _) = timed(&engine, &turn2, &Sampling::greedy(1)).await;
        warm.push(ttft.as_secs_f64());
        let turn2_len = engine.tokenize_prompt(&turn2).len();
        let fresh = prompt_of(&engine, rep + 3, turn2_len);
        let (ttft_cold, _, _) = timed(&engine, &fresh, &Sampling::greedy(1)).await;
        cold.push(ttft_cold.as_secs_f64());
        cached = u32::try_from(turn2_len).unwrap_or(0);
    }
    (median(warm) * 1e3, median(cold) * 1e3, cached)
}

fn ratio(ours: f64, anchor: Option<f64>) -> String {
    anchor.map_or_else(|| "—".to_owned(), |a| format!("{:.2}×", ours / a))
}

fn fmt(anchor: Option<f64>) -> String {
    anchor.map_or_else(|| "—".to_owned(), |a| format!("{a:.1}"))
}

#[tokio::main]
async fn main() {
    let model = std::env::var("SP_TEST_MODEL").expect("set SP_TEST_MODEL (scripts/models.sh)");
    let threads = sp_benches::bench_threads();
    let tools = std::env::var("SP_LLAMA_TOOLS").ok();
    println!("model {model}, {threads} threads, medians of {REPS}");

    // Rounds alternate between the two sides so both see the same machine noise (on a
    // shared 2-core VM, llama-bench alone varied by 30% between runs).
    let single = engine(&model, 1, threads);
    let batched: Vec<(usize, Engine)> = [1usize, 4, 8]
        .into_iter()
        .map(|n| (n, engine(&model, u32::try_from(n).unwrap_or(1), threads)))
        .collect();
    let mut ours_pp = Vec::new();
    let mut ours_tg = Vec::new();
    let mut anchor_pp = Vec::new();
    let mut anchor_tg = Vec::new();
    let mut ours_n: Vec<Vec<f64>> = vec![Vec::new(); batched.len()];
    let mut anchor_n: Vec<Vec<f64>> = vec![Vec::new(); batched.len()];
    let mut version = String::new();
    for round in 0..REPS {
        if let Some(dir) = tools.as_deref() {
            let b = LlamaBench::run(dir, &model, threads).expect("llama-bench runs");
            anchor_pp.push(b.pp128);
            anchor_tg.push(b.tg64);
            version = b.version;
        }
        let (pp, tg) = ours_pp_tg(&single, round).await;
        ours_pp.push(pp);
        ours_tg.push(tg);
        for (i, (n, engine)) in batched.iter().enumerate() {
            // Both sides get the very same prompts, 16 tokens each, none cached before.
            let prompts: Vec<String> = (0..*n)
                .map(|p| prompt_of(engine, round * n + p, 16))
                .collect();
            if let Some(dir) = tools.as_deref() {
                let server =
                    LlamaServer::start(dir, &model, threads, *n).expect("llama-server starts");
                anchor_n[i].push(
                    server
                        .aggregate_rate(&prompts, 64)
                        .await
                        .expect("llama-server answers"),
                );
            }
            ours_n[i].push(ours_concurrent(engine, &prompts).await);
        }
    }
    let some_median = |v: Vec<f64>| (!v.is_empty()).then(|| median(v));
    let (pp, tg) = (median(ours_pp), median(ours_tg));
    let (bench_pp, bench_tg) = (some_median(anchor_pp), some_median(anchor_tg));

    println!("\n| measure | sp-llm | llama.cpp | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| pp128 tok/s vs llama-bench | {pp:.1} | {} | {} | ≥ 1.0× |",
        fmt(bench_pp),
        ratio(pp, bench_pp)
    );
    println!(
        "| tg64 tok/s (sampling) vs llama-bench tg (no sampling) | {tg:.1} | {} | {} | ≥ 0.95× |",
        fmt(bench_tg),
        ratio(tg, bench_tg)
    );
    for (i, (n, _)) in batched.iter().enumerate() {
        let ours = median(ours_n[i].clone());
        let anchor = some_median(anchor_n[i].clone());
        println!(
            "| {n} stream(s), aggregate tok/s vs llama-server --parallel {n} | {ours:.1} | {} | {} | ≥ 1.0× |",
            fmt(anchor),
            ratio(ours, anchor)
        );
    }

    let (warm, cold, len) = ours_turn2_ttft(&model, threads).await;
    println!(
        "| chat turn 2 TTFT vs cold prompt of the same length ({len} tokens), ms | {warm:.1} | {cold:.1} (cold) | {:.0}% | ≤ 20% |",
        warm / cold * 100.0
    );
    if !version.is_empty() {
        println!(
            "\nllama.cpp side: {version} (llama-cpp-python 0.3.36 sdist, OpenMP on); sp-llm: llama-cpp-sys-2 0.1.161 (OpenMP off)"
        );
    }
}
