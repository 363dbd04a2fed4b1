//! Registration, discovery, heartbeats and bad input, on one backend.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use sp_core::hub::{Discovery, HealthStatus, NewInstance};
use sp_core::knowledge::Namespace;
use sp_core::{Error, ErrorCode};

use crate::support::{Fixture, service};

fn ns(name: &str) -> Namespace {
    Namespace::new(name).unwrap()
}

fn query(namespace: &str) -> Discovery {
    Discovery {
        namespace: ns(namespace),
        ..Discovery::default()
    }
}

fn versions(found: &[sp_core::hub::Service]) -> Vec<String> {
    found
        .iter()
        .map(|s| format!("{}@{}", s.name, s.version))
        .collect()
}

pub async fn versions_side_by_side_and_discovery(f: &Fixture) {
    let hub = &f.hub;
    for (version, tag) in [("1.0.0", "geo"), ("1.4.2", "geo"), ("2.0.0", "beta")] {
        let (svc, created) = hub
            .register(service(json!({
                "namespace": "acme", "name": "weather", "version": version,
                "base_url": "http://127.0.0.1:9", "tags": [tag], "capabilities": ["forecast"],
                "tools": [{"name": "forecast", "input_schema": {"type": "object"}}]
            })))
            .await
            .unwrap();
        assert!(created);
        assert_eq!(svc.instances.len(), 1, "base_url is a permanent instance");
        assert_eq!(svc.instances[0].ttl_secs, None);
    }
    hub.register(service(json!({
        "namespace": "acme", "name": "maps", "version": "0.3.0", "tags": ["geo"],
        "tools": [{"name": "route", "input_schema": {"type": "object"}}]
    })))
    .await
    .unwrap();

    // A canary share is stored with its version, and replaced by a re-registration.
    let canary = |share: Option<u8>| {
        let mut new = service(json!({
            "namespace": "acme", "name": "weather", "version": "2.0.0",
            "base_url": "http://127.0.0.1:9", "tags": ["beta"], "capabilities": ["forecast"],
            "tools": [{"name": "forecast", "input_schema": {"type": "object"}}]
        }));
        new.canary_percent = share;
        new
    };
    let (marked, created) = hub.register(canary(Some(30))).await.unwrap();
    assert!(!created);
    assert_eq!(marked.canary_percent, Some(30));
    let read = hub.get(&ns("acme"), "weather", "2.0.0").await.unwrap();
    assert_eq!(read.canary_percent, Some(30));
    let (cleared, _) = hub.register(canary(None)).await.unwrap();
    assert_eq!(cleared.canary_percent, None);

    let all = hub.discover(&query("acme")).await.unwrap();
    assert_eq!(
        versions(&all),
        [
            "maps@0.3.0",
            "weather@1.0.0",
            "weather@1.4.2",
            "weather@2.0.0"
        ]
    );
    let ones = hub
        .discover(&Discovery {
            name: Some("weather".into()),
            version: Some("^1.2".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert_eq!(versions(&ones), ["weather@1.4.2"]);
    let range = hub
        .discover(&Discovery {
            version: Some(">=1.0.0, <2".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert_eq!(versions(&range), ["weather@1.0.0", "weather@1.4.2"]);
    let geo = hub
        .discover(&Discovery {
            tag: Some("geo".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert_eq!(
        versions(&geo),
        ["maps@0.3.0", "weather@1.0.0", "weather@1.4.2"]
    );
    let by_tool = hub
        .discover(&Discovery {
            tool: Some("route".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert_eq!(versions(&by_tool), ["maps@0.3.0"]);
    let by_capability = hub
        .discover(&Discovery {
            capability: Some("forecast".into()),
            tag: Some("beta".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert_eq!(versions(&by_capability), ["weather@2.0.0"]);
    assert!(
        hub.discover(&query("other")).await.unwrap().is_empty(),
        "namespaces isolate"
    );

    // Re-registering a version replaces its definition and labels, not its identity.
    let before = hub.get(&ns("acme"), "weather", "2.0.0").await.unwrap();
    let (after, created) = hub
        .register(service(json!({
            "namespace": "acme", "name": "weather", "version": "2.0.0", "tags": ["stable"],
            "tools": [{"name": "alerts", "input_schema": {"type": "object"}}]
        })))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(after.id, before.id);
    assert_eq!(after.created_at, before.created_at);
    assert!(
        after.instances.is_empty(),
        "base_url removed, its instance with it"
    );
    let beta = hub
        .discover(&Discovery {
            tag: Some("beta".into()),
            ..query("acme")
        })
        .await
        .unwrap();
    assert!(beta.is_empty(), "the old tag no longer finds it");
    let tools = hub.tools(&query("acme")).await.unwrap();
    let names: Vec<String> = tools
        .iter()
        .map(|t| format!("{}@{}:{}", t.service, t.version, t.tool.name))
        .collect();
    assert!(
        names.contains(&"weather@2.0.0:alerts".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"weather@2.0.0:forecast".to_owned()),
        "{names:?}"
    );

    hub.deregister(&ns("acme"), "weather", "1.0.0")
        .await
        .unwrap();
    let gone = hub
        .deregister(&ns("acme"), "weather", "1.0.0")
        .await
        .unwrap_err();
    assert_eq!(gone.code(), ErrorCode::NotFound);
    assert!(matches!(
        hub.get(&ns("acme"), "weather", "1.0.0").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(hub.discover(&query("acme")).await.unwrap().len(), 3);
}

/// Another hub over `hub`'s registry, with `config`.
fn beside(hub: &sp_core::hub::Hub, config: sp_core::hub::HubConfig) -> sp_core::hub::Hub {
    let transport =
        sp_data::HttpTransport::with_policy(1 << 20, sp_core::hub::EgressPolicy::with_loopback())
            .unwrap();
    sp_core::hub::Hub::new(hub.store().clone(), std::sync::Arc::new(transport), config)
}

pub async fn heartbeats_expire_by_themselves(f: &Fixture) {
    let hub = &f.hub;
    let default = Namespace::default();
    hub.register(service(json!({"name": "worker", "version": "1.0.0"})))
        .await
        .unwrap();
    let short = NewInstance {
        url: "http://127.0.0.1:7001".into(),
        ttl_secs: 1,
    };
    let long = NewInstance {
        url: "http://127.0.0.1:7002".into(),
        ttl_secs: 60,
    };
    let first = hub
        .heartbeat(&default, "worker", "1.0.0", &short)
        .await
        .unwrap();
    hub.heartbeat(&default, "worker", "1.0.0", &long)
        .await
        .unwrap();
    let renewed = hub
        .heartbeat(&default, "worker", "1.0.0", &short)
        .await
        .unwrap();
    assert_eq!(
        renewed.id, first.id,
        "the same URL renews the same instance"
    );
    let listed = hub.get(&default, "worker", "1.0.0").await.unwrap();
    assert_eq!(listed.instances.len(), 2);
    // A hub that reuses discovery answers for a minute over the same registry.
    let caching = beside(
        hub,
        sp_core::hub::HubConfig {
            resolve_cache_ms: 60_000,
            ..crate::support::test_config()
        },
    );
    let workers = Discovery {
        name: Some("worker".into()),
        ..Discovery::default()
    };
    assert_eq!(
        caching.discover(&workers).await.unwrap()[0].instances.len(),
        2
    );

    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let listed = hub.get(&default, "worker", "1.0.0").await.unwrap();
    let urls: Vec<&str> = listed.instances.iter().map(|i| i.url.as_str()).collect();
    assert_eq!(
        urls,
        ["http://127.0.0.1:7002"],
        "the 1 s instance dropped out"
    );
    let reused = caching.discover(&workers).await.unwrap();
    let urls: Vec<&str> = reused[0].instances.iter().map(|i| i.url.as_str()).collect();
    assert_eq!(
        urls,
        ["http://127.0.0.1:7002"],
        "a reused answer leaves the expired instance out too"
    );
    assert_eq!(hub.store().purge_expired().await.unwrap(), 1);

    let long_id = listed.instances[0].id;
    hub.remove_instance(&default, "worker", "1.0.0", long_id)
        .await
        .unwrap();
    let listed = hub.get(&default, "worker", "1.0.0").await.unwrap();
    assert!(listed.instances.is_empty());
    assert_eq!(
        listed.health,
        HealthStatus::Unhealthy,
        "nothing left to call"
    );

    let unknown = hub
        .heartbeat(&default, "nobody", "1.0.0", &long)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::NotFound);
    let bad = NewInstance {
        url: "ftp://x".into(),
        ttl_secs: 10,
    };
    let err = hub
        .heartbeat(&default, "worker", "1.0.0", &bad)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    let zero = NewInstance {
        url: "http://127.0.0.1:7003".into(),
        ttl_secs: 0,
    };
    let err = hub
        .heartbeat(&default, "worker", "1.0.0", &zero)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ttl_secs"), "{err}");

    // At most `hub.max_instances_per_service` live instances (review finding M8): one more is
    // refused with a code, renewing a listed one still passes.
    let capped = beside(
        hub,
        sp_core::hub::HubConfig {
            max_instances_per_service: 2,
            ..crate::support::test_config()
        },
    );
    let at = |port: u16| NewInstance {
        url: format!("http://127.0.0.1:{port}"),
        ttl_secs: 60,
    };
    for port in [7101, 7102] {
        capped
            .heartbeat(&default, "worker", "1.0.0", &at(port))
            .await
            .unwrap();
    }
    let refused = capped
        .heartbeat(&default, "worker", "1.0.0", &at(7103))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidInput);
    assert!(
        refused.to_string().contains("max_instances_per_service"),
        "{refused}"
    );
    capped
        .heartbeat(&default, "worker", "1.0.0", &at(7101))
        .await
        .unwrap();
    let listed = hub.get(&default, "worker", "1.0.0").await.unwrap();
    assert_eq!(listed.instances.len(), 2, "nothing stored by the refusal");
}

/// Review finding M8, the rest: a tenant's services together hold at most
/// `hub.max_instances_per_tenant` live instances, and a health round probes at most
/// `hub.max_probes_per_round` of them, the next ones in the round after.
pub async fn instances_are_capped_per_tenant_and_rounds_probe_a_budget(f: &Fixture) {
    let hub = &f.hub;
    for name in ["left", "right"] {
        hub.register(service(
            json!({"namespace": "acme.ops", "name": name, "version": "1.0.0"}),
        ))
        .await
        .unwrap();
    }
    hub.register(service(json!({"name": "other", "version": "1.0.0"})))
        .await
        .unwrap();
    let capped = beside(
        hub,
        sp_core::hub::HubConfig {
            max_instances_per_tenant: 3,
            max_probes_per_round: 1,
            ..crate::support::test_config()
        },
    );
    let acme = Namespace::new("acme.ops").unwrap();
    let default = Namespace::default();
    let at = |port: u16| NewInstance {
        url: format!("http://127.0.0.1:{port}"),
        ttl_secs: 60,
    };
    for (name, port) in [("left", 7201), ("left", 7202), ("right", 7203)] {
        capped
            .heartbeat(&acme, name, "1.0.0", &at(port))
            .await
            .unwrap();
    }
    let refused = capped
        .heartbeat(&acme, "right", "1.0.0", &at(7204))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidInput);
    assert!(
        refused.to_string().contains("max_instances_per_tenant"),
        "{refused}"
    );
    // Renewing a listed one passes; another tenant is not held back.
    capped
        .heartbeat(&acme, "left", "1.0.0", &at(7201))
        .await
        .unwrap();
    capped
        .heartbeat(&default, "other", "1.0.0", &at(7205))
        .await
        .unwrap();

    // Nothing listens on those ports: two failed probes make an instance unhealthy
    // (`unhealthy_after` 2). One probe a round over four instances: after four rounds each
    // was probed once, so none is unhealthy yet; after eight, all are.
    let unhealthy = || async {
        let mut count = 0;
        for (ns, name) in [(&acme, "left"), (&acme, "right"), (&default, "other")] {
            let svc = hub.get(ns, name, "1.0.0").await.unwrap();
            count += svc
                .instances
                .iter()
                .filter(|i| i.health == HealthStatus::Unhealthy)
                .count();
        }
        count
    };
    let mut trackers = std::collections::HashMap::new();
    for _ in 0..4 {
        capped.check_health_once(&mut trackers).await;
    }
    assert_eq!(unhealthy().await, 0, "one probe each in four rounds");
    for _ in 0..4 {
        capped.check_health_once(&mut trackers).await;
    }
    assert_eq!(unhealthy().await, 4, "two probes each in eight rounds");
}

pub async fn bad_registrations_store_nothing(f: &Fixture) {
    let hub = &f.hub;
    let object = json!({"type": "object"});
    let cases = [
        (json!({"name": "Bad Name", "version": "1.0.0"}), "name"),
        (json!({"name": "svc", "version": "one"}), "version"),
        (
            json!({"name": "svc", "version": "1.0.0", "base_url": "localhost:80"}),
            "base_url",
        ),
        (
            json!({"name": "svc", "version": "1.0.0", "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"name": "svc", "version": "1.0.0",
                   "tools": [{"name": "t", "input_schema": {"type": 12}}]}),
            "tools[0].input_schema",
        ),
        (
            json!({"name": "svc", "version": "1.0.0",
                   "tools": [{"name": "t", "input_schema": {"type": "string"}}]}),
            "tools[0].input_schema",
        ),
        (
            json!({"name": "svc", "version": "1.0.0",
                   "tools": [{"name": "t", "input_schema": object},
                             {"name": "t", "input_schema": object}]}),
            "tools[1].name",
        ),
        (
            json!({"name": "svc", "version": "1.0.0",
                   "tools": [{"name": "t", "input_schema": object, "timeout_ms": 0}]}),
            "tools[0].timeout_ms",
        ),
        // Credentials in a URL (review finding L8).
        (
            json!({"name": "svc", "version": "1.0.0", "base_url": "http://user:secret@10.0.0.1/"}),
            "base_url",
        ),
        // Longer than hub.max_tool_timeout_ms (30 s in these tests): review finding H6.
        (
            json!({"name": "svc", "version": "1.0.0",
                   "tools": [{"name": "t", "input_schema": object},
                             {"name": "slow", "input_schema": object, "timeout_ms": 30_001}]}),
            "tools[1].timeout_ms",
        ),
    ];
    for (body, field) in cases {
        let err = hub.register(service(body.clone())).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{body}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    assert!(
        hub.discover(&Discovery::default())
            .await
            .unwrap()
            .is_empty()
    );
    let err = hub
        .discover(&Discovery {
            version: Some("not a range".into()),
            ..Discovery::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}
