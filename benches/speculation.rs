//! Run with: `cargo bench -p sp-benches --bench speculation` (needs `SP_TEST_MODEL`;
//! `SP_BENCH_THREADS` sets the threads, default every core).
//!
//! Prompt-lookup speculative decoding against the same engine without it: greedy decode rate
//! (tokens/s after the first text) on an answer that quotes its passage, a JSON rewrite of a
//! JSON input, and free text with nothing to quote (what speculation costs when its guesses
//! fail). Same model, threads and prompts; sides alternate round by round; medians. The last
//! column says where the two outputs first differ, if they do: guesses are verified in a
//! batch, whose floating-point sums can round differently from one-token steps, so a near-tie
//! late in a long output can flip. Target (issue 24): ≥ 1.5× on the quoting and rewriting
//! rows, and ≥ 1.0× llama-server with its n-gram speculation.
//!
//! Anchor (with `SP_LLAMA_TOOLS`, scripts/llama-tools.sh): llama-server on the same model
//! and rendered prompts, greedy, without speculation and with `--spec-type ngram-simple`
//! (its defaults), decode rate as its own `timings` report it; interleaved with our rounds.

use std::time::Instant;

use sp_benches::llama_slots::greedy_decode;
use sp_benches::llama_tools::LlamaServer;
use sp_benches::median;
use sp_core::chat::{ChatMessage, Sampling};
use sp_llm::{Engine, EngineConfig};

const ROUNDS: usize = 5;
const MAX_TOKENS: u32 = 160;

fn workloads() -> Vec<(&'static str, Vec<ChatMessage>)> {
    let passage = "The lighthouse at Point Ross was built in 1874 from granite quarried on the \
        island. Its lamp burned whale oil until 1902, when a kerosene burner replaced it, and it \
        was electrified in 1931. The keeper's cottage, added in 1880, now houses a museum of \
        shipwrecks. The light was automated in 1965 and the last keeper left in 1966.";
    let record = r#"{"id": 4471, "name": "Point Ross Light", "built": 1874, "material": "granite", "fuel": ["whale oil", "kerosene", "electric"], "automated": 1965, "museum": true, "keeper_left": 1966, "height_m": 31, "range_nm": 18}"#;
    vec![
        (
            "RAG answer quoting its passage",
            vec![
                ChatMessage::system("Answer by quoting the passage word for word."),
                ChatMessage::user(format!(
                    "Passage: {passage}\nQuestion: What is the history of the lighthouse's lamp and keepers?"
                )),
            ],
        ),
        (
            "JSON rewrite of a JSON input",
            vec![ChatMessage::user(format!(
                "Rewrite this JSON with every key in upper case and the same values:\n{record}"
            ))],
        ),
        (
            "free text (nothing to quote)",
            vec![ChatMessage::user(
                "Write a short story about a dragon who learns to bake.",
            )],
        ),
    ]
}

/// Decode rate and text of one streamed greedy chat.
async fn rate(engine: &Engine, ask: &[ChatMessage]) -> (f64, String) {
    let sampling = Sampling::greedy(MAX_TOKENS);
    let text = engine.chat(ask, &sampling).await.expect("chat").text;
    let stream = engine.chat_stream(ask, &sampling).expect("stream");
    let (_, rate, _) = sp_benches::first_text_and_rate(Instant::now(), stream).await;
    (rate, text)
}

/// llama-server without and with n-gram speculation, when `SP_LLAMA_TOOLS` names it.
fn anchors(model: &str, threads: u32) -> Option<(LlamaServer, LlamaServer)> {
    let tools = std::env::var("SP_LLAMA_TOOLS").ok()?;
    let start = |extra: &[&str]| {
        let args = [&["--parallel", "1", "-c", "2048"][..], extra].concat();
        LlamaServer::start_with(&tools, model, threads, &args).expect("llama-server starts")
    };
    Some((start(&[]), start(&["--spec-type", "ngram-simple"])))
}

/// One round of llama-server: (without, with n-gram speculation) tok/s, and the drafted and
/// accepted tokens of the speculating side.
async fn llama_round(servers: &(LlamaServer, LlamaServer), prompt: &str) -> (f64, f64, u64, u64) {
    let (off, ..) = greedy_decode(&servers.0, prompt, MAX_TOKENS)
        .await
        .expect("llama-server");
    let (on, _, drafted, accepted) = greedy_decode(&servers.1, prompt, MAX_TOKENS)
        .await
        .expect("llama-server");
    (off, on, drafted, accepted)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let threads = sp_benches::bench_threads();
    let config = EngineConfig::new(&model)
        .with_slots(1)
        .with_context_per_slot(2048)
        .with_threads(threads);
    let plain = Engine::load(config.clone()).expect("model loads");
    let fast = Engine::load(config.with_speculation(true)).expect("model loads");
    let servers = anchors(&model, threads);
    println!("speculation: {threads} threads, greedy, up to {MAX_TOKENS} tokens, {ROUNDS} rounds");
    println!();
    println!(
        "| workload | without, tok/s | prompt lookup, tok/s | speed-up | guesses accepted | same output |"
    );
    println!("|---|---|---|---|---|---|");
    let mut anchor_rows = Vec::new();
    for (name, ask) in workloads() {
        let before = fast.stats();
        let (mut off, mut on, mut same) = (vec![], vec![], String::from("yes"));
        let prompt = plain.render_chat(&ask).expect("render");
        let (mut llama_off, mut llama_on, mut llama_drafts) = (vec![], vec![], (0, 0));
        for round in 0..ROUNDS {
            // llama-server goes first in odd rounds, last in even ones.
            let mut anchor = None;
            if let (1, Some(servers)) = (round % 2, &servers) {
                anchor = Some(llama_round(servers, &prompt).await);
            }
            let ((a, text_a), (b, text_b)) = if round % 2 == 0 {
                let a = rate(&plain, &ask).await;
                (a, rate(&fast, &ask).await)
            } else {
                let b = rate(&fast, &ask).await;
                (rate(&plain, &ask).await, b)
            };
            if text_a != text_b {
                let at = text_a
                    .chars()
                    .zip(text_b.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                same = format!("no: from character {at} of {}", text_a.chars().count());
            }
            off.push(a);
            on.push(b);
            if let (0, Some(servers)) = (round % 2, &servers) {
                anchor = Some(llama_round(servers, &prompt).await);
            }
            if let Some((a, b, drafted, accepted)) = anchor {
                llama_off.push(a);
                llama_on.push(b);
                llama_drafts = (llama_drafts.0 + drafted, llama_drafts.1 + accepted);
            }
        }
        let after = fast.stats();
        let drafted = after.draft_tokens - before.draft_tokens;
        let accepted = after.draft_accepted - before.draft_accepted;
        let (off, on) = (median(off), median(on));
        println!(
            "| {name} | {off:.1} | {on:.1} | {:.2}× | {accepted} of {drafted} | {same} |",
            on / off
        );
        if !llama_off.is_empty() {
            anchor_rows.push((name, median(llama_off), median(llama_on), llama_drafts, on));
        }
    }
    if !anchor_rows.is_empty() {
        println!();
        println!(
            "| workload | llama-server, tok/s | llama-server ngram-simple, tok/s | its speed-up | its drafts accepted | ours (prompt lookup) vs its ngram |"
        );
        println!("|---|---|---|---|---|---|");
        for (name, off, on, (drafted, accepted), ours) in anchor_rows {
            println!(
                "| {name} | {off:.1} | {on:.1} | {:.2}× | {accepted} of {drafted} | {:.2}× |",
                on / off,
                ours / on
            );
        }
    }
}
