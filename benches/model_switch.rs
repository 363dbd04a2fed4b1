//! Run with: `cargo bench -p sp-benches --bench model_switch`
//!
//! Switching chat models under a memory budget that holds one of them: the catalogue
//! evicts the idle model, loads the other from its (page-cached, memory-mapped) GGUF and
//! answers. Measured: the load (from the request to a model ready to decode) and the first
//! token after the switch (a 16-token prompt, one greedy token), switching SmolLM2-135M ↔
//! gemma-3-270m. Two anchors from llama.cpp's own server: its **router mode**
//! (`llama-server --models-dir D --models-max 1`, a model instance per model, the request's
//! `model` switching) — the first token after the switch; and **restarting** `llama-server`
//! on the other model — start to healthy (its load), then the same one-token completion.
//! Sides alternate round by round. Needs `SP_TEST_MODEL`, `SP_TEST_SECOND_MODEL`
//! (scripts/models.sh) and, for the anchors, `SP_LLAMA_TOOLS`.

use std::time::{Duration, Instant};

use sp_benches::llama_tools::LlamaServer;
use sp_benches::median;
use sp_core::catalogue::{Catalogue, ModelEntry};
use sp_core::chat::Sampling;
use sp_llm::ModelRuntime;

const ROUNDS: usize = 3;
const THREADS: u32 = 2;
const CONTEXT: u32 = 1024;
const PROMPT: &str = "The lighthouse keeper climbed the stairs and looked out over the grey sea";

fn entry(name: &str, path: &str, pinned_base: bool) -> ModelEntry {
    let mut entry = ModelEntry::new(name, path);
    entry.slots = Some(1);
    entry.context_per_slot = Some(if pinned_base { 256 } else { CONTEXT });
    entry.threads = Some(THREADS);
    entry.default = pinned_base;
    entry
}

/// A catalogue of the two models to switch between, plus the default chat model every
/// server pins (a small SmolLM2 entry), under `budget` bytes.
async fn runtime(smol: &str, gemma: &str, budget: u64) -> ModelRuntime {
    let config = sp_core::Config {
        models: vec![
            entry("base", smol, true),
            entry("smol", smol, false),
            entry("gemma", gemma, false),
        ],
        ..sp_core::Config::default()
    };
    let catalogue = Catalogue::from_config(&config).expect("catalogue");
    ModelRuntime::start(catalogue, budget, None)
        .await
        .expect("runtime")
}

fn estimate(runtime: &ModelRuntime, name: &str) -> u64 {
    runtime
        .status(name)
        .expect("status")
        .memory
        .map_or(0, |memory| memory.total)
}

/// Ours: (load, first token) of switching to `name`.
async fn switch_ours(runtime: &ModelRuntime, name: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let lease = runtime.acquire(name, None).await.expect("admitted");
    let loaded = started.elapsed();
    let engine = lease.engine().expect("a chat model");
    engine
        .complete(PROMPT, &Sampling::greedy(1))
        .await
        .expect("first token");
    (loaded, started.elapsed())
}

/// The anchor: (start to healthy, first token) of llama-server started on `model`.
async fn switch_anchor(dir: &str, model: &str) -> (Duration, Duration, LlamaServer) {
    let started = Instant::now();
    let window = CONTEXT.to_string();
    let server = LlamaServer::start_with(dir, model, THREADS, &["-np", "1", "-c", &window])
        .expect("llama-server starts");
    let loaded = started.elapsed();
    let body = serde_json::json!({"prompt": PROMPT, "n_predict": 1, "cache_prompt": false});
    post_ok(&server, "/completion", &body).await;
    (loaded, started.elapsed(), server)
}

