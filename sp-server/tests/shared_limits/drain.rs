//! A graceful stop drains live feeds: a follower gets `event: draining` (after the last event's
//! id, so it resumes from there on another replica) and the process exits without waiting out
//! its grace period on the open stream.

use std::time::{Duration, Instant};

use super::process::{create_key, sp, start};

#[tokio::test]
async fn sigterm_ends_live_feeds_with_a_draining_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_key(&mut sp(dir.path()), "follower", "events", &[]);
    let (mut server, addr, _log) = start(
        sp(dir.path())
            // Long enough that a stream left open would show in the test's time.
            .env("SP_SERVER__SHUTDOWN_GRACE_SECS", "60"),
    );
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let appended = sp_tests::http(
        &addr,
        "POST",
        "/v1/events",
        &headers,
        br#"{"stream":"jobs","type":"job.queued","data":{"n":1}}"#,
    )
    .await
    .expect("append");
    assert_eq!(appended.status, 201, "{}", appended.body);
    let follower = tokio::spawn({
        let (addr, token) = (addr.clone(), token.clone());
        async move {
            super::read_sse_until(
                &addr,
                "/v1/events/live?stream=jobs&from_offset=1",
                &token,
                "shutting down",
            )
            .await
        }
    });
    // The follower is connected once the replayed event has been served; then stop the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    let pid = server.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(sent.expect("kill").success());
    let seen = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the feed ended before the grace period")
        .expect("follower");
    assert!(seen.contains("event: draining"), "{seen}");
    let (id_at, drain_at) = (
        seen.find("id: ").expect("the replayed event's id"),
        seen.find("event: draining").expect("draining"),
    );
    assert!(id_at < drain_at, "{seen}");
    let exit = server.0.wait().expect("exit");
    assert!(exit.success(), "{exit}");
    println!("drained and stopped in {:?}", stopping.elapsed());
}
