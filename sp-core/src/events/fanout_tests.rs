use std::sync::Arc;

use serde_json::json;

use crate::ErrorCode;
use crate::events::{EventLog, EventQuery, EventsConfig, MemoryEventStore, NewEvent};

fn log(config: EventsConfig) -> EventLog {
    EventLog::new(Arc::new(MemoryEventStore::default()), config)
}

fn sized(stream: &str, bytes: usize) -> NewEvent {
    NewEvent::new(stream, "t", json!({ "pad": "x".repeat(bytes) }))
}

fn stream(name: &str) -> EventQuery {
    EventQuery {
        stream: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_stalled_follower_lags_alone_and_holds_no_more_than_its_bytes() {
    let log = log(EventsConfig {
        live_buffer_bytes: 64 * 1024,
        ..Default::default()
    });
    let mut stalled = log.follow(stream("s"), "slow").unwrap();
    let mut reading = log.follow(stream("s"), "fast").unwrap();
    for _ in 0..40 {
        log.append(sized("s", 8 * 1024)).await.unwrap();
        // The reading follower keeps up.
        assert!(reading.next().await.unwrap().is_some());
        assert!(stalled.queued_bytes() <= 64 * 1024, "bounded by its bytes");
    }
    assert_eq!(
        stalled.queued_bytes(),
        0,
        "a lagged queue is released at once"
    );
    let err = stalled.next().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(err.to_string().contains("behind"), "{err}");
    // The one that read lost nothing and goes on.
    log.append(sized("s", 10)).await.unwrap();
    let next = reading.next().await.unwrap().unwrap();
    assert_eq!(next.offset(), 41);
}

#[tokio::test]
async fn a_follower_is_queued_only_what_it_selects_and_shares_the_text() {
    let log = log(EventsConfig::default());
    let mut only_b = log.follow(stream("b"), "k").unwrap();
    let mut everything = log.subscribe();
    log.append(sized("a", 10)).await.unwrap();
    let b = log.append(sized("b", 10)).await.unwrap();
    let a_seen = everything.next().await.unwrap().unwrap();
    assert_eq!(a_seen.event().unwrap().stream, "a");
    let b_seen = everything.next().await.unwrap().unwrap();
    assert_eq!(
        only_b.queued_bytes(),
        b_seen.json().len(),
        "`a` was not queued for it"
    );
    let mine = only_b.next().await.unwrap().unwrap();
    assert_eq!(mine.event().unwrap(), b);
    assert!(
        Arc::ptr_eq(&b_seen, &mine),
        "serialized once for every queue"
    );
    assert_eq!(only_b.queued_bytes(), 0);
}

#[tokio::test]
async fn followers_are_capped_per_key_and_per_process() {
    let log = log(EventsConfig {
        max_followers_per_key: 2,
        max_followers: 3,
        ..Default::default()
    });
    let first = log.follow(stream("s"), "a").unwrap();
    let _second = log.follow(stream("s"), "a").unwrap();
    let third = log.follow(stream("s"), "a").map(|_| ()).unwrap_err();
    assert_eq!(third.code(), ErrorCode::RateLimited);
    let _other = log.follow(stream("s"), "b").unwrap();
    let full = log.follow(stream("s"), "c").map(|_| ()).unwrap_err();
    assert_eq!(full.code(), ErrorCode::RateLimited, "the process cap");
    // The platform's own feeds are not counted.
    let _platform = log.subscribe();
    drop(first);
    let again = log.follow(stream("s"), "a");
    assert!(again.is_ok(), "a closed feed frees its place");
    assert_eq!(log.followers(), 4, "a's two, b's and the platform's");
}

#[tokio::test]
async fn a_feed_ends_when_its_log_is_gone() {
    let log = log(EventsConfig::default());
    let mut live = log.follow(stream("s"), "k").unwrap();
    let waiting = tokio::spawn(async move { live.next().await.map(|e| e.is_none()) });
    tokio::task::yield_now().await;
    drop(log);
    assert!(waiting.await.unwrap().unwrap(), "None, not a hang");
}