/// POSTs `body` as JSON to `server` and requires a 200.
async fn post_ok(server: &LlamaServer, path: &str, body: &serde_json::Value) {
    let reply = sp_benches::http(
        server.addr(),
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
    .expect("completion");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// llama-server's router over a directory holding both models as `smol` and `gemma`,
/// one model instance at a time.
fn router(dir: &str, smol: &str, gemma: &str, models: &std::path::Path) -> LlamaServer {
    for (name, path) in [("smol", smol), ("gemma", gemma)] {
        std::os::unix::fs::symlink(path, models.join(format!("{name}.gguf"))).expect("link");
    }
    let window = CONTEXT.to_string();
    let models = models.display().to_string();
    LlamaServer::start_router(
        dir,
        THREADS,
        &[
            "--models-dir",
            &models,
            "--models-max",
            "1",
            "-np",
            "1",
            "-c",
            &window,
        ],
    )
    .expect("llama-server router starts")
}

/// The router: time to the one-token completion of `name` (loading it, the other unloaded).
async fn switch_router(server: &LlamaServer, name: &str) -> Duration {
    let started = Instant::now();
    let body = serde_json::json!({
        "model": name, "prompt": PROMPT, "max_tokens": 1, "cache_prompt": false
    });
    post_ok(server, "/v1/completions", &body).await;
    started.elapsed()
}

fn ms(duration: Duration) -> String {
    format!("{:.0}", duration.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let smol = sp_tests::service_url("SP_TEST_MODEL");
    let gemma = sp_tests::service_url("SP_TEST_SECOND_MODEL");
    let tools = std::env::var("SP_LLAMA_TOOLS").ok();

    // The estimates first, from a runtime with no limit; then a budget that holds the base
    // and one of the two, not both.
    let (base, one, other) = {
        let unlimited = runtime(&smol, &gemma, u64::MAX).await;
        (
            estimate(&unlimited, "base"),
            estimate(&unlimited, "smol"),
            estimate(&unlimited, "gemma"),
        )
    };
    let budget = base + one.max(other) + (one.min(other) / 2);
    let runtime = runtime(&smol, &gemma, budget).await;
    println!(
        "budget {} MiB: base {} + smol {} or gemma {} MiB (estimates), never both",
        budget >> 20,
        base >> 20,
        one >> 20,
        other >> 20
    );
    // Page-cache both files, as a machine that served them before has them.
    for name in ["smol", "gemma"] {
        switch_ours(&runtime, name).await;
    }

    let links = tempfile::tempdir().expect("tempdir");
    let router = tools
        .as_deref()
        .map(|dir| router(dir, &smol, &gemma, links.path()));
    if let Some(router) = &router {
        // Page-cache both through the router too, and leave gemma's instance running.
        for name in ["smol", "gemma"] {
            switch_router(router, name).await;
        }
    }

    let targets = [("smol", smol.as_str()), ("gemma", gemma.as_str())];
    let mut ours: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); 2];
    let mut routed: Vec<Vec<Duration>> = vec![Vec::new(); 2];
    let mut restarted: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); 2];
    for round in 0..ROUNDS {
        for (i, (name, path)) in targets.iter().enumerate() {
            let mut sides = vec!["sp", "router", "restart"];
            let turn = (round + i) % sides.len();
            sides.rotate_left(turn);
            for side in sides {
                match (side, &tools, &router) {
                    ("sp", _, _) => ours[i].push(switch_ours(&runtime, name).await),
                    ("router", _, Some(router)) => {
                        routed[i].push(switch_router(router, name).await);
                    }
                    ("restart", Some(dir), _) => {
                        let (loaded, first, server) = switch_anchor(dir, path).await;
                        drop(server);
                        restarted[i].push((loaded, first));
                    }
                    _ => {}
                }
            }
        }
    }
    let loads = runtime
        .list()
        .iter()
        .map(|m| format!("{} loaded {}x", m.name, m.loads))
        .collect::<Vec<_>>()
        .join(", ");
    println!("{loads}");
    println!(
        "\n| switch to | side | load, ms | first token after the switch, ms (median of {ROUNDS}) |"
    );
    println!("|---|---|---|---|");
    for (i, (name, _)) in targets.iter().enumerate() {
        let row = |side: &str, load: Option<Duration>, first: Duration| {
            let load = load.map_or_else(|| "—".to_owned(), ms);
            println!("| {name} | {side} | {load} | {} |", ms(first));
        };
        let ours = &ours[i];
        row(
            "sp catalogue (evict + load + answer)",
            Some(median(ours.iter().map(|s| s.0).collect())),
            median(ours.iter().map(|s| s.1).collect()),
        );
        if !routed[i].is_empty() {
            row(
                "llama-server router, --models-max 1",
                None,
                median(routed[i].clone()),
            );
        }
        if !restarted[i].is_empty() {
            let samples = &restarted[i];
            row(
                "llama-server restarted on it (start to healthy)",
                Some(median(samples.iter().map(|s| s.0).collect())),
                median(samples.iter().map(|s| s.1).collect()),
            );
        }
    }
    if tools.is_none() {
        println!("(set SP_LLAMA_TOOLS for the llama-server anchors)");
    } else {
        println!("(llama-server: the llama.cpp vendored by llama-cpp-python 0.3.36)");
    }
}
