//! Token budgets reserved before and settled after (review finding M1), with the real model:
//! a request reserves its maximum, concurrent streams cannot overspend, a client that leaves
//! mid-stream is charged for what it was sent and the rest goes back.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{ADMIN, Api};

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
    let token = metered_key(&api, "15/min").await;
    let first = complete(&api, &token, 12).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let used = first.body["usage"]["completion_tokens"]
        .as_u64()
        .expect("usage");
    // 12 more cannot be reserved until enough of the minute has passed…
    let refused = complete(&api, &token, 12).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::TOO_MANY_REQUESTS, "SP-AUTH-003"),
        "after {used} tokens: {}",
        refused.text
    );
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
    // …but what the first did not use went back: 15 - used are there now.
    let left = 15 - used as u32;
    if left > 0 {
        let fits = complete(&api, &token, left).await;
        assert_eq!(fits.status, StatusCode::OK, "{left} left: {}", fits.text);
    }
    // A maximum the whole budget cannot hold is a coded 400, not a wait forever.
    let never = complete(&api, &token, 16).await;
    assert_eq!(
        (never.status, never.code()),
        (StatusCode::BAD_REQUEST, "SP-VAL-001"),
        "{}",
        never.text
    );
}

/// The completion tokens of a streamed answer's usage chunk (0 when refused).
fn streamed_usage(text: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| chunk["usage"]["completion_tokens"].as_u64())
        .sum()
}

#[tokio::test]
async fn twenty_concurrent_streams_never_overspend_the_budget() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let token = metered_key(&api, "40/h").await;
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
    assert!(
        refused >= 15,
        "at most 40 / 8 = 5 streams fit: {refused} refused"
    );
    assert!(
        generated <= 40,
        "{generated} tokens generated on a 40-token budget"
    );
    assert!(generated > 0);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_pays_for_what_it_was_sent() {
    let _gate = sp_tests::model_gate().await;
    let api = crate::api().await;
    let token = metered_key(&api, "30/h").await;
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
    // The whole budget was reserved; leaving settles it on what was sent (a few tokens).
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
    // It was charged, though: the full budget is no longer there.
    let all = complete(&api, &token, 30).await;
    assert_eq!(all.status, StatusCode::TOO_MANY_REQUESTS, "{}", all.text);
}
