//! Live feeds within bounds (review finding H7): long replays are read a page at a time and
//! go on live without a gap, and a key holds a capped number of feeds.

use axum::body::{Body, BodyDataStream};
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::Api;

async fn open(api: &Api, key: &str, path: &str) -> (StatusCode, BodyDataStream) {
    let request = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let response = api.router.clone().oneshot(request).await.expect("response");
    (response.status(), response.into_body().into_data_stream())
}

/// Reads SSE `data:` lines until `count` events came; their offsets.
async fn offsets(body: &mut BodyDataStream, count: usize) -> Vec<u64> {
    let mut text = String::new();
    loop {
        let seen: Vec<u64> = text
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .map(|data| {
                let event: Value = serde_json::from_str(data).expect("json");
                event["offset"].as_u64().expect("offset")
            })
            .collect();
        if seen.len() >= count {
            return seen;
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("events in time")
            .expect("open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn long_replays_are_paged_and_feeds_are_capped_per_key() {
    let api = Api::start(None, |config| config.events.max_followers_per_key = 2).await;
    let key = api.key(&["events"], None).await;
    let other = api.key(&["events"], None).await;
    for batch in 0..5 {
        let events: Vec<Value> = (0..50)
            .map(|n| json!({"stream": "long", "type": "tick", "data": {"n": batch * 50 + n}}))
            .collect();
        let stored = api
            .call(
                Method::POST,
                "/v1/events/batch",
                Some(&key),
                Some(json!({ "events": events })),
            )
            .await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    }

    // 250 events is three replay pages; then an append goes on live, once.
    let (status, mut feed) = open(&api, &key, "/v1/events/live?stream=long&from_offset=1").await;
    assert_eq!(status, StatusCode::OK);
    let event = json!({"stream": "long", "type": "tick", "data": {"n": 250}});
    let stored = api
        .call(Method::POST, "/v1/events", Some(&key), Some(event))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED);
    let seen = offsets(&mut feed, 251).await;
    assert_eq!(
        seen,
        (1..=251).collect::<Vec<u64>>(),
        "in order, no gap, no repeat"
    );

    // A second feed fits; a third of the same key is refused with a code; another key is not
    // held back by it.
    let (status, second) = open(&api, &key, "/v1/events/live?stream=long").await;
    assert_eq!(status, StatusCode::OK);
    let third = api.call(Method::GET, "/v1/events/live?stream=long", Some(&key), None);
    let refused = tokio::time::timeout(std::time::Duration::from_secs(10), third)
        .await
        .expect("answered at once, not held open");
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), "SP-AUTH-003");
    assert!(
        refused.text.contains("max_followers_per_key"),
        "{}",
        refused.text
    );
    let (status, _theirs) = open(&api, &other, "/v1/events/live?stream=long").await;
    assert_eq!(status, StatusCode::OK);

    // A closed feed frees its place.
    drop(second);
    let (status, _again) = open(&api, &key, "/v1/events/live?stream=long").await;
    assert_eq!(status, StatusCode::OK);
}

/// Review finding M10: a feed lasts `events.max_follow_secs`, then says `expired` and ends,
/// giving its place back; the client resumes from its last offset.
#[tokio::test]
async fn a_feed_past_its_lifetime_expires_and_frees_its_place() {
    let api = Api::start(None, |config| {
        config.events.max_follow_secs = 1;
        config.events.max_followers_per_key = 1;
    })
    .await;
    let key = api.key(&["events"], None).await;
    let event = json!({"stream": "brief", "type": "tick", "data": {"n": 1}});
    let stored = api
        .call(Method::POST, "/v1/events", Some(&key), Some(event))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    let started = std::time::Instant::now();
    let (status, mut feed) = open(&api, &key, "/v1/events/live?stream=brief&from_offset=1").await;
    assert_eq!(status, StatusCode::OK);
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(std::time::Duration::from_secs(10), feed.next())
        .await
        .expect("the feed ends by itself")
    {
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert!(
        text.contains("\"offset\":1"),
        "the replay came first: {text}"
    );
    assert!(text.contains("event: expired"), "{text}");
    assert!(text.contains("max_follow_secs"), "{text}");
    // Its place is free again (one feed per key here).
    let (status, _again) = open(&api, &key, "/v1/events/live?stream=brief&from_offset=2").await;
    assert_eq!(status, StatusCode::OK);
}
