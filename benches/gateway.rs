//! Run with: `cargo bench -p sp-benches --bench gateway`
//!
//! What the gateway costs per request, compared with the same handler on a bare axum router:
//! the layers alone (request id, tracing span, error envelope, panic capture, body limit),
//! and the whole reference server stack on `GET /v1/models` (plus guard, metrics,
//! authentication — the bootstrap admin key, or an API key whose lookup is cached — and the
//! per-key rate limit). Requests go through the tower stack in process, so the figures
//! exclude sockets and HTTP parsing.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt as _;

async fn ok() -> &'static str {
    "ok"
}

async fn models() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"object": "list", "data": []}))
}

async fn call(router: &Router, path: &str) {
    call_as(router, path, None).await;
}

async fn call_as(router: &Router, path: &str, token: Option<&str>) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iters = 20_000;
    let bare = Router::new().route("/ok", get(ok));
    let gated = sp_server::middleware::apply(Router::new().route("/ok", get(ok)), 1 << 20);

    let bare_ok = sp_benches::median_per_call(iters, || call(&bare, "/ok")).await;
    let gated_ok = sp_benches::median_per_call(iters, || call(&gated, "/ok")).await;
    let gated_404 = sp_benches::median_per_call(iters, || call(&gated, "/missing")).await;

    println!("| router | request | µs per request (median of 5 × {iters}) |");
    println!("|---|---|---|");
    println!(
        "| bare axum | GET /ok → 200 | {:.2} |",
        bare_ok.as_secs_f64() * 1e6
    );
    println!(
        "| sp gateway layers | GET /ok → 200 | {:.2} |",
        gated_ok.as_secs_f64() * 1e6
    );
    println!(
        "| sp gateway layers | GET /missing → 404 envelope | {:.2} |",
        gated_404.as_secs_f64() * 1e6
    );
    println!(
        "gateway overhead: {:.2} µs per request",
        (gated_ok.as_secs_f64() - bare_ok.as_secs_f64()) * 1e6
    );

    // The whole reference stack on the embedded default.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = sp_core::Config {
        data_dir: dir.path().to_path_buf(),
        ..sp_core::Config::default()
    };
    let admin = "bench-admin-key-0123456789abcdef";
    config.auth.admin_key = Some(admin.into());
    config.auth.default_rate_limit = "1000000000/s".parse().expect("quota");
    let state = sp_server::AppState::open(config).await.expect("state");
    let keys = state.platform().await.expect("services").keys.clone();
    let created = sp_core::auth::create_key(
        keys.as_ref(),
        sp_core::auth::NewApiKey::new("bench", vec![sp_core::auth::Scope::Inference]),
    )
    .await
    .expect("key");
    let full = sp_server::app(state);
    let bare_models = Router::new().route("/v1/models", get(models));
    let iters = 5_000;
    let bare = sp_benches::median_per_call(iters, || call(&bare_models, "/v1/models")).await;
    let with_admin =
        sp_benches::median_per_call(iters, || call_as(&full, "/v1/models", Some(admin))).await;
    let with_key =
        sp_benches::median_per_call(iters, || call_as(&full, "/v1/models", Some(&created.token)))
            .await;
    let health = sp_benches::median_per_call(iters, || call(&full, "/health")).await;
    println!("\n| router | request | µs per request (median of 5 × {iters}) | added |");
    println!("|---|---|---|---|");
    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
    println!("| bare axum | GET /v1/models | {:.2} | — |", us(bare));
    println!(
        "| sp full stack | GET /health (runs the SQLite check) | {:.2} | — ({:.0} req/s on one core) |",
        us(health),
        1e6 / us(health)
    );
    println!(
        "| sp full stack, admin key | GET /v1/models | {:.2} | {:.2} |",
        us(with_admin),
        us(with_admin) - us(bare)
    );
    println!(
        "| sp full stack, API key (lookup cached 1 s) | GET /v1/models | {:.2} | {:.2} |",
        us(with_key),
        us(with_key) - us(bare)
    );
}
