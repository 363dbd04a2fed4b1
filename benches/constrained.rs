//! Run with: `cargo bench -p sp-benches --bench constrained`
//!
//! Constrained JSON decoding against our own unconstrained decoding and against llama-server
//! with the same `json_schema`, same model, same threads, same prompt, greedy, alternating
//! sides round by round. Also our GBNF path (llama.cpp's grammar sampler over the schema's
//! GBNF) beside the llguidance path we chose. Needs `SP_TEST_MODEL`; `SP_LLAMA_TOOLS` (the
//! directory of `llama-server`, scripts/llama-tools.sh) adds the llama-server column.
//! `SP_BENCH_THREADS` sets the threads (default: every core).

use std::time::Instant;

use serde_json::{Value, json};
use sp_benches::llama_tools::LlamaServer;
use sp_benches::median;
use sp_core::chat::{ChatMessage, ChatOptions, ResponseFormat, Sampling};
use sp_llm::{Engine, EngineConfig};

const ROUNDS: usize = 5;
const MAX_TOKENS: u32 = 160;

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 60},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 6},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "author": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 40},
                "country": {"enum": ["France", "Norway", "Japan", "Other"]}
            }, "required": ["name", "country"], "additionalProperties": false},
            "summary": {"type": "string", "maxLength": 200}
        },
        "required": ["title", "tags", "rating", "author", "summary"],
        "additionalProperties": false
    })
}

fn messages(round: usize) -> Vec<ChatMessage> {
    let books = [
        "a sailing book",
        "a cook book",
        "a mystery novel",
        "a book on birds",
        "a travel guide",
    ];
    vec![
        ChatMessage::system("You are a helpful assistant."),
        ChatMessage::user(format!("Describe {} as JSON.", books[round % books.len()])),
    ]
}

/// Decode rate after the first token, and tokens generated, of one streamed chat.
async fn ours(
    engine: &Engine,
    messages: &[ChatMessage],
    sampling: &Sampling,
    options: &ChatOptions,
) -> (f64, u32) {
    let stream = engine
        .chat_stream_with(messages, sampling, options)
        .expect("stream");
    let (_, rate, tokens) = sp_benches::first_text_and_rate(Instant::now(), stream).await;
    (rate, tokens)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let model = sp_tests::service_url("SP_TEST_MODEL");
    let threads = sp_benches::bench_threads();
    let engine = Engine::load(
        EngineConfig::new(&model)
            .with_slots(1)
            .with_context_per_slot(1024)
            .with_threads(threads),
    )
    .expect("model loads");
    let guidance = ChatOptions {
        response_format: ResponseFormat::JsonSchema {
            name: "book".into(),
            schema: schema(),
            strict: true,
        },
        ..ChatOptions::default()
    };
    let gbnf = ChatOptions {
        response_format: ResponseFormat::Grammar {
            grammar: llama_cpp_2::json_schema_to_grammar(&schema().to_string()).expect("GBNF"),
        },
        ..ChatOptions::default()
    };
    let server = std::env::var("SP_LLAMA_TOOLS")
        .ok()
        .map(|dir| LlamaServer::start(&dir, &model, threads, 1).expect("llama-server starts"));
    // Warm-up: the token trie is built on the first constrained request.
    let _ = ours(&engine, &messages(0), &Sampling::greedy(8), &guidance).await;

    let (mut free, mut constrained, mut grammar, mut anchor) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let ask = messages(round);
        let greedy = Sampling::greedy(MAX_TOKENS);
        // Alternate which side goes first, so drift on the shared VM favours neither.
        let (c_rate, tokens) = if round % 2 == 0 {
            let c = ours(&engine, &ask, &greedy, &guidance).await;
            grammar.push(ours(&engine, &ask, &greedy, &gbnf).await.0);
            c
        } else {
            grammar.push(ours(&engine, &ask, &greedy, &gbnf).await.0);
            ours(&engine, &ask, &greedy, &guidance).await
        };
        constrained.push(c_rate);
        // Unconstrained: the same prompt and the same number of tokens.
        let same_length = Sampling {
            ignore_eos: true,
            ..Sampling::greedy(tokens.max(2))
        };
        free.push(
            ours(&engine, &ask, &same_length, &ChatOptions::default())
                .await
                .0,
        );
        if let Some(server) = &server {
            let prompt = engine.render_chat(&ask).expect("render");
            let (rate, _) = server
                .json_schema_rate(&prompt, &schema(), MAX_TOKENS)
                .await
                .expect("llama-server answers");
            anchor.push(rate);
        }
        println!(
            "round {round}: {tokens} tokens; llguidance {c_rate:.1} tok/s, GBNF {:.1}, unconstrained {:.1}{}",
            grammar[round],
            free[round],
            anchor
                .last()
                .map(|r| format!(", llama-server {r:.1}"))
                .unwrap_or_default()
        );
    }
    let (c, g, f) = (median(constrained), median(grammar), median(free));
    // Per-token cost of the grammar: the extra time each constrained token takes.
    let cost_us = (1.0 / c - 1.0 / f) * 1e6;
    println!(
        "\n## Constrained decoding — SmolLM2-135M Q4_1, {threads} threads, greedy, medians of {ROUNDS} rounds\n"
    );
    println!("| side | tok/s | ratio | target |\n|---|---|---|---|");
    println!("| unconstrained (same prompt, same length) | {f:.1} | 1.00× | |");
    println!(
        "| json_schema via llguidance (ours, chosen) | {c:.1} | {:.2}× unconstrained | ≥ 0.95× |",
        c / f
    );
    println!(
        "| json_schema via GBNF (llama.cpp's sampler in our engine) | {g:.1} | {:.2}× unconstrained | |",
        g / f
    );
    if !anchor.is_empty() {
        let a = median(anchor);
        println!(
            "| llama-server, same json_schema (GBNF) | {a:.1} | ours {:.2}× | ≥ 1.0× |",
            c / a
        );
    }
    println!("\nGrammar cost per token (llguidance): {cost_us:.0} µs");
}
