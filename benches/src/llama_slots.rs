//! llama-server's slot calls, for the KV-reuse anchor: a completion pinned to a slot, and
//! `/slots/{id}?action=save|restore` (its KV state to and from `--slot-save-path`).

use std::time::Instant;

use crate::llama_tools::LlamaServer;

type BoxError = Box<dyn std::error::Error>;

/// One timed request to llama-server.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Wall-clock seconds, as the client saw them.
    pub seconds: f64,
    /// Prompt tokens it computed (`timings.prompt_n`); the rest came from its cache.
    pub computed: u64,
}

async fn post(
    server: &LlamaServer,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, BoxError> {
    let body = body.to_string();
    let reply = crate::http(
        server.addr(),
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await?;
    if reply.status != 200 {
        return Err(format!("llama-server {path}: {} {}", reply.status, reply.body).into());
    }
    Ok(reply.json())
}

/// Time to the first token of `prompt` (one token, greedy) on slot `slot`, reusing what the
/// slot holds when `cache_prompt`.
pub async fn first_token_on(
    server: &LlamaServer,
    slot: usize,
    prompt: &str,
    cache_prompt: bool,
) -> Result<Timed, BoxError> {
    let started = Instant::now();
    let reply = post(
        server,
        "/completion",
        serde_json::json!({"prompt": prompt, "n_predict": 1, "temperature": 0.0,
            "id_slot": slot, "cache_prompt": cache_prompt}),
    )
    .await?;
    Ok(Timed {
        seconds: started.elapsed().as_secs_f64(),
        computed: reply["timings"]["prompt_n"].as_u64().unwrap_or(0),
    })
}

/// Saves slot `slot`'s KV state as `file` under the server's `--slot-save-path`.
pub async fn save_slot(server: &LlamaServer, slot: usize, file: &str) -> Result<(), BoxError> {
    post(
        server,
        &format!("/slots/{slot}?action=save"),
        serde_json::json!({"filename": file}),
    )
    .await
    .map(drop)
}

/// Restores `file` into slot `slot`; seconds it took.
pub async fn restore_slot(server: &LlamaServer, slot: usize, file: &str) -> Result<f64, BoxError> {
    let started = Instant::now();
    post(
        server,
        &format!("/slots/{slot}?action=restore"),
        serde_json::json!({"filename": file}),
    )
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Greedy decode of `prompt` (no prompt cache): tokens/s after the prompt as llama-server
/// times it, tokens generated, and its speculation counters (drafted, accepted; 0 without).
pub async fn greedy_decode(
    server: &LlamaServer,
    prompt: &str,
    tokens: u32,
) -> Result<(f64, u64, u64, u64), BoxError> {
    let reply = post(
        server,
        "/completion",
        serde_json::json!({"prompt": prompt, "n_predict": tokens, "temperature": 0.0,
            "cache_prompt": false}),
    )
    .await?;
    let timings = &reply["timings"];
    let rate = timings["predicted_per_second"]
        .as_f64()
        .ok_or("llama-server sent no timings")?;
    Ok((
        rate,
        reply["tokens_predicted"].as_u64().unwrap_or(0),
        timings["draft_n"].as_u64().unwrap_or(0),
        timings["draft_n_accepted"].as_u64().unwrap_or(0),
    ))
}
