//! Replicas' heartbeats on every backend: renewed in place, listed while live, gone once
//! expired or left, forgotten an hour after they expired.

use sp_core::Timestamp;
use sp_core::replicas::Replica;
use sp_tests::TestDatabase;

fn at(base: Timestamp, plus_ms: i64) -> Timestamp {
    Timestamp::from_unix_micros(base.unix_micros() + plus_ms * 1000).expect("time")
}

fn replica(id: &str, now: Timestamp, ttl_ms: i64, queue_depth: u32) -> Replica {
    Replica {
        id: id.into(),
        url: format!("http://{id}:8080"),
        models: vec!["smollm2".into(), "chat".into()],
        resident: vec!["smollm2".into()],
        queue_depth,
        seen_at: now,
        expires_at: at(now, ttl_ms),
    }
}

#[tokio::test]
async fn heartbeats_renew_expire_and_leave_on_every_backend() {
    for db in [
        TestDatabase::sqlite().await,
        TestDatabase::postgres("replicas").await,
    ] {
        let store = db.database.replica_store();
        let now = Timestamp::now();
        store
            .heartbeat(&replica("a", now, 6_000, 0))
            .await
            .expect("a");
        store
            .heartbeat(&replica("b", now, 1_000, 2))
            .await
            .expect("b");
        // A renewal replaces the row: one per replica, the latest queue.
        let renewed = replica("a", at(now, 500), 6_000, 7);
        store.heartbeat(&renewed).await.expect("renew");
        let live = store.live(at(now, 600)).await.expect("live");
        assert_eq!(live.len(), 2, "{live:?}");
        assert_eq!(live[0], renewed);
        assert_eq!(live[1].queue_depth, 2);
        // b stopped heartbeating: gone once its expiry passed.
        let later = store.live(at(now, 1_500)).await.expect("live");
        assert_eq!(
            later.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        // A replica killed long ago (its heartbeat expired over an hour before another's):
        // forgotten by the next heartbeat; b's, expired moments ago, is kept until then.
        let killed = replica("killed", at(now, -7_300_000), 6_000, 0);
        store.heartbeat(&killed).await.expect("killed");
        let then = at(now, -7_295_000);
        let stored = |live: Vec<Replica>| live.iter().any(|r| r.id == "killed");
        assert!(
            stored(store.live(then).await.expect("live")),
            "still stored"
        );
        store
            .heartbeat(&replica("a", at(now, 700), 6_000, 7))
            .await
            .expect("renew");
        assert!(!stored(store.live(then).await.expect("live")), "forgotten");
        let recent = store.live(at(now, 900)).await.expect("live");
        assert!(
            recent.iter().any(|r| r.id == "b"),
            "expired moments ago: {recent:?}"
        );
        store.leave("a").await.expect("leave");
        assert!(
            store
                .live(now)
                .await
                .expect("live")
                .iter()
                .all(|r| r.id != "a")
        );
        db.cleanup().await;
    }
}
