//! Readiness follows a configured PostgreSQL going down and coming back, without a restart.

use std::time::{Duration, Instant};

use sp_core::Config;
use sp_tests::{OwnPostgres, http, script};

async fn ready(addr: &str) -> sp_tests::HttpResponse {
    http(addr, "GET", "/health/ready", &[], b"")
        .await
        .expect("the server answers while its database is down")
}

#[tokio::test]
async fn ready_turns_503_when_postgres_stops_and_recovers_when_it_returns() {
    let (postgres, url) = OwnPostgres::start("readiness-probe");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.database.url = Some(url);
    config.database.acquire_timeout_secs = 1;
    config.health.check_timeout_ms = 1500;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let state = sp_server::AppState::open(config).await.expect("state");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sp_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let up = ready(&addr).await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(up.json()["checks"]["postgres"]["status"], "up");

    script("services.sh", &["pg", "stop", postgres.name]);
    let down = ready(&addr).await;
    assert_eq!(down.status, 503, "{}", down.body);
    let body = down.json();
    assert_eq!(body["checks"]["postgres"]["status"], "down");
    assert_eq!(body["error"]["code"], "SP-GEN-002");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("postgres"),
        "{body}"
    );
    assert_eq!(
        body["error"]["request_id"].as_str(),
        down.header("x-request-id"),
        "envelope and header carry the same id"
    );

    script("services.sh", &["pg", "start", postgres.name]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let again = ready(&addr).await;
        if again.status == 200 {
            assert_eq!(again.json()["checks"]["postgres"]["status"], "up");
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {}", again.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let _ = stop.send(());
    server.await.expect("join").expect("clean shutdown");
}
