//! Run with: `cargo run -p sp-examples --example embed_server` then `curl localhost:3000/hello`
//!
//! Embeds the Story Portal server in your own axum application: your routes get the same
//! gateway (request ids, JSON logs, error envelope, body limit) and sp's routes are mounted
//! under `/sp`, on the embedded default (no database server needed).

use axum::Router;
use axum::routing::get;
use story_portal::prelude::*;
use story_portal::server;

async fn hello() -> &'static str {
    "hello from my app\n"
}

async fn teapot() -> Result<&'static str, ApiError> {
    Err(ApiError::new(
        ErrorCode::InvalidInput,
        "my own error, in sp's envelope",
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();

    // Defaults + SP_* environment; keep the example's data out of the real data dir.
    let data_dir = std::env::temp_dir().join("sp-example-embed");
    let config =
        Config::load(&ConfigSources::default().set("data_dir", data_dir.display().to_string()))?;
    let max_body = config.server.max_body_bytes;
    let state = AppState::open(config).await?;

    let mine = Router::new()
        .route("/hello", get(hello))
        .route("/fail", get(teapot));
    let app = Router::new()
        .merge(server::middleware::apply(mine, max_body))
        .nest("/sp", server::app(state));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000  (try /hello, /fail, /sp/health)");
    axum::serve(listener, app)
        .with_graceful_shutdown(server::shutdown_signal())
        .await?;
    Ok(())
}
