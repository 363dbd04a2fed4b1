//! Run with: `cargo bench -p sp-benches --bench gateway`
//!
//! What the gateway layers (request id, tracing span, error envelope, panic capture, body
//! limit) cost per request, compared with the same handler on a bare axum router. Requests go
//! through the tower stack in process, so the figure excludes sockets and HTTP parsing.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt as _;

async fn ok() -> &'static str {
    "ok"
}

async fn call(router: &Router, path: &str) {
    let request = Request::get(path).body(Body::empty()).expect("request");
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
}
