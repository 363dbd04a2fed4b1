//! # sp-server
//!
//! The reference server of Story Portal as an embeddable library, plus the `sp` binary.
//! [`app`] returns an axum [`Router`](axum::Router) with every route behind the gateway
//! layers (request ids, structured request logs, body limit, panic capture and one JSON error
//! envelope); mount it in your own axum application or run it with [`serve`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = sp_core::Config::load(&sp_core::ConfigSources::default())?;
//! let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
//! let state = sp_server::AppState::open(config).await?;
//! sp_server::serve(listener, state, sp_server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! All logic lives in the library crates; this crate only adapts them to HTTP. Only here are
//! errors mapped to HTTP statuses ([`ApiError`]).
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | PostgreSQL when `DATABASE_URL` is set |
//! | `redis` | yes | Redis when `REDIS_URL` is set |
//! | `cuda` / `metal` / `vulkan` | no | run the model on a GPU (forwarded to `sp-llm`) |

pub mod admin;
mod agent_models;
mod app;
pub mod backup_cli;
mod budget;
mod catalogue;
mod charge;
pub mod cli;
mod cli_remote;
pub mod cluster;
pub mod connections;
mod error;
pub mod ingest_cli;
mod json;
pub mod jwt;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod migrate_cli;
mod model_events;
pub mod models_cli;
mod openapi;
pub mod openapi_markdown;
pub mod query_cli;
pub mod reindex;
pub mod reload;
mod remote;
pub mod request_log;
mod routes;
mod served;
pub mod session_cli;
mod state;
pub mod status_cli;
pub mod telemetry;
pub mod tls;
pub mod transfer_cli;

pub use app::{ServeLimits, app, serve, serve_router, serve_router_tls, shutdown_signal};
pub use catalogue::{model_runtime, models_dir};
pub use error::{ApiError, ErrorBody, ErrorEnvelope};
pub use json::{ApiJson, ApiJsonOrEmpty};
pub use routes::openapi;
pub use sp_platform::Platform;
pub use state::AppState;
