//! Token budgets reserved before and settled after (review finding M1), with the real model:
//! a request reserves its maximum (prompt + what it may generate), concurrent streams cannot
//! overspend, a client that leaves mid-stream is charged for what it was sent and the rest
//! goes back; a tenant's quotas are shared by all its keys.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{ADMIN, Api};

/// The prompt tokens of [`counting`]'s prompt (asked with a key without a budget).
async fn prompt_of(api: &Api) -> u32 {
    let free = api.key(&["inference"], None).await;
    let reply = complete(api, &free, 1).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let prompt = reply.body["usage"]["prompt_tokens"]
        .as_u64()
        .expect("usage");
    u32::try_from(prompt).expect("small")
}

async fn metered_key(api: &Api, limit: &str) -> String {
    let body = json!({"name": "metered", "scopes": ["inference"], "token_limit": limit});
    let created = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(body))
        .await;
    assert_eq!(
        created.body["key"]["token_limit"], limit,
        "{}",
        created.text
    );
    created.body["token"].as_str().expect("token").to_owned()
}

/// A completion of `max_tokens` as `token`.
async fn complete(api: &Api, token: &str, max_tokens: u32) -> crate::support::Reply {
    let body = counting(max_tokens, false);
    api.call(Method::POST, "/v1/completions", Some(token), Some(body))
        .await
}

fn counting(max_tokens: u32, stream: bool) -> Value {
    json!({"prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": max_tokens, "temperature": 0,
           "stream": stream, "stream_options": {"include_usage": true}})
}

#[tokio::test]
async fn a_request_reserves_its_maximum_and_gets_back_what_it_did_not_use() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let prompt = prompt_of(&api).await;
    let budget = 2 * prompt + 18;
    let token = metered_key(&api, &format!("{budget}/min")).await;
    let first = complete(&api, &token, 12).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let usage = &first.body["usage"];
    assert_eq!(usage["prompt_tokens"], prompt);
    let used = u32::try_from(usage["total_tokens"].as_u64().expect("usage")).expect("small");
    // Another prompt + 12 cannot be reserved until enough of the minute has passed…
    let refused = complete(&api, &token, 12).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::TOO_MANY_REQUESTS, "SP-AUTH-003"),
        "after {used} of {budget} tokens: {}",
        refused.text
    );
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
    // …but what the first did not use went back: the prompt and the rest fit now.
    let left = budget - used - prompt;
    if left > 0 {
        let fits = complete(&api, &token, left).await;
        assert_eq!(fits.status, StatusCode::OK, "{left} left: {}", fits.text);
    }
    // A maximum the whole budget cannot hold is a coded 400, not a wait forever.
    let never = complete(&api, &token, budget - prompt + 1).await;
    assert_eq!(
        (never.status, never.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001"),
        "{}",
        never.text
    );
}

/// The total tokens of a streamed answer's usage chunk (0 when refused).
fn streamed_usage(text: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| chunk["usage"]["total_tokens"].as_u64())
        .sum()
}

