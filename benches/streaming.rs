//! Run with: `SP_TEST_MODEL=$(scripts/models.sh) cargo bench -p sp-benches --bench streaming`
//!
//! Time to the first generated text of a streamed chat: the engine called directly against
//! the whole server stack (`POST /v1/chat/completions`, `"stream": true`, in process, first
//! SSE chunk whose delta carries text; the role chunk before it does not count). Interleaved, same prompt, prefix cache warm for both, so the
//! difference is what the gateway and SSE encoding add.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt as _;
use sp_benches::median;
use sp_core::chat::{ChatMessage, Sampling, StreamEvent};
use tower::ServiceExt as _;

const ROUNDS: usize = 30;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let model = std::env::var("SP_TEST_MODEL").expect("SP_TEST_MODEL: a GGUF model path");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = sp_core::Config {
        data_dir: dir.path().to_path_buf(),
        ..sp_core::Config::default()
    };
    let admin = "bench-admin-key-0123456789abcdef";
    config.auth.admin_key = Some(admin.into());
    config.model.path = Some(model.into());
    config.model.slots = 1;
    config.model.context_per_slot = 1024;
    let state = sp_server::AppState::open(config).await.expect("state");
    let engine = state.engine().expect("engine").clone();
    let app = sp_server::app(state);
    let question = "Name three colours.";
    let messages = vec![ChatMessage::user(question)];
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 4, "temperature": 0, "stream": true,
    })
    .to_string();

    // A dropped stream frees its slot within a decode step; measure from an idle engine.
    let idle = || async {
        while engine.stats().active + engine.stats().waiting > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let (mut direct, mut served) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS + 3 {
        idle().await;
        let started = Instant::now();
        let mut stream = engine
            .chat_stream(&messages, &Sampling::greedy(4))
            .expect("stream");
        while let Some(event) = stream.next().await {
            if matches!(event.expect("event"), StreamEvent::Delta { .. }) {
                break;
            }
        }
        let first_direct = started.elapsed();
        drop(stream);
        idle().await;

        let request = Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(body.clone()))
            .expect("request");
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.expect("infallible");
        let mut frames = response.into_body().into_data_stream();
        while let Some(frame) = frames.next().await {
            let frame = frame.expect("frame");
            let text = String::from_utf8_lossy(&frame);
            let has_text = text
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .any(|data| {
                    serde_json::from_str::<serde_json::Value>(data)
                        .ok()
                        .and_then(|c| {
                            c["choices"][0]["delta"]["content"]
                                .as_str()
                                .map(|t| !t.is_empty())
                        })
                        .unwrap_or(false)
                });
            if has_text {
                break;
            }
        }
        let first_served = started.elapsed();
        drop(frames);
        if round >= 3 {
            direct.push(first_direct);
            served.push(first_served);
        }
    }
    let (d, s) = (median(direct), median(served));
    println!("| path | time to first text, median of {ROUNDS} |\n|---|---|");
    println!("| engine.chat_stream | {:.3} ms |", d.as_secs_f64() * 1e3);
    println!(
        "| POST /v1/chat/completions (SSE, full stack) | {:.3} ms |",
        s.as_secs_f64() * 1e3
    );
    println!(
        "streaming overhead: {:.3} ms (target ≤ 1 ms)",
        (s.as_secs_f64() - d.as_secs_f64()) * 1e3
    );
}
