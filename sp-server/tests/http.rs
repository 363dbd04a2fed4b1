//! The gateway's HTTP behaviour, in process: health, request ids, and the error envelope for
//! every kind of failure.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use sp_core::Config;
use sp_server::{ApiJson, AppState, app, middleware};
use tower::ServiceExt as _;

#[path = "http/operations_access.rs"]
mod operations_access;

const LIMIT: usize = 4096;

async fn embedded_state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.server.max_body_bytes = LIMIT;
    (AppState::open(config).await.expect("state"), dir)
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, id, json)
}

fn get_req(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// Asserts the envelope shape and returns the code.
fn envelope_code(body: &Value, header_id: Option<&str>) -> String {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["request_id"].as_str(), header_id, "{body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
    error["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn health_live_ready_on_the_embedded_default() {
    let (state, _dir) = embedded_state().await;
    let (status, _, body) = send(app(state.clone()), get_req("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["version"], sp_core::VERSION);
    assert_eq!(body["checks"]["sqlite"]["status"], "up");

    let (status, _, body) = send(app(state.clone()), get_req("/health/live")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("alive"))
    );

    let (status, _, body) = send(app(state), get_req("/health/ready")).await;
    assert_eq!(status, 200);
    assert_eq!(body["checks"]["sqlite"]["status"], "up");
}

/// A server whose Redis is down: degraded but ready by default (limits per process, no shared
/// cache), 503 once `health.redis_gates_readiness` says Redis is required.
async fn with_redis_down(gates: bool) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.redis.url = Some("redis://127.0.0.1:1".into());
    config.health.check_timeout_ms = 300;
    config.health.redis_gates_readiness = gates;
    let state = AppState::open(config)
        .await
        .expect("a down Redis does not stop start-up");
    (state, dir)
}

#[tokio::test]
async fn a_redis_outage_degrades_without_taking_the_server_out_of_rotation() {
    let (state, _dir) = with_redis_down(false).await;
    let (status, _, body) = send(app(state.clone()), get_req("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["redis"]["status"], "down");
    let (status, _, body) = send(app(state), get_req("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded");
}

#[tokio::test]
async fn ready_is_503_with_the_failing_check_when_a_backend_is_down() {
    let (state, _dir) = with_redis_down(true).await;

    let (status, id, body) = send(app(state.clone()), get_req("/health/ready")).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["redis"]["status"], "down");
    assert_eq!(body["checks"]["sqlite"]["status"], "up");
    assert_eq!(body["error"]["code"], "SP-GEN-002");
    assert_eq!(body["error"]["request_id"].as_str(), id.as_deref());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("redis")
    );

    let (status, _, body) = send(app(state), get_req("/health")).await;
    assert_eq!(status, 200, "/health reports, it does not gate");
    assert_eq!(body["status"], "unhealthy");
}

#[tokio::test]
async fn request_id_is_echoed_generated_or_replaced() {
    let (state, _dir) = embedded_state().await;
    let given = Request::get("/nope")
        .header("x-request-id", "client-id-42")
        .body(Body::empty())
        .expect("request");
    let (_, id, body) = send(app(state.clone()), given).await;
    assert_eq!(id.as_deref(), Some("client-id-42"));
    assert_eq!(body["error"]["request_id"], "client-id-42");

    let (_, id, _) = send(app(state.clone()), get_req("/health")).await;
    let id = id.expect("generated id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    let hostile = Request::get("/health")
        .header("x-request-id", "two words\tand a tab")
        .body(Body::empty())
        .expect("request");
    let (_, id, _) = send(app(state), hostile).await;
    assert!(
        uuid::Uuid::parse_str(&id.expect("id")).is_ok(),
        "unsafe ids are replaced"
    );
}

#[tokio::test]
async fn unknown_route_and_wrong_method_use_the_envelope() {
    let (state, _dir) = embedded_state().await;
    let (status, id, body) = send(app(state.clone()), get_req("/v1/nothing-here")).await;
    assert_eq!(status, 404);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-001");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/v1/nothing-here")
    );

    let delete = Request::delete("/health")
        .body(Body::empty())
        .expect("request");
    let (status, id, body) = send(app(state), delete).await;
    assert_eq!(status, 405);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-002");
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    text: String,
}

/// An application's own JSON route behind our layers, as an embedding user would mount it.
fn echo_app() -> Router {
    let routes = Router::new()
        .route(
            "/echo",
            post(|ApiJson(echo): ApiJson<Echo>| async move { axum::Json(echo) }),
        )
        .route("/panic", get(panicking_handler));
    middleware::apply(routes, LIMIT)
}

async fn panicking_handler() -> &'static str {
    panic!("handler bug")
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

#[tokio::test]
async fn json_routes_accept_good_bodies() {
    let (status, _, body) = send(echo_app(), post_json("/echo", r#"{"text":"hi"}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(body["text"], "hi");
}

#[tokio::test]
async fn malformed_json_wrong_shape_and_wrong_content_type() {
    let (status, id, body) = send(echo_app(), post_json("/echo", "{not json")).await;
    assert_eq!(status, 400);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-004");

    let (status, id, body) = send(echo_app(), post_json("/echo", r#"{"txt":1}"#)).await;
    assert_eq!(status, 400, "a wrong shape is a client error: {body}");
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-004");

    let plain = Request::post("/echo")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"text":"hi"}"#))
        .expect("request");
    let (status, id, body) = send(echo_app(), plain).await;
    assert_eq!(status, 415);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-005");
}

#[tokio::test]
async fn oversized_bodies_are_413_with_or_without_content_length() {
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(LIMIT * 2));
    let (status, id, body) = send(echo_app(), post_json("/echo", big.clone())).await;
    assert_eq!(status, 413);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-003");

    // A streamed body has no Content-Length: the limit must still hold while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.as_bytes().chunks(512).map(|c| Ok(c.to_vec())).collect();
    let streamed = Body::from_stream(futures::stream::iter(chunks));
    let (status, id, body) = send(echo_app(), post_json("/echo", streamed)).await;
    assert_eq!(status, 413);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-003");

    // On the reference app too, refused from the declared length before any route runs.
    let (state, _dir) = embedded_state().await;
    let declared = Request::post("/nowhere")
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(Body::from(big))
        .expect("request");
    let (status, id, body) = send(app(state), declared).await;
    assert_eq!(status, 413);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-REQ-003");
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_envelope_and_the_server_lives_on() {
    let router = echo_app();
    let (status, id, body) = send(router.clone(), get_req("/panic")).await;
    assert_eq!(status, 500);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-GEN-001");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("handler bug"),
        "panic details stay in the log"
    );
    let (status, _, _) = send(router, post_json("/echo", r#"{"text":"still here"}"#)).await;
    assert_eq!(status, 200);
}

/// A route that takes `ms` milliseconds, behind the reference server's layers.
fn slow_app(server: &sp_core::config::ServerConfig) -> Router {
    let routes = Router::new().route(
        "/slow/{ms}",
        get(
            |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                axum::Json(serde_json::json!({"slept": ms}))
            },
        ),
    );
    middleware::apply_with(routes, server)
}

#[tokio::test]
async fn requests_over_the_in_flight_bound_get_503_with_retry_after() {
    let server = sp_core::config::ServerConfig {
        max_concurrent_requests: 1,
        ..Default::default()
    };
    let router = slow_app(&server);
    let busy = tokio::spawn(router.clone().oneshot(get_req("/slow/400")));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let shed = router
        .clone()
        .oneshot(get_req("/slow/0"))
        .await
        .expect("infallible");
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "1");
    let first = busy.await.expect("join").expect("infallible");
    assert_eq!(first.status(), StatusCode::OK);
    // The permit is back.
    let (status, _, _) = send(router, get_req("/slow/0")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_503() {
    let server = sp_core::config::ServerConfig {
        request_timeout_secs: 1,
        ..Default::default()
    };
    let (status, id, body) = send(slow_app(&server), get_req("/slow/3000")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(envelope_code(&body, id.as_deref()), "SP-GEN-002");
}

#[tokio::test]
async fn cors_answers_preflights_for_configured_origins_only() {
    let server = sp_core::config::ServerConfig {
        cors_allowed_origins: vec!["https://app.example".into()],
        ..Default::default()
    };
    let router = slow_app(&server);
    let preflight = |origin: &str| {
        Request::options("/slow/0")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .expect("request")
    };
    let allowed = router
        .clone()
        .oneshot(preflight("https://app.example"))
        .await
        .expect("ok");
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = router
        .oneshot(preflight("https://evil.example"))
        .await
        .expect("ok");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// Serves `slow_app` on a free port; returns its address, the shutdown trigger and the task.
async fn serve_slow(
    grace: std::time::Duration,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = slow_app(&sp_core::config::ServerConfig::default());
    let server = tokio::spawn(sp_server::serve_router(
        listener,
        router,
        async {
            let _ = stopped.await;
        },
        sp_server::ServeLimits {
            grace,
            ..sp_server::ServeLimits::of(&sp_core::config::ServerConfig::default())
        },
    ));
    (addr, stop, server)
}

#[tokio::test]
async fn shutdown_lets_requests_finish_within_the_grace_and_no_longer() {
    use std::time::{Duration, Instant};
    // A request shorter than the grace completes after the signal.
    let (addr, stop, server) = serve_slow(Duration::from_secs(5)).await;
    let request =
        tokio::spawn(async move { sp_tests::http(&addr, "GET", "/slow/600", &[], b"").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = stop.send(());
    let reply = request.await.expect("join").expect("answered");
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.await.expect("join").expect("served");

    // A request longer than the grace is cut when the grace ends.
    let (addr, stop, server) = serve_slow(Duration::from_millis(500)).await;
    let request =
        tokio::spawn(async move { sp_tests::http(&addr, "GET", "/slow/20000", &[], b"").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let _ = stop.send(());
    server.await.expect("join").expect("served");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    request.abort();
}

/// `server.max_connections` (review finding L10): idle connections hold their places; one
/// more is closed at once, without an answer; a place given back admits the next.
#[tokio::test]
async fn connections_past_the_cap_are_closed_until_a_place_frees() {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let router = Router::new().route("/ok", get(|| async { "ok" }));
    let limits = sp_server::ServeLimits {
        max_connections: 2,
        ..sp_server::ServeLimits::of(&sp_core::config::ServerConfig::default())
    };
    let server = tokio::spawn(sp_server::serve_router(
        listener,
        router,
        std::future::pending(),
        limits,
    ));
    let first = tokio::net::TcpStream::connect(&addr).await.expect("first");
    let _second = tokio::net::TcpStream::connect(&addr).await.expect("second");
    // Let the server accept both before the third arrives.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    let mut read = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        third.read_to_end(&mut read),
    )
    .await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the third connection is closed at once: {closed:?}"
    );
    let refused = sp_tests::http(&addr, "GET", "/ok", &[], b"").await;
    assert!(refused.is_err(), "no answer past the cap: {refused:?}");
    drop(first);
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(reply) = sp_tests::http(&addr, "GET", "/ok", &[], b"").await {
            answered = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let reply = answered.expect("a freed place admits the next connection");
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.abort();
}
