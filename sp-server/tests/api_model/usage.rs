//! Usage metering with the real model: 500 concurrent calls add up exactly in `GET /v1/usage`
//! (answered, refused and failed alike), chat usage matches what the answers said, a key sees
//! only its own usage, and Prometheus counts it by tenant.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

/// A key of tenant `tenant` (created here when new) with `body`'s settings: (id, token).
pub(crate) async fn tenant_key(api: &Api, tenant: &str, body: Value) -> (String, String) {
    let made = api
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN),
            Some(json!({"id": tenant})),
        )
        .await;
    assert!(
        made.status == StatusCode::CREATED || made.status == StatusCode::CONFLICT,
        "{}",
        made.text
    );
    let mut body = body;
    body["tenant"] = json!(tenant);
    body["name"] = json!("usage");
    let made = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    (
        made.body["key"]["id"].as_str().expect("id").to_owned(),
        made.body["token"].as_str().expect("token").to_owned(),
    )
}

pub(crate) fn row<'a>(report: &'a Value, key_id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["key_id"] == key_id)
        .unwrap_or_else(|| panic!("no row of {key_id}: {report}"))
}

#[tokio::test]
async fn five_hundred_concurrent_calls_add_up_exactly() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let scopes = json!({"scopes": ["inference"], "rate_limit": "1000/min"});
    let (embedder_id, embedder) = tenant_key(&api, "acme", scopes.clone()).await;
    let (chatter_id, chatter) = tenant_key(&api, "acme", scopes.clone()).await;

    let calls = (0..500).map(|i| {
        let body = json!({"input": format!("usage call number {i}")});
        api.call(Method::POST, "/v1/embeddings", Some(&embedder), Some(body))
    });
    let replies = futures::future::join_all(calls).await;
    let (mut tokens, mut failed) = (0, 0);
    for reply in &replies {
        match reply.status {
            StatusCode::OK => tokens += reply.body["usage"]["prompt_tokens"].as_u64().expect("n"),
            // The embedding queue is full: refused, and counted as an error.
            StatusCode::SERVICE_UNAVAILABLE => failed += 1,
            other => panic!("{other}: {}", reply.text),
        }
    }
    assert!(tokens > 0);

    let chat = json!({"max_tokens": 6, "temperature": 0,
        "messages": [{"role": "user", "content": "Count to three."}]});
    let answered = api
        .call(
            Method::POST,
            "/v1/chat/completions",
            Some(&chatter),
            Some(chat),
        )
        .await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
    // More than the window: refused by the model, counted as an error of the chatter.
    let too_long = json!({"max_tokens": 100_000,
        "messages": [{"role": "user", "content": "Hi"}]});
    let refused = api
        .call(
            Method::POST,
            "/v1/chat/completions",
            Some(&chatter),
            Some(too_long),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);

    let report = api
        .call(
            Method::GET,
            "/v1/usage?tenant=acme&group_by=key",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let embedded = row(&report.body, &embedder_id);
    assert_eq!(embedded["requests"], 500, "{}", report.text);
    assert_eq!(embedded["embedding_tokens"], tokens);
    assert_eq!(embedded["errors"], failed);
    assert_eq!(embedded["tenant"], Value::Null, "not grouped by tenant");
    let chatted = row(&report.body, &chatter_id);
    let said = &answered.body["usage"];
    assert_eq!(chatted["requests"], 2);
    assert_eq!(chatted["errors"], 1);
    assert_eq!(chatted["prompt_tokens"], said["prompt_tokens"]);
    assert_eq!(chatted["completion_tokens"], said["completion_tokens"]);
    assert_eq!(report.body["total"]["requests"], 502);

    // A key sees its own usage only; another key or tenant is absent to it.
    let own = api
        .call(
            Method::GET,
            "/v1/usage?group_by=key,model",
            Some(&chatter),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let items = own.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", own.text);
    assert_eq!(items[0]["key_id"], chatter_id.as_str());
    for other in [
        format!("/v1/usage?key_id={embedder_id}"),
        "/v1/usage?tenant=default".to_owned(),
    ] {
        let refused = api.call(Method::GET, &other, Some(&chatter), None).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::NOT_FOUND, "SP-RES-001"),
            "{other}: {}",
            refused.text
        );
    }
    let bad = api
        .call(Method::GET, "/v1/usage?group_by=hour", Some(ADMIN), None)
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );

    let metrics = api.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .text
            .lines()
            .any(|l| l.starts_with("sp_usage_requests_total{tenant=\"acme\"}")),
        "{}",
        metrics.text
    );
}

/// One request may not hold the embedding worker for long (review finding M6): more than
/// 65,536 tokens in all is refused before any is embedded, and metered as nothing.
#[tokio::test]
async fn an_embedding_request_past_the_token_cap_is_refused() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let token = api.key(&["inference"], None).await;
    let text = "many words to embed in one request ".repeat(12);
    let body = json!({"input": vec![text; 2048]});
    let refused = api
        .call(Method::POST, "/v1/embeddings", Some(&token), Some(body))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("65536 tokens"), "{}", refused.text);
}

/// The prompt cache is per tenant: a tenant's repeated prompt is served from its cache, the
/// same prompt from another tenant is prefilled in full (never served from, nor timed
/// against, the first tenant's cache), and Prometheus shows the prefix cache's figures.
#[tokio::test]
async fn the_prompt_cache_is_never_shared_across_tenants() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let scopes = json!({"scopes": ["inference"]});
    let (_, acme) = tenant_key(&api, "acme", scopes.clone()).await;
    let (_, globex) = tenant_key(&api, "globex", scopes).await;
    let body = json!({"max_tokens": 4, "temperature": 0, "messages": [
        {"role": "system", "content": "You are the archivist of the city library. Answer briefly."},
        {"role": "user", "content": "Which floor keeps the maps?"}]});
    let cached = |token: String| {
        let (api, body) = (&api, body.clone());
        async move {
            let reply = api
                .call(
                    Method::POST,
                    "/v1/chat/completions",
                    Some(&token),
                    Some(body),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.body["usage"]["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(cached(acme.clone()).await, 0);
    assert!(cached(acme.clone()).await > 0, "the tenant's own repeat");
    assert_eq!(cached(globex.clone()).await, 0, "another tenant's");
    assert!(cached(globex).await > 0);
    let metrics = api.call(Method::GET, "/metrics", None, None).await;
    for name in ["sp_prefix_cache_hits_total", "sp_prefix_cache_bytes"] {
        assert!(metrics.text.contains(name), "{name}: {}", metrics.text);
    }
}
