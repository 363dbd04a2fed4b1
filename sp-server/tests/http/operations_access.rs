//! Review finding L2: refused credentials are throttled per client address, and
//! `server.protect_operations` puts `/metrics` and the full `/health` report behind an
//! `admin` credential.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sp_core::Config;
use sp_server::{AppState, app};
use tower::ServiceExt as _;

const ADMIN: &str = "operations-admin-key-0123456789";

async fn state_with(configure: impl FnOnce(&mut Config)) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.admin_key = Some(ADMIN.into());
    configure(&mut config);
    (AppState::open(config).await.expect("state"), dir)
}

#[tokio::test]
async fn refused_credentials_are_throttled_per_address_and_accepted_ones_cost_nothing() {
    let (state, _dir) = state_with(|config| {
        config.auth.failed_credential_limit = "3/min".parse().expect("quota");
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let limits = sp_server::ServeLimits::of(&state.config().server);
    let server = tokio::spawn(sp_server::serve_router(
        listener,
        app(state),
        std::future::pending(),
        limits,
    ));
    let call = |key: Option<&'static str>| {
        let addr = addr.clone();
        async move {
            let bearer = key.map(|k| format!("Bearer {k}"));
            let headers: Vec<(&str, &str)> = bearer
                .as_deref()
                .map(|b| vec![("authorization", b)])
                .unwrap_or_default();
            sp_tests::http(&addr, "GET", "/v1/keys", &headers, b"")
                .await
                .expect("answer")
        }
    };
    // Accepted credentials spend nothing of the budget.
    for _ in 0..10 {
        assert_eq!(call(Some(ADMIN)).await.status, 200);
    }
    // Three refusals fit; the fourth try from this address is throttled...
    for _ in 0..3 {
        assert_eq!(call(Some("sp_wrong_guess")).await.status, 401);
    }
    let throttled = call(Some("sp_wrong_guess")).await;
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(throttled.body.contains("SP-AUTH-003"), "{}", throttled.body);
    assert!(
        throttled
            .headers
            .iter()
            .any(|(name, _)| name == "retry-after"),
        "{:?}",
        throttled.headers
    );
    // ...and so is the right key: a guess that lands is not even looked at.
    assert_eq!(call(Some(ADMIN)).await.status, 429);
    // A request without any credential is not a guess: a plain 401.
    assert_eq!(call(None).await.status, 401);
    server.abort();
}

async fn get(state: &AppState, path: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn protected_operations_need_an_admin_and_probes_stay_open() {
    let (open, _open_dir) = state_with(|_| {}).await;
    assert_eq!(get(&open, "/metrics", None).await.0, StatusCode::OK);
    assert_eq!(get(&open, "/health", None).await.0, StatusCode::OK);

    let (state, _dir) = state_with(|config| config.server.protect_operations = true).await;
    for path in ["/metrics", "/health"] {
        let (status, body) = get(&state, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(
            get(&state, path, Some("sp_wrong")).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = get(&state, path, Some(ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, body) = get(&state, "/metrics", Some(ADMIN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("sp_"), "{body}");
    for probe in ["/health/live", "/health/ready"] {
        let (status, body) = get(&state, probe, None).await;
        assert_eq!(status, StatusCode::OK, "{probe}: {body}");
    }
}
