//! Run with: `cargo bench -p sp-benches --bench embeddings`
//!
//! Embedding throughput of all-MiniLM-L6-v2 against llama.cpp's own `llama-server
//! --embeddings`: the same 1,000 sentences of mixed length (3–60 words), sent as the same
//! requests of 32 sentences, one after another, 2 threads on each side, the sides taking
//! turns round by round. sp is measured twice: in process (`EmbeddingModel::embed`, what the
//! knowledge store calls) and through the reference server's `/v1/embeddings` over a
//! loopback socket with the same HTTP client as llama-server's. Needs `SP_TEST_EMBEDDER`
//! (scripts/models.sh minilm) and `SP_LLAMA_TOOLS` (scripts/llama-tools.sh) for the anchor;
//! without it only our figures are printed. `SP_BENCH_THREADS` sets the threads (2).

use std::time::Instant;

use sp_benches::llama_tools::{LlamaServer, embeddings_of};
use sp_benches::median;
use sp_core::Embedder as _;
use sp_llm::{EmbeddingModel, EngineConfig};
use sp_tests::Rng;

const SENTENCES: usize = 1_000;
const PER_REQUEST: usize = 32;
const ROUNDS: usize = 3;
const ADMIN: &str = "bench-admin-key-0123456789abcdef";

/// 1,000 sentences of 3 to 60 words, the same every run.
fn sentences() -> Vec<String> {
    let mut rng = Rng(42);
    (0..SENTENCES)
        .map(|_| {
            let words = 3 + (rng.next_u64() % 58) as usize;
            let mut text = sp_benches::words(&mut rng, words);
            text[0] = "The";
            format!("{}.", text.join(" "))
        })
        .collect()
}

/// Sentences per second of one pass over `requests`, each embedded by `embed`.
async fn pass<F, Fut>(requests: &[Vec<String>], mut embed: F) -> f64
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Vec<Vec<f32>>>,
{
    let started = Instant::now();
    let mut embedded = 0;
    for request in requests {
        let vectors = embed(request.clone()).await;
        assert_eq!(vectors.len(), request.len(), "one vector per sentence");
        embedded += vectors.len();
    }
    embedded as f64 / started.elapsed().as_secs_f64()
}

/// The reference server on the embedded default with MiniLM as its embedding model, on a
/// loopback port.
async fn sp_server(model: &str, threads: u32, data: &std::path::Path) -> String {
    let mut config = sp_core::Config {
        data_dir: data.to_path_buf(),
        ..sp_core::Config::default()
    };
    config.model.embedding_path = Some(model.into());
    config.model.threads = Some(threads);
    config.auth.admin_key = Some(ADMIN.into());
    config.auth.default_rate_limit = "1000000000/s".parse().expect("quota");
    let state = sp_server::AppState::open(config)
        .await
        .expect("server state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(sp_server::serve(listener, state, std::future::pending()));
    addr
}

async fn over_http(addr: &str, texts: Vec<String>, bearer: Option<&str>) -> Vec<Vec<f32>> {
    let body = serde_json::json!({"input": texts}).to_string();
    let auth = bearer.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    let reply = sp_benches::http(addr, "POST", "/v1/embeddings", &headers, body.as_bytes())
        .await
        .expect("request");
    assert_eq!(reply.status, 200, "{}", reply.body);
    embeddings_of(&reply.json()).expect("vectors")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let model = sp_tests::service_url("SP_TEST_EMBEDDER");
    let threads: u32 = std::env::var("SP_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let texts = sentences();
    let requests: Vec<Vec<String>> = texts.chunks(PER_REQUEST).map(<[String]>::to_vec).collect();

    let in_process = EmbeddingModel::load(EngineConfig::new(&model).with_threads(threads))
        .expect("MiniLM loads");
    let data = tempfile::tempdir().expect("tempdir");
    let server = sp_server(&model, threads, data.path()).await;
    let anchor = std::env::var("SP_LLAMA_TOOLS").ok().map(|dir| {
        // The same batches: up to 512 tokens (MiniLM's window) and 64 sequences per decode,
        // which is what sp packs.
        LlamaServer::start_with(
            &dir,
            &model,
            threads,
            &[
                "--embeddings",
                "--pooling",
                "mean",
                "-c",
                "32768",
                "-np",
                "64",
                "-b",
                "512",
                "-ub",
                "512",
            ],
        )
        .expect("llama-server starts")
    });

    // Both sides embed the same text alike before anything is timed.
    let probe = vec![texts[7].clone()];
    let ours = in_process.embed(&probe).await.expect("embed");
    if let Some(anchor) = &anchor {
        let theirs = anchor.embed(&probe).await.expect("llama-server embeds");
        let similarity = cosine(&ours[0], &theirs[0]);
        println!("cosine between sp's and llama-server's vector of one sentence: {similarity:.5}");
    }

    let (mut sp_rates, mut http_rates, mut anchor_rates) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate who goes first, so neither side always runs on a warmer machine.
        let mut sides = vec!["sp", "http", "anchor"];
        let turn = round % sides.len();
        sides.rotate_left(turn);
        for side in sides {
            match (side, &anchor) {
                ("sp", _) => sp_rates.push(
                    pass(&requests, |batch| {
                        let model = &in_process;
                        async move { model.embed(&batch).await.expect("embed") }
                    })
                    .await,
                ),
                ("http", _) => http_rates
                    .push(pass(&requests, |batch| over_http(&server, batch, Some(ADMIN))).await),
                ("anchor", Some(anchor)) => anchor_rates.push(
                    pass(&requests, |batch| async move {
                        anchor.embed(&batch).await.expect("llama-server embeds")
                    })
                    .await,
                ),
                _ => {}
            }
        }
    }

    println!(
        "\n{SENTENCES} sentences (3–60 words), {} requests of {PER_REQUEST}, {threads} threads, \
         median of {ROUNDS} alternating rounds",
        requests.len()
    );
    println!("| side | sentences/s | rounds |");
    println!("|---|---|---|");
    let row = |name: &str, rates: &[f64]| {
        let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {name} | {:.0} | {} |",
            median(rates.to_vec()),
            shown.join(", ")
        );
    };
    row("sp in process (EmbeddingModel, llama-cpp-2)", &sp_rates);
    row("sp /v1/embeddings over HTTP", &http_rates);
    if anchor.is_some() {
        row(
            "llama-server --embeddings (llama-cpp-python 0.3.36's llama.cpp)",
            &anchor_rates,
        );
        let anchor = median(anchor_rates);
        println!(
            "sp in process / llama-server: {:.2}x; sp over HTTP / llama-server: {:.2}x",
            median(sp_rates) / anchor,
            median(http_rates) / anchor
        );
    } else {
        println!("(set SP_LLAMA_TOOLS for the llama-server anchor)");
    }
    let stats = in_process.batch_stats();
    println!("sp in process batching: {stats:?}");
}
