//! A registry fixture per backend and real HTTP services on loopback that answer, fail, hang
//! or flap on command.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sp_core::hub::{Hub, HubConfig, MemoryRegistryStore, NewService, RegistryStore};
use sp_tests::TestDatabase;

pub struct Fixture {
    pub hub: Arc<Hub>,
    /// The database the registry is on (none for the in-process registry).
    db: Option<TestDatabase>,
}

/// Fast retries, a breaker that opens after 3 failures for 1 s, health thresholds of 2 / 1.
pub fn test_config() -> HubConfig {
    HubConfig {
        call_timeout_ms: 2_000,
        max_attempts: 3,
        backoff_base_ms: 1,
        backoff_max_ms: 5,
        breaker_failures: 3,
        breaker_open_secs: 1,
        health_interval_secs: 0,
        health_timeout_ms: 500,
        unhealthy_after: 2,
        healthy_after: 1,
        degraded_latency_ms: 1_000,
        resolve_cache_ms: 1_000,
        max_response_bytes: 1024 * 1024,
        // The test services listen on loopback, which the hub refuses unless told (H2).
        allowed_networks: vec!["127.0.0.0/8".into()],
        max_tool_timeout_ms: 30_000,
        max_instances_per_service: 64,
        max_instances_per_tenant: 1024,
        max_probes_per_round: 1024,
    }
}

impl Fixture {
    pub async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await)
    }

    pub async fn postgres() -> Self {
        Self::on(TestDatabase::postgres("hub_test").await)
    }

    pub async fn memory() -> Self {
        Self::with(Arc::new(MemoryRegistryStore::default()), None)
    }

    fn on(db: TestDatabase) -> Self {
        Self::with(db.database.registry_store(), Some(db))
    }

    fn with(store: Arc<dyn RegistryStore>, db: Option<TestDatabase>) -> Self {
        let config = test_config();
        let transport = Arc::new(
            sp_data::HttpTransport::with_policy(
                config.max_response_bytes,
                config.egress().unwrap(),
            )
            .unwrap(),
        );
        Fixture {
            hub: Arc::new(Hub::new(store, transport, config)),
            db,
        }
    }

    pub async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

/// A service definition from JSON.
pub fn service(value: Value) -> NewService {
    serde_json::from_value(value).unwrap()
}

/// What the loopback service counts and how it behaves.
#[derive(Default)]
pub struct Upstream {
    pub calls: AtomicU32,
    /// `flaky` fails while this is above zero (and counts it down).
    pub failures_left: AtomicU32,
    pub healthy: AtomicBool,
    pub last_request_id: std::sync::Mutex<Option<String>>,
}

async fn echo(
    State(up): State<Arc<Upstream>>,
    headers: HeaderMap,
    Json(args): Json<Value>,
) -> Json<Value> {
    up.calls.fetch_add(1, Ordering::SeqCst);
    *up.last_request_id.lock().unwrap() = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Json(json!({"echo": args}))
}

async fn fail(State(up): State<Arc<Upstream>>) -> (StatusCode, Json<Value>) {
    up.calls.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "boom"})),
    )
}

async fn flaky(State(up): State<Arc<Upstream>>) -> (StatusCode, Json<Value>) {
    up.calls.fetch_add(1, Ordering::SeqCst);
    let failing = up
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "warming up"})),
        )
    } else {
        (StatusCode::OK, Json(json!({"ok": true})))
    }
}

async fn hang(State(up): State<Arc<Upstream>>) -> Json<Value> {
    up.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    Json(json!({"late": true}))
}

async fn reject(State(up): State<Arc<Upstream>>) -> (StatusCode, Json<Value>) {
    up.calls.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": "no such city"})),
    )
}

async fn health(State(up): State<Arc<Upstream>>) -> StatusCode {
    if up.healthy.load(Ordering::SeqCst) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Starts the loopback service; its URL and its counters.
pub async fn upstream() -> (String, Arc<Upstream>) {
    let state = Arc::new(Upstream {
        healthy: AtomicBool::new(true),
        ..Upstream::default()
    });
    let app = axum::Router::new()
        .route("/tools/echo", post(echo))
        .route("/tools/fail", post(fail))
        .route("/tools/flaky", post(flaky))
        .route("/tools/hang", post(hang))
        .route("/tools/reject", post(reject))
        .route("/health", get(health))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

/// A service at `url` offering the loopback tools; `echo` needs `{"city": string}`.
pub fn tools_service(name: &str, version: &str, url: &str) -> NewService {
    let object = json!({"type": "object"});
    service(json!({
        "name": name, "version": version, "base_url": url,
        "tools": [
            {"name": "echo", "idempotent": true, "input_schema": {
                "type": "object", "required": ["city"],
                "properties": {"city": {"type": "string"}}, "additionalProperties": false}},
            {"name": "fail", "input_schema": object},
            {"name": "fail_idempotent", "path": "/tools/fail", "idempotent": true, "input_schema": object},
            {"name": "flaky", "idempotent": true, "input_schema": object},
            {"name": "hang", "timeout_ms": 200, "idempotent": true, "input_schema": object},
            {"name": "reject", "idempotent": true, "input_schema": object},
        ]
    }))
}