#[tokio::test]
async fn twenty_concurrent_streams_never_overspend_the_budget() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    // Room for five reservations of the prompt and 8 tokens.
    let budget = 5 * (u64::from(prompt_of(&api).await) + 8);
    let token = metered_key(&api, &format!("{budget}/h")).await;
    let calls = (0..20).map(|_| {
        api.call(
            Method::POST,
            "/v1/completions",
            Some(&token),
            Some(counting(8, true)),
        )
    });
    let replies = futures::future::join_all(calls).await;
    let mut generated = 0;
    let mut refused = 0;
    for reply in &replies {
        match reply.status {
            StatusCode::OK => generated += streamed_usage(&reply.text),
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}: {}", reply.text),
        }
    }
    assert!(refused >= 15, "at most 5 streams fit: {refused} refused");
    assert!(
        generated <= budget,
        "{generated} tokens used on a {budget}-token budget"
    );
    assert!(generated > 0);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_pays_for_what_it_was_sent() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let prompt = prompt_of(&api).await;
    // The stream reserves prompt + 30: while it holds them, prompt + 20 does not fit.
    let token = metered_key(&api, &format!("{}/h", 2 * prompt + 30)).await;
    let request = Request::post("/v1/completions")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(counting(30, true).to_string()))
        .expect("request");
    let response = api
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    // The opening chunk and two deltas, then the client is gone.
    let mut deltas = 0;
    while deltas < 3 {
        let chunk = body.next().await.expect("more").expect("bytes");
        deltas += String::from_utf8_lossy(&chunk).matches("data: ").count();
    }
    drop(body);
    // Leaving settles the reservation on the prompt and what was sent (a few tokens).
    let mut settled = false;
    for _ in 0..50 {
        let probe = complete(&api, &token, 20).await;
        if probe.status == StatusCode::OK {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(settled, "the unused reservation came back");
    // It was charged, though: prompt + 30 no longer fit.
    let all = complete(&api, &token, 30).await;
    assert_eq!(all.status, StatusCode::TOO_MANY_REQUESTS, "{}", all.text);
}

/// A key of tenant `tenant` with the `inference` scope.
async fn tenant_key(api: &Api, tenant: &str) -> String {
    let body = json!({"name": "shared", "tenant": tenant, "scopes": ["inference"]});
    let made = api
        .call(Method::POST, "/v1/keys", Some(ADMIN), Some(body))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    made.body["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_tenants_quotas_are_shared_by_all_its_keys() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let prompt = prompt_of(&api).await;
    let budget = 2 * (prompt + 4);
    let tenant = json!({"id": "quota-co", "quotas": {"token_limits": [format!("{budget}/h")]}});
    let made = api
        .call(Method::POST, "/v1/tenants", Some(ADMIN), Some(tenant))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(
        made.body["quotas"]["token_limits"][0],
        format!("{budget}/h")
    );
    let (first, second) = (
        tenant_key(&api, "quota-co").await,
        tenant_key(&api, "quota-co").await,
    );
    let mut used = 0;
    for _ in 0..2 {
        let reply = complete(&api, &first, 4).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        used += reply.body["usage"]["total_tokens"].as_u64().expect("usage");
    }
    // The other key has no budget of its own, but its tenant's is spent.
    let refused = complete(&api, &second, 4).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::TOO_MANY_REQUESTS, "SP-AUTH-003"),
        "{used} of {budget} used: {}",
        refused.text
    );
    // Quotas removed: at once, on this process.
    let cleared = api
        .call(
            Method::PUT,
            "/v1/tenants/quota-co/quotas",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(cleared.body["quotas"]["token_limits"], json!([]));
    let freed = complete(&api, &second, 4).await;
    assert_eq!(freed.status, StatusCode::OK, "{}", freed.text);

    // A request quota, shared too: two requests of either key, then 429 for both.
    let limited = json!({"rate_limit": "2/min"});
    let set = api
        .call(
            Method::PUT,
            "/v1/tenants/quota-co/quotas",
            Some(ADMIN),
            Some(limited),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    for token in [&first, &second] {
        let models = api.call(Method::GET, "/v1/models", Some(token), None).await;
        assert_eq!(models.status, StatusCode::OK, "{}", models.text);
    }
    let third = api
        .call(Method::GET, "/v1/models", Some(&first), None)
        .await;
    assert_eq!(
        (third.status, third.code()),
        (StatusCode::TOO_MANY_REQUESTS, "SP-AUTH-003")
    );
    // Bad quotas are refused with a code and change nothing.
    let bad = json!({"token_limits": ["10/min", "20/min"]});
    let refused = api
        .call(
            Method::PUT,
            "/v1/tenants/quota-co/quotas",
            Some(ADMIN),
            Some(bad),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001")
    );
    let kept = api
        .call(Method::GET, "/v1/tenants/quota-co", Some(ADMIN), None)
        .await;
    assert_eq!(kept.body["quotas"]["rate_limit"], "2/min", "{}", kept.text);
}
