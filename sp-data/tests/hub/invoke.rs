//! Tool calls against real loopback services: validation before any call, retries only for
//! idempotent tools, timeouts, upstream errors, the circuit breaker, and health checks.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use sp_core::hub::{BreakerState, Discovery, HealthStatus, NewInstance, ToolInvocation};
use sp_core::knowledge::Namespace;
use sp_core::{Error, ErrorCode};

use crate::support::{Fixture, service, tools_service, upstream};

fn call(tool: &str, service: &str, arguments: serde_json::Value) -> ToolInvocation {
    ToolInvocation {
        service: Some(service.into()),
        ..ToolInvocation::new(tool, arguments)
    }
}

pub async fn calls_validate_retry_and_time_out(f: &Fixture) {
    let hub = &f.hub;
    let (url, up) = upstream().await;
    hub.register(tools_service("town", "1.0.0", &url))
        .await
        .unwrap();

    let mut ok = call("echo", "town", json!({"city": "Oslo"}));
    ok.request_id = Some("req-42".into());
    let result = hub.invoke(ok).await.unwrap();
    assert_eq!(result.output, json!({"echo": {"city": "Oslo"}}));
    assert_eq!((result.attempts, result.version.as_str()), (1, "1.0.0"));
    assert_eq!(
        up.last_request_id.lock().unwrap().as_deref(),
        Some("req-42")
    );

    // Bad arguments never reach the service.
    let before = up.calls.load(Ordering::SeqCst);
    for bad in [
        json!({}),
        json!({"city": 7}),
        json!({"city": "x", "extra": 1}),
        json!([1]),
    ] {
        let err = hub
            .invoke(call("echo", "town", bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ToolArgumentsInvalid, "{bad}: {err}");
    }
    assert_eq!(
        up.calls.load(Ordering::SeqCst),
        before,
        "nothing was called"
    );

    // An idempotent tool is retried up to max_attempts (2 failures stay under the breaker's 3).
    up.failures_left.store(2, Ordering::SeqCst);
    let before = up.calls.load(Ordering::SeqCst);
    let result = hub.invoke(call("flaky", "town", json!({}))).await.unwrap();
    assert_eq!(result.attempts, 3, "two 503s, then success");
    assert_eq!(up.calls.load(Ordering::SeqCst) - before, 3);

    // A non-idempotent tool is called once.
    let before = up.calls.load(Ordering::SeqCst);
    let err = hub
        .invoke(call("fail", "town", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UpstreamError {
                status: Some(500),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(up.calls.load(Ordering::SeqCst) - before, 1);

    // 4xx is the service's verdict on the call: no retry.
    let before = up.calls.load(Ordering::SeqCst);
    let err = hub
        .invoke(call("reject", "town", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UpstreamError { status: Some(422), reason, .. } if reason.contains("no such city")),
        "{err}"
    );
    assert_eq!(up.calls.load(Ordering::SeqCst) - before, 1);

    // The tool's own timeout bounds each attempt (3 × 200 ms here).
    let started = Instant::now();
    let err = hub
        .invoke(call("hang", "town", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UpstreamTimeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let err = hub
        .invoke(call("nope", "town", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ToolUnknown);
}

pub async fn the_breaker_opens_and_recovers(f: &Fixture) {
    let hub = &f.hub;
    let (url, up) = upstream().await;
    hub.register(tools_service("shaky", "1.0.0", &url))
        .await
        .unwrap();
    let svc = hub
        .get(&Namespace::default(), "shaky", "1.0.0")
        .await
        .unwrap();

    // One idempotent call: 3 failed attempts = the breaker's threshold.
    let err = hub
        .invoke(call("fail_idempotent", "shaky", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UpstreamError {
                status: Some(500),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        hub.breaker_state(&Namespace::default(), &svc),
        BreakerState::Open
    );

    let before = up.calls.load(Ordering::SeqCst);
    let err = hub
        .invoke(call("echo", "shaky", json!({"city": "Rome"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::CircuitOpen, "{err}");
    assert!(
        matches!(
            err,
            Error::CircuitOpen {
                retry_after_secs: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        up.calls.load(Ordering::SeqCst),
        before,
        "an open breaker calls nothing"
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let result = hub
        .invoke(call("echo", "shaky", json!({"city": "Rome"})))
        .await
        .unwrap();
    assert_eq!(result.attempts, 1, "the half-open probe went through");
    assert_eq!(
        hub.breaker_state(&Namespace::default(), &svc),
        BreakerState::Closed
    );
}

pub async fn health_checks_steer_calls(f: &Fixture) {
    let hub = &f.hub;
    let (url_a, up_a) = upstream().await;
    let (url_b, up_b) = upstream().await;
    hub.register(service(json!({
        "name": "pair", "version": "1.0.0",
        "tools": [{"name": "echo", "idempotent": true, "input_schema": {"type": "object"}}]
    })))
    .await
    .unwrap();
    let default = Namespace::default();
    for url in [&url_a, &url_b] {
        let instance = NewInstance {
            url: url.clone(),
            ttl_secs: 60,
        };
        hub.heartbeat(&default, "pair", "1.0.0", &instance)
            .await
            .unwrap();
    }
    let mut trackers = HashMap::new();
    hub.check_health_once(&mut trackers).await;
    let svc = hub.get(&default, "pair", "1.0.0").await.unwrap();
    assert_eq!(svc.health, HealthStatus::Healthy);

    up_a.healthy.store(false, Ordering::SeqCst);
    hub.check_health_once(&mut trackers).await;
    let svc = hub.get(&default, "pair", "1.0.0").await.unwrap();
    assert_eq!(
        svc.health,
        HealthStatus::Degraded,
        "one failed check: degraded"
    );
    hub.check_health_once(&mut trackers).await;
    let found = hub
        .discover(&Discovery {
            health: Some(HealthStatus::Degraded),
            ..Discovery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "one instance unhealthy, one healthy: degraded service"
    );
    let a = found[0].instances.iter().find(|i| i.url == url_a).unwrap();
    assert_eq!(a.health, HealthStatus::Unhealthy);

    // Calls go to the healthy instance only.
    let before_a = up_a.calls.load(Ordering::SeqCst);
    for _ in 0..4 {
        hub.invoke(call("echo", "pair", json!({}))).await.unwrap();
    }
    assert_eq!(up_a.calls.load(Ordering::SeqCst), before_a);
    assert_eq!(up_b.calls.load(Ordering::SeqCst), 4);

    up_b.healthy.store(false, Ordering::SeqCst);
    hub.check_health_once(&mut trackers).await;
    hub.check_health_once(&mut trackers).await;
    let err = hub
        .invoke(call("echo", "pair", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ServiceUnhealthy, "{err}");

    up_a.healthy.store(true, Ordering::SeqCst);
    hub.check_health_once(&mut trackers).await;
    let result = hub.invoke(call("echo", "pair", json!({}))).await.unwrap();
    assert_eq!(
        result.instance, url_a,
        "recovered after healthy_after passes"
    );
}

pub async fn ambiguous_and_unreachable_tools(f: &Fixture) {
    let hub = &f.hub;
    let (url, _up) = upstream().await;
    hub.register(tools_service("one", "1.0.0", &url))
        .await
        .unwrap();
    hub.register(tools_service("two", "1.0.0", &url))
        .await
        .unwrap();
    let err = hub
        .invoke(ToolInvocation::new("echo", json!({"city": "x"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    assert!(err.to_string().contains("one, two"), "{err}");

    // The highest version in range answers.
    hub.register(tools_service("one", "1.5.0", &url))
        .await
        .unwrap();
    hub.register(tools_service("one", "2.0.0", &url))
        .await
        .unwrap();
    let mut ranged = call("echo", "one", json!({"city": "x"}));
    ranged.version = Some("^1".into());
    assert_eq!(hub.invoke(ranged).await.unwrap().version, "1.5.0");

    // Nothing listens on a port we just freed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    hub.register(tools_service("dead", "1.0.0", &dead))
        .await
        .unwrap();
    let err = hub
        .invoke(call("echo", "dead", json!({"city": "x"})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UpstreamError { status: None, .. }),
        "{err}"
    );
}
