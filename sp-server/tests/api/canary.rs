//! Canary routing in the hub: a second version with `canary_percent` takes that share of the
//! calls from the stable one, each affinity (a caller by default) stays on one side, the two
//! versions' outcomes are counted apart in `/metrics`, and promoting or stopping the canary is a
//! re-registration.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, Reply};

/// A loopback service whose `work` tool answers its `version`, or fails (502) when asked to.
async fn versioned_service(version: &'static str) -> String {
    let app = axum::Router::new().route(
        "/tools/work",
        axum::routing::post(move |axum::Json(args): axum::Json<Value>| async move {
            if args["fail"] == true {
                return Err(StatusCode::BAD_GATEWAY);
            }
            Ok(axum::Json(json!({ "served_by": version })))
        }),
    );
    sp_tests::serve_loopback(app).await
}

fn definition(version: &str, url: &str, canary_percent: Option<u8>) -> Value {
    let mut service = json!({
        "name": "calc", "version": version, "base_url": url,
        "tools": [{"name": "work", "input_schema": {"type": "object"}}],
    });
    if let Some(share) = canary_percent {
        service["canary_percent"] = json!(share);
    }
    service
}

async fn invoke(api: &Api, key: &str, body: Value) -> Reply {
    api.call(Method::POST, "/v1/tools/work/invoke", Some(key), Some(body))
        .await
}

/// Which version answered each of `affinities`' calls.
async fn versions(api: &Api, key: &str, affinities: impl Iterator<Item = String>) -> Vec<String> {
    let mut served = Vec::new();
    for affinity in affinities {
        let reply = invoke(api, key, json!({"affinity": affinity})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        served.push(reply.body["version"].as_str().expect("version").to_owned());
    }
    served
}

#[tokio::test]
async fn a_canary_takes_its_share_sticky_per_affinity_and_is_measured_apart() {
    let api = Api::start(None, |config| {
        // Every call resolves afresh: a re-registration applies at once.
        config.hub.resolve_cache_ms = 0;
        config.hub.max_attempts = 1;
    })
    .await;
    let key = api.key(&["registry"], None).await;
    let (stable, canary) = (
        versioned_service("1.0.0").await,
        versioned_service("2.0.0").await,
    );
    for service in [
        definition("1.0.0", &stable, None),
        definition("2.0.0", &canary, Some(25)),
    ] {
        let created = api
            .call(Method::POST, "/v1/services", Some(&key), Some(service))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    }
    let read = api
        .call(
            Method::GET,
            "/v1/services/calc/versions/2.0.0",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(read.body["canary_percent"], 25, "{}", read.text);

    // 200 callers: about a quarter on the canary, the rest on the stable version.
    let served = versions(&api, &key, (0..200).map(|n| format!("caller-{n}"))).await;
    let on_canary = served.iter().filter(|v| *v == "2.0.0").count();
    assert!(
        (30..=70).contains(&on_canary),
        "{on_canary} of 200 on the canary"
    );
    assert_eq!(
        served.iter().filter(|v| *v == "1.0.0").count(),
        200 - on_canary
    );
    // One caller, one side, call after call.
    for n in [3, 4, 5] {
        let again = versions(&api, &key, std::iter::repeat_n(format!("caller-{n}"), 5)).await;
        assert!(
            again.iter().all(|v| *v == served[n]),
            "{again:?} vs {}",
            served[n]
        );
    }
    // Without an affinity in the body the caller's key is the affinity: one side per key.
    let mut by_key = Vec::new();
    for _ in 0..4 {
        let reply = invoke(&api, &key, json!({})).await;
        by_key.push(reply.body["version"].as_str().expect("version").to_owned());
    }
    by_key.dedup();
    assert_eq!(by_key.len(), 1, "{by_key:?}");

    // Failures are counted per version: the canary's error rate beside the stable one's.
    let canary_caller = served
        .iter()
        .position(|v| v == "2.0.0")
        .map(|n| format!("caller-{n}"))
        .expect("a canary caller");
    let failed = invoke(
        &api,
        &key,
        json!({"affinity": canary_caller, "arguments": {"fail": true}}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.text);
    let metrics = api.call(Method::GET, "/metrics", None, None).await.text;
    let count = |version: &str, outcome: &str| {
        let series = format!(
            "sp_hub_calls_total{{service=\"calc\",version=\"{version}\",outcome=\"{outcome}\"}} "
        );
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    assert_eq!(count("2.0.0", "error"), 1);
    assert_eq!(count("1.0.0", "error"), 0);
    assert!(count("2.0.0", "ok") >= on_canary as u64);

    // Promoted: registered again without a share, the canary takes every call.
    let promoted = api
        .call(
            Method::POST,
            "/v1/services",
            Some(&key),
            Some(definition("2.0.0", &canary, None)),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
    let after = versions(&api, &key, (0..20).map(|n| format!("caller-{n}"))).await;
    assert!(after.iter().all(|v| v == "2.0.0"), "{after:?}");
    // Rolled back to 0 %: every call on the stable version again.
    api.call(
        Method::POST,
        "/v1/services",
        Some(&key),
        Some(definition("2.0.0", &canary, Some(0))),
    )
    .await;
    let rolled_back = versions(&api, &key, (0..20).map(|n| format!("caller-{n}"))).await;
    assert!(rolled_back.iter().all(|v| v == "1.0.0"), "{rolled_back:?}");

    // A share past 100 is refused.
    let refused = api
        .call(
            Method::POST,
            "/v1/services",
            Some(&key),
            Some(definition("3.0.0", &canary, Some(101))),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "SP-VAL-001");
}
